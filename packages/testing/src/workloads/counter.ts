import { Counter } from '@atoll/store';
import type { NetworkSnapshot } from '../checkers/snapshot.js';
import { result, type CheckResult, type Violation } from '../checkers/types.js';
import { text, type History } from '../history/history.js';
import type { Network, SimPeer } from '../network/network.js';
import type { Random } from '../random.js';
import type { Workload } from './workload.js';

/** Options of {@link counterWorkload}. */
export interface CounterOptions {
  /** Number of counters. Default 4. */
  readonly counters?: number;
}

const COUNTERS = 'counters';

/**
 * **A shared counter.** Counters (`counters/c<i>`, a `group`, a `value` Counter CRDT); each
 * operation increments one to three of them by 1–5 in one transaction. Concurrent increments
 * add up.
 *
 * Final check `counter-sum`: each counter's final value is the sum of the increments of the
 * transactions that committed — at least every acknowledged one, at most those plus the ones
 * whose peer crashed before answering (they may or may not have committed).
 */
export function counterWorkload(options: CounterOptions = {}): Workload {
  const count = options.counters ?? 4;
  const ids = Array.from({ length: count }, (_, i) => `c${i}`);
  /** Increments per transaction stamp, recorded when the transaction runs. */
  const increments = new Map<string, Map<string, number>>();
  return {
    name: 'counter',
    collections: [COUNTERS],
    async setup(net: Network, peer: SimPeer) {
      await net.transact(peer, async (tx) => {
        for (const [i, id] of ids.entries()) await tx.insert(COUNTERS, { _id: id, group: i % 2 === 0 ? 'even' : 'odd', value: new Counter(0) });
      }, { hint: 'create counters' });
    },
    operate(net: Network, peer: SimPeer, rng: Random) {
      const chosen = rng.sample(ids, rng.int(1, 3)).map((id) => ({ id, by: rng.int(1, 5) }));
      return net.transact(peer, async (tx) => {
        const done = new Map<string, number>();
        for (const { id, by } of chosen) {
          if (!(await tx.get(COUNTERS, id))) continue;
          await tx.update(COUNTERS, id, (d) => void (d['value'] = (d['value'] as number) + by));
          done.set(id, by);
        }
        increments.set(tx.token, done);
        return done.size;
      }, { hint: 'increment' });
    },
    subscriptionChoices: [
      { label: 'all', subscriptions: [{ id: 'all', collection: '*' }], full: true },
      { label: 'counters', subscriptions: [{ id: 'counters', collection: COUNTERS }], full: true },
      { label: 'counters/even', subscriptions: [{ id: 'even', collection: COUNTERS, where: { group: 'even' } }], full: false },
    ],
    invariants: [],
    checkFinal(snap: NetworkSnapshot, history: History): CheckResult[] {
      const acked = new Set(history.ofType('ack').filter((a) => a.outcome === 'committed').map((a) => a.token));
      const answered = new Set(history.ofType('ack').map((a) => a.token));
      const violations: Violation[] = [];
      for (const id of ids) {
        let low = 0;
        let high = 0;
        for (const [token, done] of increments) {
          const by = done.get(id) ?? 0;
          if (acked.has(token)) low += by;
          if (acked.has(token) || !answered.has(token)) high += by;
        }
        const key = `${COUNTERS}/${id}`;
        const value = snap.final.get(key as never)?.value?.['value'];
        if (typeof value !== 'number' || value < low || value > high) {
          violations.push({ checker: 'counter-sum', message: `${key} ends at ${text(value)}, but committed increments sum to ${low === high ? low : `between ${low} and ${high}`}` });
        }
      }
      return [result('counter-sum', ids.length, violations)];
    },
  };
}
