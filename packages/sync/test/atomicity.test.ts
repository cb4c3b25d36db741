import { afterEach, describe, expect, it } from 'vitest';
import type { Subscription } from '@atoll/protocol';
import { MemoryStorageAdapter, type Doc } from '@atoll/store';
import type { TornTransaction } from '../src/index.js';
import { closeAll, link, testPeer, until, type TestPeer } from './helpers.js';

afterEach(closeAll);

const onlyA: Subscription = { id: 'a', collection: 'accounts', where: { _id: 'A' } };
const both: Subscription = { id: 'ab', collection: 'accounts' };

/** Peer 1 opens accounts A and B (100 each) in one transaction, then moves 30 from A to B in another. */
async function writeTransactions(peer1: TestPeer): Promise<void> {
  await peer1.store.transaction(async (tx) => {
    await tx.insert('accounts', { _id: 'A', balance: 100 });
    await tx.insert('accounts', { _id: 'B', balance: 100 });
  }, { hint: 'open' });
  await peer1.store.transaction(async (tx) => {
    await tx.update('accounts', 'A', (d) => void (d['balance'] = (d['balance'] as number) - 30));
    await tx.update('accounts', 'B', (d) => void (d['balance'] = (d['balance'] as number) + 30));
  }, { hint: 'transfer' });
}

/** Records every total of A + B a peer's live query shows (NaN when one of them is absent). */
function watchTotals(peer: TestPeer): number[] {
  const totals: number[] = [];
  peer.store.observe({ collection: 'accounts' }, (docs: readonly Doc[]) => {
    const a = docs.find((d) => d._id === 'A');
    const b = docs.find((d) => d._id === 'B');
    if (a || b) totals.push(((a?.['balance'] as number) ?? Number.NaN) + ((b?.['balance'] as number) ?? Number.NaN));
  });
  return totals;
}

describe("Ditto's scenario 1: a subscription that widens", () => {
  it('peer 2 subscribed to A receives only A; widening to B back-fills B’s part later', async () => {
    const peer1 = await testPeer([]);
    const peer2 = await testPeer([onlyA]);
    link(peer2, peer1);
    await writeTransactions(peer1);
    await until(async () => (await peer2.store.get('accounts', 'A'))?.['balance'] === 70, 'A at peer 2');
    expect(await peer2.store.get('accounts', 'B')).toBeUndefined();
    const [entry] = await peer2.store.readLog(0);
    expect(entry?.manifest).toEqual(['accounts/A', 'accounts/B']);
    expect(entry?.parts.map((p) => p.key)).toEqual(['accounts/A']);
    // Within its subscription, peer 2 holds everything: no tear.
    expect(await peer2.sync.torn()).toEqual([]);
    peer2.sync.setSubscriptions([both]);
    await until(async () => (await peer2.store.get('accounts', 'B'))?.['balance'] === 130, 'B back-filled');
    expect(await peer2.sync.torn()).toEqual([]);
  });
});

describe("Ditto's scenario 1 in atomic mode", () => {
  it('the back-fill of a widened subscription appears in one commit: B never shows at an old version next to A', async () => {
    const peer1 = await testPeer([]);
    const peer2 = await testPeer([onlyA], { atomicity: 'atomic' });
    link(peer2, peer1);
    await writeTransactions(peer1);
    await until(async () => (await peer2.store.get('accounts', 'A'))?.['balance'] === 70, 'A at peer 2');
    const totals = watchTotals(peer2);
    peer2.sync.setSubscriptions([both]);
    await until(async () => (await peer2.store.get('accounts', 'B'))?.['balance'] === 130, 'B back-filled');
    // Before the widening only A shows (NaN: B is outside the subscription); from the first
    // emission that has B, the total is whole.
    const withB = totals.filter((t) => !Number.isNaN(t));
    expect(withB.length).toBeGreaterThan(0);
    expect(withB.every((t) => t === 200)).toBe(true);
    expect(await peer2.sync.pending()).toEqual([]);
  });

  it('eventual mode shows the intermediate state during the same back-fill (so the test above can fail)', async () => {
    const peer1 = await testPeer([]);
    const peer2 = await testPeer([onlyA]);
    link(peer2, peer1);
    await writeTransactions(peer1);
    await until(async () => (await peer2.store.get('accounts', 'A'))?.['balance'] === 70, 'A at peer 2');
    const totals = watchTotals(peer2);
    peer2.sync.setSubscriptions([both]);
    await until(async () => (await peer2.store.get('accounts', 'B'))?.['balance'] === 130, 'B back-filled');
    expect(totals.filter((t) => !Number.isNaN(t)).some((t) => t !== 200)).toBe(true);
  });
});

