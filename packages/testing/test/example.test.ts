import { expect, it } from 'vitest';
import { checkConvergence, checkNoLostCommits, checkReadAtomicity, createNetwork, snapshot } from '../src/index.js';

// The example of docs/testing.md §1, as written there.
it('the guide’s example runs and passes its checks', async () => {
  const net = createNetwork({ seed: 42, collections: ['todos'] }); // every random choice comes from the seed
  const relay = await net.addPeer('relay', { subscriptions: [{ id: 'all', collection: '*' }], role: 'relay' });
  const a = await net.addPeer('a', { subscriptions: [{ id: 'todos', collection: 'todos' }] });
  const b = await net.addPeer('b', { subscriptions: [{ id: 'todos', collection: 'todos' }] });
  net.link(a, relay, { latency: [5, 40] }); // a dials the relay; each message takes 5–40 virtual ms
  net.link(b, relay);

  await net.transact(a, (tx) => tx.insert('todos', { _id: 't1', title: 'milk', done: false }));
  await net.run(100); // 100 ms of virtual time: t1 reaches b
  net.partition([['a'], ['relay', 'b']]); // a is cut off…
  await net.transact(b, (tx) => tx.update('todos', 't1', (d) => { d['done'] = true; }));
  await net.transact(a, (tx) => tx.update('todos', 't1', (d) => { d['title'] = 'oat milk'; })); // concurrently
  net.crash(relay); // …and the relay dies without closing anything
  await net.restart(relay); // reopened from its storage
  net.heal();
  await net.settle(); // runs until nothing is in flight and every peer has caught up

  const snap = await snapshot(net);
  expect(await b.store.get('todos', 't1')).toMatchObject({ title: 'oat milk', done: true });
  const results = [checkConvergence(snap), checkNoLostCommits(snap, net.history), checkReadAtomicity(net.history)];
  await net.close();
  expect(results.map((r) => `${r.checker} ${r.ok}`)).toEqual(['convergence true', 'no-lost-commits true', 'read-atomicity true']);
});
