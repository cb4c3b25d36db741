import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerId } from '@atoll/protocol';
import {
  CommitFailedError,
  MemoryStorageAdapter,
  StorageError,
  type Store,
  type CommitEvent,
  type StorageBatch,
  type StorageEntry,
  type StorageAdapter,
  type StorageKey,
  type RangeOptions,
  type WriterLock,
} from '../src/index.js';
import { deferred, openTestStore } from './helpers.js';

/**
 * Storage that records every batch and can hold a write in flight (until the test releases
 * it) or fail it, to see what the store does while a write is not durable yet.
 */
class ControlledStorage implements StorageAdapter {
  readonly inner: MemoryStorageAdapter;
  readonly batches: StorageBatch[] = [];
  ranges: string[] = [];
  #gate: Promise<void> | undefined;

  constructor(inner = new MemoryStorageAdapter()) {
    this.inner = inner;
  }

  /** Holds the next writes until the returned function is called (with an error: they fail). */
  hold(): (err?: Error) => void {
    const d = deferred<Error | undefined>();
    this.#gate = d.promise.then((err) => {
      if (err) throw err;
    });
    return (err?: Error) => {
      this.#gate = undefined;
      d.resolve(err);
    };
  }

  get(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }

  getRange(prefix: StorageKey, options?: RangeOptions): Promise<StorageEntry[]> {
    this.ranges.push(prefix.join('/'));
    return this.inner.getRange(prefix, options);
  }

  async write(batch: StorageBatch): Promise<void> {
    this.batches.push(batch);
    if (this.#gate) await this.#gate;
    return this.inner.write(batch);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  reopen(): ControlledStorage {
    return new ControlledStorage(this.inner.reopen());
  }
}

const stores: Store[] = [];
async function open(storage: StorageAdapter, extra: { writerLock?: WriterLock } = {}): Promise<Store> {
  const s = await openTestStore({ storage, ...extra });
  stores.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('group commit', () => {
  it('writes transactions issued together in few storage writes, resolving each and publishing in commit order', async () => {
    const storage = new ControlledStorage();
    const store = await open(storage);
    const before = storage.batches.length;
    const events: number[] = [];
    store.onCommit((e) => events.push(e.position));
    const seen: number[] = [];
    store.observe({ collection: 'n' }, (docs) => seen.push(docs.length));
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.insert('n', { _id: `d${i}`, i })));
    expect(results.map((d) => d._id)).toEqual(Array.from({ length: 50 }, (_, i) => `d${i}`));
    // The first write goes alone; the 49 that queued behind it share one.
    expect(storage.batches.length - before).toBeLessThanOrEqual(2);
    expect(events).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // One emission per commit, each seeing whole commits.
    expect(seen).toEqual(Array.from({ length: 51 }, (_, i) => i));
    expect((await store.readLog(0)).map((e) => e.manifest[0])).toEqual(Array.from({ length: 50 }, (_, i) => `n/d${i}`));
    expect(store.position).toBe(50);
  });

  it('runs a writer on the commits in flight, but resolves it, publishes it and shows it to readers only once durable', async () => {
    const storage = new ControlledStorage();
    const store = await open(storage);
    await store.insert('acc', { _id: 'a', balance: 10 });
    const release = storage.hold();
    const committed: number[] = [];
    store.onCommit((e) => committed.push(e.position));
    const live: number[] = [];
    store.observe({ collection: 'acc' }, (docs) => live.push(docs[0]?.['balance'] as number));
    let firstDone = false;
    let secondDone = false;
    const first = store.update('acc', 'a', (d) => void (d['balance'] = 20)).then(() => (firstDone = true));
    let readInSecond: unknown;
    const second = store
      .transaction(async (tx) => {
        readInSecond = (await tx.get('acc', 'a'))?.['balance'];
        await tx.update('acc', 'a', (d) => void (d['balance'] = (d['balance'] as number) + 1));
      })
      .then(() => (secondDone = true));
    await tick();
    await tick();
    // The second block ran while the first write was in flight, on top of it.
    expect(readInSecond).toBe(20);
    expect(firstDone).toBe(false);
    expect(secondDone).toBe(false);
    // Nothing that is not durable is visible outside read-write transactions.
    expect((await store.get('acc', 'a'))?.['balance']).toBe(10);
    expect(await store.transaction(async (tx) => (await tx.get('acc', 'a'))?.['balance'], { readOnly: true })).toBe(10);
    expect(store.position).toBe(1);
    expect(committed).toEqual([]);
    expect(live).toEqual([10]);
    release();
    await Promise.all([first, second]);
    expect(committed).toEqual([2, 3]);
    expect(live).toEqual([10, 20, 21]);
    expect((await store.get('acc', 'a'))?.['balance']).toBe(21);
    // Reopened, the storage holds both commits.
    await store.close();
    const again = await open(storage.reopen());
    expect((await again.get('acc', 'a'))?.['balance']).toBe(21);
    expect(again.position).toBe(3);
  });

  it('fails every transaction that ran on a failed write, and rolls the state (Automerge included) back to what is durable', async () => {
    const storage = new ControlledStorage();
    const store = await open(storage);
    await store.insert('acc', { _id: 'a', balance: 10 });
    await store.insert('acc', { _id: 'b', balance: 0 });
    const events: CommitEvent[] = [];
    store.onCommit((e) => events.push(e));
    const release = storage.hold();
    const first = store.update('acc', 'a', (d) => void (d['balance'] = 5));
    await tick();
    // Runs while the first write is in flight and reads what it wrote: queued for the next write.
    const second = store.transaction(async (tx) => {
      const a = await tx.get('acc', 'a');
      await tx.update('acc', 'b', (d) => void (d['balance'] = a?.['balance'] as number));
      return 'moved';
    });
    // Wrote nothing, but read the non-durable balance: it must not report success either.
    const reader = store.transaction(async (tx) => (await tx.get('acc', 'a'))?.['balance']);
    await tick();
    release(new StorageError('disk full'));
    await expect(first).rejects.toThrow('disk full');
    await expect(second).rejects.toBeInstanceOf(CommitFailedError);
    await expect(reader).rejects.toBeInstanceOf(CommitFailedError);
    const failure = await second.catch((e: unknown) => e);
    expect((failure as CommitFailedError).cause).toBeInstanceOf(StorageError);
    expect(events).toEqual([]);
    expect(store.position).toBe(2);
    expect((await store.get('acc', 'a'))?.['balance']).toBe(10);
    expect((await store.get('acc', 'b'))?.['balance']).toBe(0);

    // The store goes on from the durable state: a new commit on the same documents, shipped to
    // another store, merges cleanly there (an Automerge state still holding the failed changes
    // would ship changes whose dependencies never existed, and they would be held).
    await store.update('acc', 'a', (d) => void (d['balance'] = 7));
    await store.update('acc', 'b', (d) => void (d['balance'] = 1));
    const other = await open(new MemoryStorageAdapter());
    for (const entry of await store.readLog(0)) {
      const result = await other.applyChangeset(await store.changesetFor(entry));
      expect(result.status).toBe('applied');
    }
    expect(await other.find({ collection: 'acc' })).toEqual(await store.find({ collection: 'acc' }));
    expect(other.heads('acc', 'a')).toEqual(store.heads('acc', 'a'));
    expect(store.position).toBe(4);
    expect((await store.readLog(0)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);

    // And what it stored reopens to the same state.
    await store.close();
    const again = await open(storage.reopen());
    expect(await again.find({ collection: 'acc' })).toEqual([
      { _id: 'a', balance: 7 },
      { _id: 'b', balance: 1 },
    ]);
    expect(again.position).toBe(4);
  });

  it('fails applyChangesets that ran on a failed write, and keeps nothing of them', async () => {
    const source = await open(new MemoryStorageAdapter());
    await source.insert('n', { _id: 'x', v: 1 });
    await source.update('n', 'x', (d) => void (d['v'] = 2));
    const [one, two] = await Promise.all((await source.readLog(0)).map((e) => source.changesetFor(e)));
    const storage = new ControlledStorage();
    const store = await open(storage);
    const release = storage.hold();
    const a = store.applyChangeset(one!, { syncState: { name: 'cursor', value: 1 } });
    await tick();
    const b = store.applyChangeset(two!, { syncState: { name: 'cursor', value: 2 } });
    await tick();
    release(new StorageError('io error'));
    await expect(a).rejects.toThrow('io error');
    await expect(b).rejects.toBeInstanceOf(CommitFailedError);
    expect(store.has('n', 'x')).toBe(false);
    expect(await store.readSyncState('cursor')).toBeUndefined();
    // Applied again, both take: nothing was half-remembered as already applied.
    expect((await store.applyChangeset(one!)).status).toBe('applied');
    expect((await store.applyChangeset(two!)).status).toBe('applied');
    expect(await store.get('n', 'x')).toEqual({ _id: 'x', v: 2 });
  });

  it('writes replication state only after the commits queued before it, and not at all if they fail', async () => {
    const storage = new ControlledStorage();
    const store = await open(storage);
    let release = storage.hold();
    const a = store.insert('n', { _id: 'a' });
    await tick();
    let saved = false;
    const state = store.writeSyncState('cursor', 1).then(() => (saved = true));
    await tick();
    expect(saved).toBe(false);
    release();
    await Promise.all([a, state]);
    expect(await store.readSyncState('cursor')).toBe(1);
    release = storage.hold();
    const b = store.insert('n', { _id: 'b' });
    await tick();
    const failing = store.writeSyncState('cursor', 2);
    release(new StorageError('io error'));
    await expect(b).rejects.toThrow('io error');
    await expect(failing).rejects.toBeInstanceOf(CommitFailedError);
    expect(await store.readSyncState('cursor')).toBe(1);
  });

  const SRC = 'src' as PeerId;
  it('announces remote applies to onQueued before they are durable, but no local commit and nothing queued after one', async () => {
    const source = await open(new MemoryStorageAdapter());
    for (let v = 1; v <= 3; v++) await source.upsert('n', { _id: 'x', v });
    const [one, two, three] = await Promise.all((await source.readLog(0)).map((e) => source.changesetFor(e)));
    const storage = new ControlledStorage();
    const store = await open(storage);
    const queued: number[] = [];
    const committed: number[] = [];
    store.onQueued((e) => queued.push(e.position));
    store.onCommit((e) => committed.push(e.position));
    let release = storage.hold();
    const a = store.applyChangeset(one!, { from: SRC });
    await tick();
    // Queued, not durable: announced, and shippable, but not committed.
    expect(queued).toEqual([1]);
    expect(committed).toEqual([]);
    expect(store.position).toBe(0);
    expect(store.shippablePosition).toBe(1);
    const local = store.insert('m', { _id: 'y' });
    await tick();
    const b = store.applyChangeset(two!, { from: SRC });
    await tick();
    // The local commit (2) is not announced, and the remote apply queued after it (3) waits too.
    expect(queued).toEqual([1]);
    expect(store.shippablePosition).toBe(1);
    release();
    await Promise.all([a, local, b]);
    expect(committed).toEqual([1, 2, 3]);
    expect(store.shippablePosition).toBe(3);
    // A failed write: the listeners learn the durable position, and nothing past it stays shippable.
    const failed: number[] = [];
    store.onWriteFailed((durable) => failed.push(durable));
    release = storage.hold();
    const c = store.applyChangeset(three!, { from: SRC });
    await tick();
    expect(queued).toEqual([1, 4]);
    expect(store.shippablePosition).toBe(4);
    release(new StorageError('io error'));
    await expect(c).rejects.toThrow('io error');
    expect(failed).toEqual([3]);
    expect(store.shippablePosition).toBe(3);
    expect(store.position).toBe(3);
    // The position is reused by the next commit.
    expect((await store.applyChangeset(three!, { from: SRC })).position).toBe(4);
  });

  it('keeps a grouped write atomic: a later commit survives an earlier one compacting the same document', async () => {
    const storage = new ControlledStorage();
    const store = await open(storage);
    await store.insert('n', { _id: 'x', v: 0 });
    // 62 more commits: the next grouped ones cross the compaction point (64 chunks).
    for (let i = 1; i <= 62; i++) await store.update('n', 'x', (d) => void (d['v'] = i));
    await Promise.all(Array.from({ length: 5 }, (_, i) => store.update('n', 'x', (d) => void (d['v'] = 100 + i))));
    await store.close();
    const again = await open(storage.reopen());
    expect(await again.get('n', 'x')).toEqual({ _id: 'x', v: 104 });
    // The stored Automerge chunks hold every change: a fresh store rebuilt from the log agrees.
    const other = await open(new MemoryStorageAdapter());
    for (const entry of await again.readLog(0)) await other.applyChangeset(await again.changesetFor(entry));
    expect(await other.get('n', 'x')).toEqual({ _id: 'x', v: 104 });
    expect(other.heads('n', 'x')).toEqual(again.heads('n', 'x'));
    await again.update('n', 'x', (d) => void (d['v'] = 105));
    expect((await again.get('n', 'x'))?.['v']).toBe(105);
  });

  it('rolls back and nests as before while writes are grouped', async () => {
    const storage = new ControlledStorage();
    const store = await open(storage);
    const release = storage.hold();
    const writes = [
      store.insert('n', { _id: 'a' }),
      store.transaction(async (tx) => {
        await tx.insert('n', { _id: 'gone' });
        tx.rollback();
      }),
      store.transaction(async (tx) => {
        await tx.insert('n', { _id: 'outer' });
        await tx.transaction(async (inner) => {
          await inner.insert('n', { _id: 'inner' });
          throw new Error('inner fails');
        }).catch(() => undefined);
      }),
      store.transaction(async () => {
        throw new Error('block fails');
      }).catch((e: unknown) => e),
    ];
    await tick();
    release();
    const results = await Promise.all(writes);
    expect((results[3] as Error).message).toBe('block fails');
    expect((await store.find({ collection: 'n' })).map((d) => d._id).sort()).toEqual(['a', 'outer']);
    expect(store.position).toBe(2);
  });

  it('groups writers of instances sharing a writer lock, without collisions', async () => {
    const storage = new MemoryStorageAdapter();
    let holder: Promise<void> = Promise.resolve();
    const lock: WriterLock = {
      acquire: async () => {
        const previous = holder;
        const d = deferred();
        holder = previous.then(() => d.promise);
        await previous;
        return () => d.resolve();
      },
    };
    const tab1 = await open(storage, { writerLock: lock });
    const tab2 = await open(storage.reopen(), { writerLock: lock });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => ((i % 2 === 0 ? tab1 : tab2).insert('n', { _id: `d${i}`, i }))),
    );
    await tab1.refresh();
    await tab2.refresh();
    expect(tab1.position).toBe(20);
    expect(tab2.position).toBe(20);
    const log = await tab1.readLog(0);
    expect(log.map((e) => e.pos)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(log.map((e) => e.id)).size).toBe(20);
    expect((await tab2.find({ collection: 'n' })).length).toBe(20);
  });
});

