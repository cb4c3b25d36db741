import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Counter, InvalidChangesetError, MemoryStorageAdapter, type Changeset, type Doc, type Store } from '../src/index.js';
import { recorder, storesClosedAfterEach } from './helpers.js';

const openTracked = storesClosedAfterEach();
function open(storage?: MemoryStorageAdapter): Promise<Store> {
  return openTracked(storage ? { storage } : {});
}

async function contents(store: Store, collection: string): Promise<Doc[]> {
  return store.find({ collection });
}

describe('changesets', () => {
  it('valueBefore / valueAfter of logged changes, from a store that reopened (Automerge history, not the cache)', async () => {
    const storage = new MemoryStorageAdapter();
    const a = await open(storage);
    await a.insert('notes', { _id: 'n', text: 'one' });
    await a.update('notes', 'n', (d) => void (d['text'] = 'two'));
    await a.close();
    const b = await open(storage.reopen());
    const [created, updated] = await b.readLog(0);
    expect(await b.valueBefore(created!, 'notes/n' as never)).toBeUndefined();
    expect(await b.valueAfter(created!, 'notes/n' as never)).toEqual({ _id: 'n', text: 'one' });
    expect(await b.valueBefore(updated!, 'notes/n' as never)).toEqual({ _id: 'n', text: 'one' });
    expect(await b.valueAfter(updated!, 'notes/n' as never)).toEqual({ _id: 'n', text: 'two' });
  });

  it('applyChangesets persists sync state in the same storage write, and not at all when the apply fails', async () => {
    const a = await open();
    const log = recorder(a);
    await a.insert('notes', { _id: 'n1', text: 'one' });
    const storage = new MemoryStorageAdapter();
    const b = await open(storage);
    let writes = 0;
    const write = storage.write.bind(storage);
    storage.write = (batch) => {
      writes++;
      return write(batch);
    };
    await b.applyChangesets([log[0]!], { syncState: { name: 'cursor/a', value: { pos: 1 } } });
    expect(writes).toBe(1);
    expect(await b.readSyncState('cursor/a')).toEqual({ pos: 1 });
    expect((await b.get('notes', 'n1'))?.['text']).toBe('one');
    const broken: Changeset = { ...log[0]!, id: `${a.peerId}:9` as Changeset['id'], parts: [{ key: 'notes/n2' as Changeset['parts'][0]['key'], changes: [new Uint8Array([1, 2, 3])] }], manifest: ['notes/n2' as Changeset['manifest'][0]] };
    await expect(b.applyChangesets([broken], { syncState: { name: 'cursor/a', value: { pos: 2 } } })).rejects.toBeInstanceOf(InvalidChangesetError);
    expect(await b.readSyncState('cursor/a')).toEqual({ pos: 1 });
  });

  it('one per read-write commit that wrote something, with a manifest of every document written', async () => {
    const a = await open();
    const log = recorder(a);
    await a.transaction(async (tx) => {
      await tx.insert('accounts', { _id: 'ann', balance: 100 });
      await tx.insert('accounts', { _id: 'bob', balance: 0 });
    }, { hint: 'open accounts' });
    await a.transaction(async (tx) => {
      await tx.get('accounts', 'ann');
    });
    await a.transaction(async (tx) => {
      await tx.update('accounts', 'ann', (d) => ({ ...d })); // writes nothing new
    });
    await a.transaction(async (tx) => {
      await tx.update('accounts', 'ann', (d) => {
        d['balance'] = 90;
      });
      await tx.update('accounts', 'bob', (d) => {
        d['balance'] = 10;
      });
    }, { hint: 'transfer' });
    expect(log.map((c) => [c.seq, c.hint, c.manifest])).toEqual([
      [1, 'open accounts', ['accounts/ann', 'accounts/bob']],
      [2, 'transfer', ['accounts/ann', 'accounts/bob']],
    ]);
    expect(log[1]!.id).toBe(`${a.peerId}:2`);
    expect(log[1]!.parts.every((p) => p.changes.length === 1)).toBe(true);
    // The log keeps ids and hashes; the bytes come back from the documents.
    const [, second] = await a.readLog(0);
    expect(await a.changesetFor(second!)).toEqual(log[1]);
  });

  it('apply converges, is idempotent and fires live queries once per apply', async () => {
    const a = await open();
    const b = await open();
    const log = recorder(a);
    await a.insert('accounts', { _id: 'ann', balance: 100 });
    await a.transaction(async (tx) => {
      await tx.update('accounts', 'ann', (d) => {
        d['balance'] = 60;
      });
      await tx.insert('accounts', { _id: 'bob', balance: 40 });
    });
    const seen: number[] = [];
    b.observe({ collection: 'accounts' }, (docs) => seen.push(docs.length));
    for (const cs of log) expect((await b.applyChangeset(cs)).status).toBe('applied');
    expect(seen).toEqual([0, 1, 2]);
    const again = await b.applyChangeset(log[1]!);
    expect(again).toMatchObject({ status: 'duplicate', skipped: ['accounts/ann', 'accounts/bob'] });
    expect(seen).toEqual([0, 1, 2]);
    expect(await contents(b, 'accounts')).toEqual(await contents(a, 'accounts'));
    expect(b.position).toBe(2);
  });

  it('holds a part whose Automerge dependencies are missing instead of half-applying it, and applies it when they arrive', async () => {
    const a = await open();
    const b = await open();
    const log = recorder(a);
    await a.insert('accounts', { _id: 'ann', balance: 100 });
    await a.transaction(async (tx) => {
      await tx.update('accounts', 'ann', (d) => {
        d['balance'] = 50;
      });
      await tx.insert('accounts', { _id: 'bob', balance: 50 });
    });
    const seen: string[] = [];
    b.observe({ collection: 'accounts' }, (docs) => seen.push(docs.map((d) => `${d._id}=${JSON.stringify(d['balance'])}`).join(',')));
    // Second transaction first: ann's part depends on the first, bob's does not.
    const first = await b.applyChangeset(log[1]!);
    expect(first).toMatchObject({ status: 'partial', applied: ['accounts/bob'], held: ['accounts/ann'] });
    expect(b.held().map((h) => h.changeset.parts.map((p) => p.key))).toEqual([['accounts/ann']]);
    expect(await b.get('accounts', 'ann')).toBeUndefined();
    // Whole mode holds every part of the transaction instead.
    const c = await open();
    expect(await c.applyChangeset(log[1]!, { whole: true })).toMatchObject({ status: 'held', applied: [], held: ['accounts/ann', 'accounts/bob'] });
    expect(await contents(c, 'accounts')).toEqual([]);
    await c.applyChangeset(log[0]!);
    expect(await contents(c, 'accounts')).toEqual(await contents(a, 'accounts'));
    // The dependency arrives: the held part is applied right after, in a commit of its own.
    await b.applyChangeset(log[0]!);
    expect(b.held()).toEqual([]);
    expect(await contents(b, 'accounts')).toEqual(await contents(a, 'accounts'));
    expect(seen).toEqual(['', 'bob=50', 'ann=100,bob=50', 'ann=50,bob=50']);
  });

  it('held parts survive a restart', async () => {
    const storage = new MemoryStorageAdapter();
    const a = await open();
    const log = recorder(a);
    await a.insert('notes', { _id: 'n', text: 'v1' });
    await a.update('notes', 'n', () => ({ text: 'v2' }));
    const b = await open(storage);
    await b.applyChangeset(log[1]!);
    await b.close();
    const b2 = await open(storage.reopen());
    expect(b2.held().map((h) => h.changeset.id)).toEqual([log[1]!.id]);
    await b2.applyChangeset(log[0]!);
    expect(await b2.get('notes', 'n')).toEqual({ _id: 'n', text: 'v2' });
    expect(b2.held()).toEqual([]);
  });

  it('concurrent edits of different fields merge; concurrent counters add up', async () => {
    const a = await open();
    const b = await open();
    const la = recorder(a);
    const lb = recorder(b);
    await a.insert('pages', { _id: 'home', title: 'Home', views: new Counter(0) });
    await b.applyChangeset(la[0]!);
    await a.update('pages', 'home', (d) => {
      d['title'] = 'Welcome';
      d['views'] = (d['views'] as number) + 2;
    });
    await b.update('pages', 'home', (d) => {
      d['color'] = 'blue';
      d['views'] = (d['views'] as number) + 3;
    });
    await b.applyChangeset(la[1]!);
    await a.applyChangeset(lb[0]!);
    const expected = { _id: 'home', title: 'Welcome', color: 'blue', views: 5 };
    expect(await a.get('pages', 'home')).toEqual(expected);
    expect(await b.get('pages', 'home')).toEqual(expected);
  });

  it('a delete is a tombstone that replicates and wins over concurrent field edits; an insert after it revives', async () => {
    const a = await open();
    const b = await open();
    const la = recorder(a);
    const lb = recorder(b);
    await a.insert('todos', { _id: 't', title: 'buy milk', done: false });
    await b.applyChangeset(la[0]!);
    await a.delete('todos', 't');
    await b.update('todos', 't', (d) => {
      d['done'] = true;
    });
    await a.applyChangeset(lb[0]!);
    await b.applyChangeset(la[1]!);
    expect(await a.get('todos', 't')).toBeUndefined();
    expect(await b.get('todos', 't')).toBeUndefined();
    expect(la[1]!.parts[0]!.deleted).toBe(true);
    await b.insert('todos', { _id: 't', title: 'buy oat milk' });
    await a.applyChangeset(lb[1]!);
    expect(await a.get('todos', 't')).toEqual({ _id: 't', title: 'buy oat milk' });
  });

  it('rejects invalid changesets whole, changing nothing', async () => {
    const a = await open();
    const b = await open();
    const log = recorder(a);
    await a.transaction(async (tx) => {
      await tx.insert('x', { _id: '1', v: 1 });
      await tx.insert('x', { _id: '2', v: 2 });
    });
    const good = log[0]!;
    const garbage: Changeset = { ...good, parts: [good.parts[0]!, { key: good.parts[1]!.key, changes: [new Uint8Array([1, 2, 3, 4])] }] };
    await expect(b.applyChangeset(garbage)).rejects.toBeInstanceOf(InvalidChangesetError);
    await expect(b.applyChangeset({ ...good, manifest: [good.manifest[0]!] })).rejects.toThrow(/not in its manifest/);
    await expect(b.applyChangeset({ ...good, seq: -1 })).rejects.toThrow(/invalid changeset/);
    await expect(b.applyChangeset({ ...good, parts: [good.parts[0]!, good.parts[0]!] })).rejects.toThrow(/two parts/);
    await expect(b.applyChangeset({ nonsense: true } as never)).rejects.toBeInstanceOf(InvalidChangesetError);
    expect(await contents(b, 'x')).toEqual([]);
    expect(b.position).toBe(0);
    expect((await b.applyChangeset(good)).status).toBe('applied');
  });

  it('converges whatever the order of delivery, with duplicates (property)', async () => {
    const seed = process.env['ATOLL_SEED'] === undefined ? undefined : Number(process.env['ATOLL_SEED']);
    const numRuns = Number(process.env['ATOLL_RUNS'] ?? 25);
    const op = fc.record({
      peer: fc.integer({ min: 0, max: 2 }),
      kind: fc.constantFrom('upsert', 'update', 'delete', 'increment'),
      id: fc.constantFrom('a', 'b', 'c'),
      value: fc.integer({ min: 0, max: 9 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.infiniteStream(fc.nat()), async (ops, randomness) => {
        const peers = await Promise.all([0, 1, 2].map(() => open()));
        const logs = peers.map(recorder);
        for (const o of ops) {
          const s = peers[o.peer]!;
          await s.transaction(async (tx) => {
            const current = await tx.get('docs', o.id);
            if (o.kind === 'delete') await tx.delete('docs', o.id);
            else if (o.kind === 'upsert' || !current) await tx.upsert('docs', { _id: o.id, v: o.value, n: new Counter(0) });
            else if (o.kind === 'increment') await tx.update('docs', o.id, (d) => void (d['n'] = (d['n'] as number) + o.value));
            else await tx.update('docs', o.id, (d) => void (d['v'] = o.value));
          });
        }
        const all = logs.flat();
        const rand = randomness[Symbol.iterator]();
        for (const target of peers) {
          const deliveries = [...all, ...all.filter(() => (rand.next().value as number) % 3 === 0)];
          for (let i = deliveries.length - 1; i > 0; i--) {
            const j = (rand.next().value as number) % (i + 1);
            [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
          }
          for (const cs of deliveries) await target.applyChangeset(cs);
          expect(target.held()).toEqual([]);
        }
        const [first, ...rest] = await Promise.all(peers.map((p) => contents(p, 'docs')));
        for (const other of rest) expect(other).toEqual(first);
        // Each run's stores go now (closing again after the test is a no-op): runs are many.
        await Promise.all(peers.map((p) => p.close()));
      }),
      { numRuns, ...(seed === undefined ? {} : { seed }) },
    );
  });
});
