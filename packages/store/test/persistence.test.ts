import { afterEach, describe, expect, it } from 'vitest';
import { Counter, MemoryStorageAdapter, StoreError, type Store, type WriterLock } from '../src/index.js';
import { openTestStore } from './helpers.js';

const stores: Store[] = [];
async function open(storage: MemoryStorageAdapter, extra: { writerLock?: WriterLock; peerId?: string } = {}): Promise<Store> {
  const s = await openTestStore({ storage, ...extra });
  stores.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

describe('persistence', () => {
  it('reopens with every document, the log, the peer id and the commit counter', async () => {
    const storage = new MemoryStorageAdapter();
    const a = await open(storage);
    await a.insert('notes', { _id: 'n1', text: 'hello', tags: ['a'], meta: { n: 1 } });
    await a.update('notes', 'n1', (d) => void (d['text'] = 'hello again'));
    await a.insert('notes', { _id: 'n2', visits: new Counter(3) });
    await a.delete('notes', 'n2');
    const peer = a.peerId;
    await a.close();
    const b = await open(storage.reopen());
    expect(b.peerId).toBe(peer);
    expect(b.position).toBe(4);
    expect(await b.find({ collection: 'notes' })).toEqual([{ _id: 'n1', text: 'hello again', tags: ['a'], meta: { n: 1 } }]);
    expect((await b.readLog(0)).map((e) => [e.pos, e.seq, e.manifest])).toEqual([
      [1, 1, ['notes/n1']],
      [2, 2, ['notes/n1']],
      [3, 3, ['notes/n2']],
      [4, 4, ['notes/n2']],
    ]);
    // Writes after the reopen continue the counter and load Automerge state lazily.
    const seen: string[] = [];
    b.onCommit((e) => seen.push(e.entry.id));
    await b.update('notes', 'n1', (d) => void (d['text'] = 'third'));
    expect(seen).toEqual([`${peer}:5`]);
  });

  it('refuses storage that belongs to another peer', async () => {
    const storage = new MemoryStorageAdapter();
    const a = await open(storage, { peerId: 'peer-one' });
    await a.close();
    await expect(open(storage.reopen(), { peerId: 'peer-two' })).rejects.toBeInstanceOf(StoreError);
  });

  it('compacts a document after many changes and still replicates its whole history', async () => {
    const storage = new MemoryStorageAdapter();
    const a = await open(storage);
    await a.insert('c', { _id: 'x', n: new Counter(0) });
    for (let i = 0; i < 150; i++) await a.update('c', 'x', (d) => void (d['n'] = (d['n'] as number) + 1));
    const chunks = await storage.getRange(['am', 'c', 'x']);
    expect(chunks.length).toBeLessThan(64);
    await a.close();
    const b = await open(storage.reopen());
    expect(await b.get('c', 'x')).toEqual({ _id: 'x', n: 150 });
    // Every change is still there to ship: a fresh peer rebuilds the value from the log alone.
    const fresh = await open(new MemoryStorageAdapter());
    for (const entry of await b.readLog(0, 1_000)) await fresh.applyChangeset(await b.changesetFor(entry));
    expect(await fresh.get('c', 'x')).toEqual({ _id: 'x', n: 150 });
    expect(fresh.held()).toEqual([]);
  });

  it('two store instances on one storage (tabs) see each other through the writer lock and refresh', async () => {
    const storage = new MemoryStorageAdapter();
    let holder: Promise<void> = Promise.resolve();
    // A process-wide FIFO lock standing in for Web Locks.
    const lock: WriterLock = {
      acquire: async () => {
        let release!: () => void;
        const previous = holder;
        holder = new Promise<void>((r) => (release = r));
        await previous;
        return release;
      },
    };
    const tab1 = await open(storage, { writerLock: lock });
    const tab2 = await open(storage.reopen(), { writerLock: lock });
    expect(tab2.peerId).toBe(tab1.peerId);
    await tab1.insert('counters', { _id: 'c', n: 0 });
    const seenIn2: number[] = [];
    tab2.observe({ collection: 'counters' }, (docs) => seenIn2.push(docs.length));
    // 2 × 50 increments from both tabs: each writer starts from the latest durable state.
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        (i % 2 ? tab1 : tab2).transaction(async (tx) => {
          const c = await tx.get('counters', 'c');
          await tx.update('counters', 'c', (d) => void (d['n'] = (c!['n'] as number) + 1));
        }),
      ),
    );
    await tab1.refresh();
    await tab2.refresh();
    expect((await tab1.get('counters', 'c'))?.['n']).toBe(100);
    expect((await tab2.get('counters', 'c'))?.['n']).toBe(100);
    expect(tab1.position).toBe(101);
    expect(tab2.position).toBe(101);
    expect(seenIn2[0]).toBe(0);
    expect(seenIn2.at(-1)).toBe(1);
    // The log has no gaps or duplicates: positions 1..101, sequence numbers 1..101.
    const log = await tab1.readLog(0, 500);
    expect(log.map((e) => e.pos)).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
    expect(new Set(log.map((e) => e.id)).size).toBe(101);
  });
});