describe('storage layout', () => {
  it('writes three puts for a single-document local commit', async () => {
    const storage = new ControlledStorage();
    const store = await open(storage);
    await store.insert('n', { _id: 'a', v: 1 });
    const before = storage.batches.length;
    await store.update('n', 'a', (d) => void (d['v'] = 2));
    const batch = storage.batches[before]!;
    expect(batch.put?.map((e) => e.key[0]).sort()).toEqual(['am', 'doc', 'log']);
    expect(batch.delete ?? []).toEqual([]);
  });

  it('keeps the commit counter and head across reopens, also when the last entry came from another peer', async () => {
    const storage = new MemoryStorageAdapter();
    const remote = await open(new MemoryStorageAdapter());
    await remote.insert('r', { _id: 'x' });
    const [fromRemote] = await Promise.all((await remote.readLog(0)).map((e) => remote.changesetFor(e)));
    const a = await open(storage);
    await a.insert('n', { _id: 'a' });
    await a.insert('n', { _id: 'b' });
    await a.applyChangeset(fromRemote!);
    await a.close();
    const b = await open(storage.reopen());
    expect(b.position).toBe(3);
    const ids: string[] = [];
    b.onCommit((e) => ids.push(e.entry.id));
    await b.insert('n', { _id: 'c' });
    expect(ids).toEqual([`${b.peerId}:3`]);
    await b.close();
    const c = await open(storage.reopen());
    expect(c.position).toBe(4);
    await c.insert('n', { _id: 'd' });
    expect((await c.readLog(3)).map((e) => [e.pos, e.seq])).toEqual([[4, 3], [5, 4]]);
  });

  it('finds transactions with entriesFor: local ones through the log, remote ones through the index', async () => {
    const storage = new MemoryStorageAdapter();
    const remote = await open(new MemoryStorageAdapter());
    await remote.insert('r', { _id: 'x' });
    const [fromRemote] = await Promise.all((await remote.readLog(0)).map((e) => remote.changesetFor(e)));
    const a = await open(storage);
    await a.insert('n', { _id: 'a' });
    await a.applyChangeset(fromRemote!);
    await a.insert('n', { _id: 'b' });
    expect((await a.entriesFor(`${a.peerId}:2` as never)).map((e) => e.pos)).toEqual([3]);
    expect((await a.entriesFor(fromRemote!.id)).map((e) => e.pos)).toEqual([2]);
    expect(await a.entriesFor(`${a.peerId}:9` as never)).toEqual([]);
    // A commit made after the index was built is found too.
    await a.insert('n', { _id: 'c' });
    expect((await a.entriesFor(`${a.peerId}:3` as never)).map((e) => e.pos)).toEqual([4]);
    await a.close();
    const b = await open(storage.reopen());
    expect((await b.entriesFor(`${b.peerId}:1` as never)).map((e) => e.pos)).toEqual([1]);
  });

  it('reads storage written in the older layout (head, seq and a positions list per transaction)', async () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
    const storage = new MemoryStorageAdapter();
    const remote = await open(new MemoryStorageAdapter());
    await remote.insert('r', { _id: 'x' });
    const [fromRemote] = await Promise.all((await remote.readLog(0)).map((e) => remote.changesetFor(e)));
    const a = await open(storage);
    await a.insert('n', { _id: 'a' });
    await a.applyChangeset(fromRemote!);
    const peer = a.peerId;
    await a.close();
    // Rewrite the index and the meta keys as the older layout had them.
    const raw = storage.reopen();
    const newIndex = await raw.getRange(['tx']);
    await raw.write({
      put: [
        { key: ['meta', 'head'], value: packr.pack(2) },
        { key: ['meta', 'seq'], value: packr.pack(1) },
        { key: ['tx', `${peer}:1`], value: packr.pack([1]) },
        { key: ['tx', fromRemote!.id], value: packr.pack([2]) },
      ],
      delete: newIndex.map((e) => e.key),
    });
    await raw.close();
    const b = await open(storage.reopen());
    expect(b.position).toBe(2);
    expect((await b.entriesFor(fromRemote!.id)).map((e) => e.pos)).toEqual([2]);
    expect((await b.entriesFor(`${peer}:1` as never)).map((e) => e.pos)).toEqual([1]);
    const ids: string[] = [];
    b.onCommit((e) => ids.push(e.entry.id));
    await b.insert('n', { _id: 'b' });
    expect(ids).toEqual([`${peer}:2`]);
    expect(b.position).toBe(3);
  });

  it('ships a change from its stored chunk without loading the document, and from the document after compaction', async () => {
    const storage = new ControlledStorage();
    const a = await open(storage);
    const shipped: Uint8Array[] = [];
    a.onCommit((e) => shipped.push(e.changeset!.parts[0]!.changes[0]!));
    await a.insert('n', { _id: 'x', v: 0 });
    await a.update('n', 'x', (d) => void (d['v'] = 1));
    await a.close();
    const b = await open(storage.reopen());
    storage.ranges = [];
    const log = await b.readLog(0);
    storage.ranges = [];
    const cs = await b.changesetFor(log[1]!);
    expect(cs.parts[0]!.changes).toEqual([shipped[1]]);
    // One chunk read, not the document's chunk range.
    expect(storage.ranges).toEqual([]);
    // After a compaction the old chunk index means something else: the document is loaded.
    for (let i = 2; i < 70; i++) await b.update('n', 'x', (d) => void (d['v'] = i));
    const again = await b.changesetFor(log[1]!);
    expect(again.parts[0]!.changes).toEqual([shipped[1]]);
  });
});

describe('Automerge bookkeeping', () => {
  it("a local commit's hash is the document's only head, also right after a merge of concurrent changes", async () => {
    const a = await open(new MemoryStorageAdapter());
    const b = await open(new MemoryStorageAdapter());
    await a.insert('n', { _id: 'x', v: 0 });
    await b.applyChangeset(await a.changesetFor((await a.readLog(0))[0]!));
    await a.update('n', 'x', (d) => void (d['a'] = 1));
    await b.update('n', 'x', (d) => void (d['b'] = 1));
    await a.applyChangeset(await b.changesetFor((await b.readLog(1))[0]!));
    expect(a.heads('n', 'x')).toHaveLength(2);
    const events: CommitEvent[] = [];
    a.onCommit((e) => events.push(e));
    await a.update('n', 'x', (d) => void (d['c'] = 1));
    const hash = events[0]!.entry.parts[0]!.hashes[0]!;
    expect(a.heads('n', 'x')).toEqual([hash]);
    // Automerge agrees on another peer, where the heads come from Automerge itself.
    for (const entry of await a.readLog(0)) await b.applyChangeset(await a.changesetFor(entry));
    expect(b.heads('n', 'x')).toEqual([hash]);
  });
});