describe("Ditto's scenario 2: a narrow peer relaying to a broad one", () => {
  async function setup(mode: 'eventual' | 'atomic', storage?: MemoryStorageAdapter) {
    const peer1 = await testPeer([]);
    const peer2 = await testPeer([onlyA]);
    const peer3 = await testPeer([both], { atomicity: mode, ...(storage ? { storage } : {}) });
    link(peer2, peer1);
    link(peer3, peer2);
    return { peer1, peer2, peer3 };
  }

  it('eventual: peer 3 receives only A’s part, shows the torn invariant, and reports the tear', async () => {
    const { peer1, peer3 } = await setup('eventual');
    const totals = watchTotals(peer3);
    const tears: TornTransaction[] = [];
    peer3.sync.events.on('torn', (t) => tears.push(t));
    await writeTransactions(peer1);
    await until(async () => (await peer3.store.get('accounts', 'A'))?.['balance'] === 70, 'A at peer 3');
    expect(await peer3.store.get('accounts', 'B')).toBeUndefined();
    expect(totals.some((t) => t !== 200)).toBe(true);
    const torn = await peer3.sync.torn();
    expect(torn.map((t) => [t.hint, t.present, t.missing])).toEqual([
      ['open', ['accounts/A'], [{ key: 'accounts/B', reason: 'not-held' }]],
      ['transfer', ['accounts/A'], [{ key: 'accounts/B', reason: 'not-held' }]],
    ]);
    expect(tears).toHaveLength(2);
    // The mitigation: link peer 3 to a peer that holds B; the tears heal.
    link(peer3, peer1);
    await until(async () => (await peer3.store.get('accounts', 'B'))?.['balance'] === 130, 'B at peer 3');
    await until(async () => (await peer3.sync.torn()).length === 0, 'the tears to heal');
  });

  it('atomic: peer 3 never shows A without B, holds and wants the rest, and shows it whole once linked to peer 1', async () => {
    const { peer1, peer3 } = await setup('atomic');
    const totals = watchTotals(peer3);
    const unavailable: string[] = [];
    peer3.sync.events.on('unavailable', (e) => unavailable.push(e.txId));
    await writeTransactions(peer1);
    await until(async () => (await peer3.sync.pending()).length === 2, 'both transactions held');
    const pending = await peer3.sync.pending();
    expect(pending.map((p) => [p.hint, p.reason, p.present, p.missing])).toEqual([
      ['open', 'missing-parts', ['accounts/A'], [{ key: 'accounts/B', reason: 'not-held' }]],
      ['transfer', 'missing-parts', ['accounts/A'], [{ key: 'accounts/B', reason: 'not-held' }]],
    ]);
    await until(() => unavailable.length >= 2, 'peer 2 to answer the wants with unavailable');
    expect(await peer3.store.get('accounts', 'A')).toBeUndefined();
    expect(totals).toEqual([]);
    // Later changesets on a held document wait behind it.
    await peer1.store.update('accounts', 'A', (d) => void (d['balance'] = (d['balance'] as number) - 1));
    await until(async () => (await peer3.sync.pending()).length === 3, 'the later change to wait');
    expect(await peer3.store.get('accounts', 'A')).toBeUndefined();
    link(peer3, peer1);
    await until(async () => (await peer3.store.get('accounts', 'A'))?.['balance'] === 69, 'everything at peer 3');
    expect(await peer3.store.get('accounts', 'B')).toEqual({ _id: 'B', balance: 130 });
    expect(await peer3.sync.pending()).toEqual([]);
    expect(await peer3.sync.torn()).toEqual([]);
    // Every state peer 3 ever showed had both accounts: never part of a transaction.
    expect(totals.every((t) => t === 200 || t === 199)).toBe(true);
  });

  it('atomic: held work survives a restart and completes later', async () => {
    const storage = new MemoryStorageAdapter();
    const { peer1, peer3 } = await setup('atomic', storage);
    await writeTransactions(peer1);
    await until(async () => (await peer3.sync.pending()).length === 2, 'held');
    await peer3.sync.close();
    await peer3.store.close();
    const again = await testPeer([both], { atomicity: 'atomic', storage: storage.reopen() });
    expect((await again.sync.pending()).map((p) => p.hint)).toEqual(['open', 'transfer']);
    link(again, peer1);
    await until(async () => (await again.store.get('accounts', 'B'))?.['balance'] === 130, 'completion after restart');
    expect(await again.sync.pending()).toEqual([]);
  });

  it('atomic: the app can release held work, which is then reported as torn', async () => {
    const { peer1, peer3 } = await setup('atomic');
    await writeTransactions(peer1);
    await until(async () => (await peer3.sync.pending()).length === 2, 'held');
    const [open] = await peer3.sync.pending();
    expect(await peer3.sync.release(open!.txId)).toBe(true);
    expect(await peer3.store.get('accounts', 'A')).toEqual({ _id: 'A', balance: 100 });
    expect((await peer3.sync.torn()).map((t) => t.txId)).toEqual([open!.txId]);
    expect(await peer3.sync.release(open!.txId)).toBe(false);
  });
});
