import { Counter } from '@atoll/store';
import type { Network, SimPeer } from '../network/network.js';
import type { Random } from '../random.js';
import type { Workload } from './workload.js';

/** Options of {@link todoWorkload}. */
export interface TodoOptions {
  /** Lists (`lists/<id>`). Default `['home', 'work']`. */
  readonly lists?: readonly string[];
}

const LISTS = 'lists';
const TODOS = 'todos';

/**
 * **A todo list.** Lists (`lists/<id>`, with an `items` Counter) and todos (`todos/<id>`, with a
 * `list`, a `title` and `done`). Operations, in a seeded mix: add a todo (and count it on its
 * list — two collections in one transaction), toggle one, rename one, complete every open todo
 * of a list, clear a list's completed todos (deletes). Concurrent toggles and renames conflict
 * on purpose: convergence must still hold.
 *
 * Subscriptions include a filter on a field that changes (`done: false`): documents enter and
 * leave it as they are toggled, which exercises back-fill.
 */
export function todoWorkload(options: TodoOptions = {}): Workload {
  const lists = options.lists ?? ['home', 'work'];
  return {
    name: 'todo',
    collections: [LISTS, TODOS],
    async setup(net: Network, peer: SimPeer) {
      await net.transact(peer, async (tx) => {
        for (const list of lists) {
          await tx.insert(LISTS, { _id: list, title: list, items: new Counter(1) });
          await tx.insert(TODOS, { _id: `${list}-first`, list, title: `first thing at ${list}`, done: false });
        }
      }, { hint: 'create lists' });
    },
    operate(net: Network, peer: SimPeer, rng: Random) {
      const list = rng.pick(lists);
      const roll = rng.next();
      const pick = rng.next();
      if (roll < 0.25) {
        return net.transact(peer, async (tx) => {
          if (!(await tx.get(LISTS, list))) return false;
          await tx.insert(TODOS, { _id: `t-${tx.token.replace('#', '-')}`, list, title: `todo ${tx.token}`, done: false });
          await tx.update(LISTS, list, (d) => void (d['items'] = (d['items'] as number) + 1));
          return true;
        }, { hint: 'add todo' });
      }
      if (roll < 0.6) {
        return net.transact(peer, async (tx) => {
          const todos = await tx.find({ collection: TODOS, where: { list } });
          const todo = todos[Math.floor(pick * todos.length)];
          if (!todo) return false;
          await tx.update(TODOS, todo._id, (d) => void (d['done'] = d['done'] !== true));
          return true;
        }, { hint: 'toggle todo' });
      }
      if (roll < 0.78) {
        return net.transact(peer, async (tx) => {
          const todos = await tx.find({ collection: TODOS, where: { list } });
          const todo = todos[Math.floor(pick * todos.length)];
          if (!todo) return false;
          await tx.update(TODOS, todo._id, (d) => void (d['title'] = `renamed by ${tx.token}`));
          return true;
        }, { hint: 'rename todo' });
      }
      if (roll < 0.9) {
        return net.transact(peer, async (tx) => {
          const open = await tx.find({ collection: TODOS, where: { list, done: false } });
          for (const todo of open) await tx.update(TODOS, todo._id, (d) => void (d['done'] = true));
          return open.length;
        }, { hint: 'complete all' });
      }
      return net.transact(peer, async (tx) => {
        const done = await tx.find({ collection: TODOS, where: { list, done: true } });
        for (const todo of done) await tx.delete(TODOS, todo._id);
        if (done.length > 0 && (await tx.get(LISTS, list))) await tx.update(LISTS, list, (d) => void (d['items'] = (d['items'] as number) - done.length));
        return done.length;
      }, { hint: 'clear completed' });
    },
    subscriptionChoices: [
      { label: 'all', subscriptions: [{ id: 'all', collection: '*' }], full: true },
      { label: 'lists+todos', subscriptions: [{ id: 'lists', collection: LISTS }, { id: 'todos', collection: TODOS }], full: true },
      { label: `list ${lists[0] ?? ''}`, subscriptions: [{ id: 'list', collection: LISTS, where: { _id: lists[0] ?? '' } }, { id: 'todos', collection: TODOS, where: { list: lists[0] ?? '' } }], full: false },
      { label: 'open todos', subscriptions: [{ id: 'lists', collection: LISTS }, { id: 'open', collection: TODOS, where: { done: false } }], full: false },
      { label: 'todos only', subscriptions: [{ id: 'todos', collection: TODOS }], full: false },
    ],
    invariants: [],
  };
}
