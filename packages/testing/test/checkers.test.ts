import { afterEach, describe, expect, it } from 'vitest';
import type { Changeset } from '@atoll/store';
import {
  bankWorkload,
  checkConvergence,
  checkInvariants,
  checkNoLostCommits,
  checkReadAtomicity,
  counterWorkload,
  createNetwork,
  History,
  type HistoryRecord,
  snapshot,
  type Network,
  type NetworkSnapshot,
  type SimPeer,
} from '../src/index.js';
import { Random } from '../src/random.js';

const all = [{ id: 'all', collection: '*' }];
const open: Network[] = [];
afterEach(async () => {
  for (const net of open.splice(0)) await net.close();
});

async function network(seed: number, collections: string[]): Promise<Network> {
  const net = createNetwork({ seed, collections, interleave: 0 });
  open.push(net);
  return net;
}

/** Records the changesets a peer commits locally, to hand parts of them to another peer by hand. */
function capture(peer: SimPeer): Changeset[] {
  const out: Changeset[] = [];
  peer.store.onCommit((e) => {
    if (e.source === 'local' && e.changeset) out.push(e.changeset);
  });
  return out;
}

/** Gives `peer` only the parts of `cs` for `keys`: a torn delivery, planted. */
async function applyOnly(peer: SimPeer, cs: Changeset, keys: string[]): Promise<void> {
  await peer.store.applyChangeset({ ...cs, parts: cs.parts.filter((p) => keys.includes(p.key)) });
}

describe('convergence', () => {
  it('passes when peers agree, and catches a peer that silently stopped receiving what it subscribes to', async () => {
    const net = await network(1, ['notes']);
    const a = await net.addPeer('a', { subscriptions: all });
    const b = await net.addPeer('b', { subscriptions: all });
    net.link(b, a);
    await net.transact(a, (tx) => tx.insert('notes', { _id: 'n1', text: 'one' }));
    await net.settle();
    expect(checkConvergence(await snapshot(net))).toMatchObject({ ok: true, checked: 1 });
    // Planted: b's sync peer unsubscribes behind the network's back — a replication bug as the
    // checker sees it: b still subscribes to everything, but receives nothing more.
    b.sync.setSubscriptions([]);
    await net.settle();
    await net.transact(a, (tx) => tx.update('notes', 'n1', (d) => void (d['text'] = 'two')));
    await net.settle();
    const result = checkConvergence(await snapshot(net));
    expect(result.ok).toBe(false);
    expect(result.violations[0]?.message).toMatch(/^notes\/n1 differs between peers that must hold it and are linked: a hold \{.*"text":"two".*\}; b hold \{.*"text":"one"/);
  });

  it('compares only peers that must hold a document and are linked through such peers', async () => {
    const net = await network(2, ['notes']);
    const a = await net.addPeer('a', { subscriptions: all });
    await net.addPeer('narrow', { subscriptions: [{ id: 'other', collection: 'other' }] });
    const c = await net.addPeer('c', { subscriptions: all });
    net.link('narrow', a);
    net.link(c, 'narrow'); // c reaches a only through a peer that does not hold notes
    await net.transact(a, (tx) => tx.insert('notes', { _id: 'n1' }));
    await net.settle();
    expect(await c.store.get('notes', 'n1')).toBeUndefined();
    expect(checkConvergence(await snapshot(net)).ok).toBe(true);
  });

  it('catches a planted difference in a snapshot: value, history, or deletion', async () => {
    const net = await network(3, ['notes']);
    const a = await net.addPeer('a', { subscriptions: all });
    const b = await net.addPeer('b', { subscriptions: all });
    net.link(b, a);
    await net.transact(a, (tx) => tx.insert('notes', { _id: 'n1', text: 'x' }));
    await net.settle();
    const snap = await snapshot(net);
    const edit = (f: (doc: NetworkSnapshot['peers'][number]['docs'] extends ReadonlyMap<string, infer D> ? D : never) => object): NetworkSnapshot => ({
      ...snap,
      peers: snap.peers.map((p) => (p.name === 'b' ? { ...p, docs: new Map([...p.docs].map(([k, d]) => [k, { ...d, ...f(d) }])) } : p)),
    });
    expect(checkConvergence(snap).ok).toBe(true);
    expect(checkConvergence(edit(() => ({ value: { _id: 'n1', text: 'y' } }))).ok).toBe(false);
    expect(checkConvergence(edit(() => ({ heads: ['0000'] }))).ok).toBe(false);
    expect(checkConvergence(edit(() => ({ value: null }))).ok).toBe(false);
  });
});

describe('no lost commits', () => {
  it('passes when every acknowledged transaction reached its subscribers, and catches one that did not', async () => {
    const net = await network(4, ['notes']);
    const a = await net.addPeer('a', { subscriptions: all });
    const b = await net.addPeer('b', { subscriptions: all });
    net.link(b, a);
    await net.transact(a, (tx) => tx.insert('notes', { _id: 'n1' }));
    await net.settle();
    expect(checkNoLostCommits(await snapshot(net), net.history)).toMatchObject({ ok: true, checked: 2 });
    b.sync.setSubscriptions([]); // planted, as above
    await net.settle();
    const { txId } = await net.transact(a, (tx) => tx.insert('notes', { _id: 'n2' }));
    await net.settle();
    const result = checkNoLostCommits(await snapshot(net), net.history);
    expect(result.violations).toHaveLength(1);
    expect(result.violations[0]).toMatchObject({ peer: 'b', txId, key: 'notes/n2' });
    expect(result.violations[0]?.message).toMatch(/wrote notes\/n2, which b subscribes to, but b never received that part \(path a→b\)/);
  });

  it('catches an acknowledged commit its origin no longer holds', async () => {
    const net = await network(5, ['notes']);
    const a = await net.addPeer('a', { subscriptions: all });
    const { txId } = await net.transact(a, (tx) => tx.insert('notes', { _id: 'n1' }));
    const snap = await snapshot(net);
    expect(checkNoLostCommits(snap, net.history).ok).toBe(true);
    const lost: NetworkSnapshot = { ...snap, peers: snap.peers.map((p) => ({ ...p, parts: new Map([...p.parts].filter(([id]) => id !== txId)) })) };
    const result = checkNoLostCommits(lost, net.history);
    expect(result.violations[0]?.message).toMatch(new RegExp(`${txId} \\(a#1\\) was acknowledged at #\\d+ but its origin a no longer holds \\[notes/n1\\]`));
  });

  it('does not expect a write to cross a peer that does not hold the document', async () => {
    const net = await network(6, ['notes']);
    const a = await net.addPeer('a', { subscriptions: all });
    await net.addPeer('narrow', { subscriptions: [] });
    await net.addPeer('c', { subscriptions: all });
    net.link('narrow', a);
    net.link('c', 'narrow');
    await net.transact(a, (tx) => tx.insert('notes', { _id: 'n1' }));
    await net.settle();
    expect(checkNoLostCommits(await snapshot(net), net.history).ok).toBe(true);
  });
});

describe('read atomicity', () => {
  it('no tear when transactions arrive whole', async () => {
    const net = await network(7, ['x', 'y']);
    const a = await net.addPeer('a', { subscriptions: all });
    const b = await net.addPeer('b', { subscriptions: all });
    net.link(b, a);
    for (let i = 0; i < 5; i++) {
      await net.transact(a, async (tx) => {
        await tx.upsert('x', { _id: 'doc', n: i });
        await tx.upsert('y', { _id: 'doc', n: i });
      });
    }
    await net.settle();
    const result = checkReadAtomicity(net.history);
    expect(result.ok).toBe(true);
    expect(result.checked).toBeGreaterThan(5);
  });

  it('catches a view that shows X from T while Y, which T also wrote and the observer subscribes to, is absent', async () => {
    const net = await network(8, ['x', 'y']);
    const a = await net.addPeer('a', { subscriptions: all });
    const c = await net.addPeer('c', { subscriptions: all }); // not linked: we deliver by hand
    const out = capture(a);
    const { txId } = await net.transact(a, async (tx) => {
      await tx.insert('x', { _id: 'doc' });
      await tx.insert('y', { _id: 'doc' });
    });
    await applyOnly(c, out[0] as Changeset, ['x/doc']);
    const result = checkReadAtomicity(net.history);
    expect(result.tears).toMatchObject([{ peer: 'c', txId, token: 'a#1', shown: 'x/doc', missing: 'y/doc', observed: 'absent' }]);
    expect(result.violations[0]?.message).toMatch(/c showed x\/doc from a:1 \(a#1\) but y\/doc, which the same transaction wrote and c subscribes to, absent/);
  });

  it('runs again on a history saved as JSON', async () => {
    const net = await network(14, ['x', 'y']);
    const a = await net.addPeer('a', { subscriptions: all });
    const c = await net.addPeer('c', { subscriptions: all });
    const out = capture(a);
    await net.transact(a, async (tx) => {
      await tx.insert('x', { _id: 'doc' });
      await tx.insert('y', { _id: 'doc' });
    });
    await applyOnly(c, out[0] as Changeset, ['x/doc']);
    const saved = JSON.parse(JSON.stringify(net.history)) as HistoryRecord[];
    const again = History.from(saved);
    expect(again.records).toEqual(net.history.records);
    expect(checkReadAtomicity(again).tears).toEqual(checkReadAtomicity(net.history).tears);
    expect(again.tail(2)).toMatch(/#\d+ @0\.0ms commit c\/1 remote pos=1 a:1 \[x\/doc\] of \[x\/doc, y\/doc\]/);
  });

  it('catches Y shown at a version older than T (in T\'s causal past), and ignores Y outside the subscription', async () => {
    const net = await network(9, ['x', 'y']);
    const a = await net.addPeer('a', { subscriptions: all });
    const c = await net.addPeer('c', { subscriptions: all });
    const narrow = await net.addPeer('narrow', { subscriptions: [{ id: 'x', collection: 'x' }] });
    const out = capture(a);
    for (const n of [1, 2]) {
      await net.transact(a, async (tx) => {
        await tx.upsert('x', { _id: 'doc', n });
        await tx.upsert('y', { _id: 'doc', n });
      });
    }
    const [t1, t2] = out as [Changeset, Changeset];
    await c.store.applyChangeset(t1);
    await applyOnly(c, t2, ['x/doc']);
    await narrow.store.applyChangeset(t1);
    await applyOnly(narrow, t2, ['x/doc']); // narrow does not subscribe to y: not a tear for it
    const result = checkReadAtomicity(net.history);
    expect(result.tears).toMatchObject([{ peer: 'c', txId: t2.id, shown: 'x/doc', missing: 'y/doc', observed: 'a#1' }]);
  });

  it('a concurrent write that won over T on Y is not a tear (it is not older than T)', async () => {
    const net = await network(10, ['x', 'y']);
    const a = await net.addPeer('a', { subscriptions: all });
    const b = await net.addPeer('b', { subscriptions: all });
    const c = await net.addPeer('c', { subscriptions: all });
    const fromA = capture(a);
    const fromB = capture(b);
    await net.transact(a, async (tx) => {
      await tx.insert('x', { _id: 'doc' });
      await tx.insert('y', { _id: 'doc' });
    });
    await b.store.applyChangeset(fromA[0] as Changeset);
    await net.transact(b, (tx) => tx.update('y', 'doc', (d) => void (d['by'] = 'b')));
    await net.transact(a, async (tx) => {
      await tx.update('x', 'doc', (d) => void (d['n'] = 2));
      await tx.update('y', 'doc', (d) => void (d['n'] = 2));
    });
    // c: the first transaction, b's concurrent write to y, and only x of a's second.
    await c.store.applyChangeset(fromA[0] as Changeset);
    await c.store.applyChangeset(fromB[0] as Changeset);
    await applyOnly(c, fromA[1] as Changeset, ['x/doc']);
    const shown = await c.store.get('y', 'doc');
    const tears = checkReadAtomicity(net.history).tears;
    // y shows b's stamp, concurrent with a's second transaction: no proof of a tear.
    expect(shown?.['_tx']).toBe('b#1');
    expect(tears).toEqual([]);
  });

  it('catches a delete that did not show: T deleted Y and wrote X, the view shows X from T and Y alive from before', async () => {
    const net = await network(11, ['x', 'y']);
    const a = await net.addPeer('a', { subscriptions: all });
    const c = await net.addPeer('c', { subscriptions: all });
    const out = capture(a);
    await net.transact(a, async (tx) => {
      await tx.insert('x', { _id: 'doc' });
      await tx.insert('y', { _id: 'doc' });
    });
    await net.transact(a, async (tx) => {
      await tx.update('x', 'doc', (d) => void (d['n'] = 2));
      await tx.delete('y', 'doc');
    });
    await c.store.applyChangeset(out[0] as Changeset);
    await applyOnly(c, out[1] as Changeset, ['x/doc']);
    expect(checkReadAtomicity(net.history).tears).toMatchObject([{ peer: 'c', shown: 'x/doc', missing: 'y/doc', observed: 'a#1' }]);
  });
});

describe('workload checks', () => {
  it('bank-total catches a torn transfer on a peer that holds every account', async () => {
    const net = await network(12, ['accounts']);
    const bank = bankWorkload({ accounts: 2 });
    const a = await net.addPeer('a', { subscriptions: all });
    const c = await net.addPeer('c', { subscriptions: all });
    const out = capture(a);
    await bank.setup(net, a, new Random(1));
    await net.transact(a, async (tx) => {
      await tx.update('accounts', 'acct-0', (d) => void (d['balance'] = (d['balance'] as number) - 10));
      await tx.update('accounts', 'acct-1', (d) => void (d['balance'] = (d['balance'] as number) + 10));
    });
    expect(checkInvariants(net.history, bank.invariants)[0]?.ok).toBe(true);
    await c.store.applyChangeset(out[0] as Changeset);
    await applyOnly(c, out[1] as Changeset, ['accounts/acct-0']);
    const [total] = checkInvariants(net.history, bank.invariants);
    expect(total?.violations[0]?.message).toMatch(/^c after commit 2: total balance 190, expected 200/);
  });

  it('counter-sum catches an increment no committed transaction made', async () => {
    const net = await network(13, ['counters']);
    const counters = counterWorkload({ counters: 2 });
    const a = await net.addPeer('a', { subscriptions: all });
    await counters.setup(net, a, new Random(1));
    const rng = new Random(2);
    for (let i = 0; i < 3; i++) await counters.operate(net, a, rng);
    expect(counters.checkFinal?.(await snapshot(net), net.history)[0]?.ok).toBe(true);
    await a.store.update('counters', 'c0', (d) => void (d['value'] = (d['value'] as number) + 1000)); // not through the workload
    const [sum] = counters.checkFinal?.(await snapshot(net), net.history) ?? [];
    expect(sum?.violations[0]?.message).toMatch(/^counters\/c0 ends at \d+, but committed increments sum to \d+$/);
  });
});
