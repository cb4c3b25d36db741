import { afterEach, describe, expect, it } from 'vitest';
import {
  Counter,
  DocumentExistsError,
  DocumentNotFoundError,
  InvalidDocumentError,
  NestedTransactionActiveError,
  ReadOnlyTransactionError,
  StoreClosedError,
  TransactionClosedError,
  TransactionDeadlockError,
  UnawaitedOperationError,
  tracksAsyncContext,
  type Doc,
  type Store,
  type Transaction,
} from '../src/index.js';
import { deferred, openTestStore } from './helpers.js';

let store: Store;
afterEach(async () => {
  await store?.close();
});

const balance = (d: Doc | undefined) => d?.['balance'] as number;

describe('commit, rollback and info', () => {
  it('commits when the block resolves and returns its value', async () => {
    store = await openTestStore();
    const result = await store.transaction(async (tx) => {
      await tx.insert('accounts', { _id: 'ann', balance: 100 });
      return 'done';
    });
    expect(result).toBe('done');
    expect(await store.get('accounts', 'ann')).toEqual({ _id: 'ann', balance: 100 });
  });

  it('rolls back and rethrows when the block throws', async () => {
    store = await openTestStore();
    const boom = new Error('boom');
    await expect(
      store.transaction(async (tx) => {
        await tx.insert('accounts', { _id: 'ann', balance: 100 });
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await store.get('accounts', 'ann')).toBeUndefined();
    expect(store.position).toBe(0);
  });

  it('rolls back without an error on tx.rollback(), and the tx is closed after it', async () => {
    store = await openTestStore();
    let late: Promise<unknown> | undefined;
    const value = await store.transaction(async (tx) => {
      await tx.insert('accounts', { _id: 'ann', balance: 100 });
      tx.rollback();
      late = tx.get('accounts', 'ann');
      await late.catch(() => {});
      return 42;
    });
    expect(value).toBe(42);
    await expect(late).rejects.toBeInstanceOf(TransactionClosedError);
    expect(await store.get('accounts', 'ann')).toBeUndefined();
  });

  it('exposes id, hint, readOnly and startedAt in tx.info', async () => {
    store = await openTestStore();
    const before = Date.now();
    const infos = await Promise.all([
      store.transaction((tx) => tx.info, { hint: 'writer' }),
      store.transaction((tx) => tx.info, { hint: 'reader', readOnly: true }),
      store.transaction((tx) => tx.info),
    ]);
    expect(infos[0]).toMatchObject({ hint: 'writer', readOnly: false });
    expect(infos[1]).toMatchObject({ hint: 'reader', readOnly: true });
    expect(infos[2]?.hint).toBeUndefined();
    expect(new Set(infos.map((i) => i.id)).size).toBe(3);
    for (const info of infos) expect(info.startedAt).toBeGreaterThanOrEqual(before);
  });
});

describe('serializable writers', () => {
  it('loses no update among 50 concurrent read-then-increment transactions over several documents', async () => {
    store = await openTestStore();
    const ids = ['a', 'b', 'c', 'd'];
    await store.transaction(async (tx) => {
      for (const id of ids) await tx.insert('accounts', { _id: id, balance: 0 });
    });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.transaction(async (tx) => {
          for (const id of [ids[i % 4] as string, ids[(i + 1) % 4] as string]) {
            const current = balance(await tx.get('accounts', id));
            // Yield to the event loop between the read and the write: a non-serializable
            // store would interleave another writer here and lose an update.
            await new Promise<void>((r) => setImmediate(r));
            await tx.update('accounts', id, (d) => {
              d['balance'] = current + 1;
            });
          }
        }),
      ),
    );
    const docs = await store.find({ collection: 'accounts' });
    expect(docs.map(balance).reduce((x, y) => x + y, 0)).toBe(100);
    // a and c are touched 25 times each, b 26 and d 24 (i % 4 and (i + 1) % 4 over 0..49).
    expect(docs.map(balance)).toEqual([25, 26, 25, 24]);
  });

  it('runs writers one at a time in the order they were started', async () => {
    store = await openTestStore();
    const order: string[] = [];
    const gate = deferred();
    const first = store.transaction(async () => {
      order.push('first:start');
      await gate.promise;
      order.push('first:end');
    });
    const second = store.transaction(() => {
      order.push('second');
    });
    const third = store.transaction(() => {
      order.push('third');
    });
    await new Promise<void>((r) => setImmediate(r));
    expect(order).toEqual(['first:start']);
    gate.resolve();
    await Promise.all([first, second, third]);
    expect(order).toEqual(['first:start', 'first:end', 'second', 'third']);
  });
});

describe('read-only transactions', () => {
  it('read the snapshot of their start, concurrently with a long writer, and never see its commit', async () => {
    store = await openTestStore();
    await store.insert('accounts', { _id: 'ann', balance: 100 });
    const writerInside = deferred();
    const release = deferred();
    const writer = store.transaction(async (tx) => {
      await tx.update('accounts', 'ann', (d) => {
        d['balance'] = 0;
      });
      await tx.insert('accounts', { _id: 'bob', balance: 100 });
      writerInside.resolve();
      await release.promise;
    });
    await writerInside.promise;
    const readerSaw: number[] = [];
    const readerReady = deferred();
    const readerGo = deferred();
    const reader = store.transaction(
      async (tx) => {
        readerSaw.push(balance(await tx.get('accounts', 'ann')));
        readerReady.resolve();
        await readerGo.promise;
        readerSaw.push(balance(await tx.get('accounts', 'ann')));
        return (await tx.find({ collection: 'accounts' })).map((d) => d._id);
      },
      { readOnly: true },
    );
    // The reader runs while the writer holds the lock: it is not blocked by it.
    await readerReady.promise;
    release.resolve();
    await writer;
    expect(balance(await store.get('accounts', 'ann'))).toBe(0);
    readerGo.resolve();
    expect(await reader).toEqual(['ann']);
    expect(readerSaw).toEqual([100, 100]);
  });

  it('throw ReadOnlyTransactionError on every kind of write', async () => {
    store = await openTestStore();
    await store.insert('accounts', { _id: 'ann', balance: 1 });
    await store.transaction(
      async (tx) => {
        await expect(tx.insert('accounts', { _id: 'x' })).rejects.toBeInstanceOf(ReadOnlyTransactionError);
        await expect(tx.upsert('accounts', { _id: 'ann' })).rejects.toBeInstanceOf(ReadOnlyTransactionError);
        await expect(tx.update('accounts', 'ann', () => {})).rejects.toBeInstanceOf(ReadOnlyTransactionError);
        await expect(tx.delete('accounts', 'ann')).rejects.toThrow(/is a write, but transaction 'audit' is read-only/);
        await tx.transaction(async (inner) => {
          await expect(inner.insert('accounts', { _id: 'y' })).rejects.toBeInstanceOf(ReadOnlyTransactionError);
        });
      },
      { readOnly: true, hint: 'audit' },
    );
    expect((await store.find({ collection: 'accounts' })).length).toBe(1);
  });
});

describe('each operation is atomic', () => {
  it('a failed operation caught inside the block leaves no trace and the transaction goes on', async () => {
    store = await openTestStore();
    await store.insert('accounts', { _id: 'ann', balance: 100 });
    await store.transaction(async (tx) => {
      await expect(tx.insert('accounts', { _id: 'ann', balance: 5 })).rejects.toBeInstanceOf(DocumentExistsError);
      await expect(tx.update('accounts', 'nobody', () => {})).rejects.toBeInstanceOf(DocumentNotFoundError);
      await expect(
        tx.update('accounts', 'ann', (d) => {
          d['balance'] = 1;
          d['when'] = new Date();
        }),
      ).rejects.toBeInstanceOf(InvalidDocumentError);
      await expect(
        tx.update('accounts', 'ann', (d) => {
          d['balance'] = 2;
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(balance(await tx.get('accounts', 'ann'))).toBe(100);
      await tx.update('accounts', 'ann', (d) => {
        d['balance'] = balance(d as Doc) + 1;
      });
    });
    expect(await store.get('accounts', 'ann')).toEqual({ _id: 'ann', balance: 101 });
  });

  it('rejects values that are not JSON and the reserved _deleted field', async () => {
    store = await openTestStore();
    await store.transaction(async (tx) => {
      await expect(tx.insert('c', { _id: 'a', n: Number.NaN })).rejects.toThrow(/finite/);
      await expect(tx.insert('c', { _id: 'a', f: () => 1 })).rejects.toThrow(/JSON/);
      await expect(tx.insert('c', { _id: 'a', _deleted: true })).rejects.toThrow(/reserved/);
      await expect(tx.insert('c', { _id: 'a', list: [1, undefined] })).rejects.toThrow(/undefined/);
      await expect(tx.insert('bad/name', { _id: 'a' })).rejects.toThrow(/collection/);
      await expect(tx.insert('c', { _id: 7 } as never)).rejects.toThrow(/_id must be a string/);
      await expect(tx.update('c', 'a', () => {})).rejects.toBeInstanceOf(DocumentNotFoundError);
    });
    expect(store.position).toBe(0);
  });

  it('stores -0 as 0, the way Automerge stores it, on the writer and after a reload', async () => {
    store = await openTestStore();
    await store.transaction(async (tx) => {
      await tx.insert('c', { _id: 'a', n: -0, list: [-0], inner: { m: -0 } });
      await tx.update('c', 'a', (d) => {
        d['o'] = -0;
      });
    });
    const doc = (await store.get('c', 'a')) as Doc;
    for (const v of [doc['n'], (doc['list'] as number[])[0], (doc['inner'] as { m: number }).m, doc['o']]) expect(Object.is(v, 0)).toBe(true);
    const reader = await openTestStore();
    const log = await store.readLog(0);
    await reader.applyChangesets(await Promise.all(log.map((entry) => store.changesetFor(entry))));
    expect(await reader.get('c', 'a')).toEqual(doc);
    await reader.close();
  });
});

describe('nested transactions', () => {
  it("reproduces Drift's sequence: first and second exist, third does not", async () => {
    store = await openTestStore();
    const emissions: string[][] = [];
    const stop = store.observe({ collection: 'items' }, (docs) => emissions.push(docs.map((d) => d._id)));
    await store.transaction(async (tx) => {
      await tx.insert('items', { _id: 'first' });
      await tx.transaction(async (inner) => {
        expect(await inner.get('items', 'first')).toBeDefined();
        await inner.insert('items', { _id: 'second' });
      });
      try {
        await tx.transaction(async (inner) => {
          await inner.insert('items', { _id: 'third' });
          expect(await inner.get('items', 'third')).toBeDefined();
          throw new Error('third fails');
        });
      } catch (err) {
        expect((err as Error).message).toBe('third fails');
      }
      expect((await tx.find({ collection: 'items' })).map((d) => d._id)).toEqual(['first', 'second']);
    });
    stop();
    expect((await store.find({ collection: 'items' })).map((d) => d._id)).toEqual(['first', 'second']);
    // The live query saw the empty start, then the whole outer transaction once.
    expect(emissions).toEqual([[], ['first', 'second']]);
  });

  it('refuses the outer tx while a nested one runs, and a nested rollback discards only its writes', async () => {
    store = await openTestStore();
    await store.transaction(async (tx) => {
      await tx.insert('items', { _id: 'outer' });
      const gate = deferred();
      const nested = tx.transaction(async (inner) => {
        await inner.insert('items', { _id: 'inner' });
        await gate.promise;
        inner.rollback();
      });
      await expect(tx.insert('items', { _id: 'meanwhile' })).rejects.toBeInstanceOf(NestedTransactionActiveError);
      gate.resolve();
      await nested;
      await tx.insert('items', { _id: 'after' });
    });
    expect((await store.find({ collection: 'items' })).map((d) => d._id)).toEqual(['after', 'outer']);
  });
});

describe('misuse gets typed errors, never a hang', () => {
  it('using tx after its block settled throws TransactionClosedError', async () => {
    store = await openTestStore();
    let leaked: Transaction | undefined;
    await store.transaction((tx) => {
      leaked = tx;
    });
    await expect(leaked!.get('items', 'a')).rejects.toBeInstanceOf(TransactionClosedError);
    await expect(leaked!.insert('items', { _id: 'a' })).rejects.toThrow(/after its block settled/);
    expect(() => leaked!.observe({ collection: 'items' }, () => {})).toThrow(TransactionClosedError);
    expect(await store.get('items', 'a')).toBeUndefined();
  });

  it('a block that returns without awaiting an operation fails the commit, naming it', async () => {
    store = await openTestStore();
    const attempt = store.transaction(async (tx) => {
      await tx.insert('accounts', { _id: 'ann', balance: 1 });
      // eslint-disable-next-line @typescript-eslint/no-floating-promises -- the bug under test
      tx.update('accounts', 'ann', (d) => {
        d['balance'] = 2;
      });
    }, { hint: 'sloppy' });
    await expect(attempt).rejects.toBeInstanceOf(UnawaitedOperationError);
    await expect(attempt).rejects.toThrow(`transaction 'sloppy' was rolled back: its block returned without awaiting tx.update("accounts", "ann")`);
    expect(await store.get('accounts', 'ann')).toBeUndefined();
  });

  it('an unawaited failing operation fails the commit with the failure as cause, and no unhandled rejection', async () => {
    store = await openTestStore();
    await store.insert('accounts', { _id: 'ann' });
    const err = await store
      .transaction(async (tx) => {
        // eslint-disable-next-line @typescript-eslint/no-floating-promises -- the bug under test
        tx.insert('accounts', { _id: 'ann' });
        await new Promise<void>((r) => setTimeout(r, 5));
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnawaitedOperationError);
    expect((err as Error).cause).toBeInstanceOf(DocumentExistsError);
  });

  it('a nested transaction still running when the block returns fails the commit', async () => {
    store = await openTestStore();
    const gate = deferred();
    const attempt = store.transaction((tx) => {
      void tx.transaction(async (inner) => {
        await gate.promise;
        await inner.insert('items', { _id: 'late' });
      });
    });
    await expect(attempt).rejects.toThrow(/tx\.transaction\(\)/);
    gate.resolve();
    expect(await store.get('items', 'late')).toBeUndefined();
  });

  it.runIf(tracksAsyncContext)('a store write or read-write transaction inside a read-write block is refused with a hint to use tx', async () => {
    store = await openTestStore();
    await store.transaction(
      async () => {
        await expect(store.insert('items', { _id: 'x' })).rejects.toBeInstanceOf(TransactionDeadlockError);
        await expect(store.transaction(() => 1)).rejects.toThrow(/inside read-write transaction 'outer'.*use tx\.transaction\(\)/);
        // A read-only transaction does not wait for the writer: allowed.
        expect(await store.transaction(() => 'fine', { readOnly: true })).toBe('fine');
      },
      { hint: 'outer' },
    );
    // After the block, code it scheduled is no longer inside it.
    expect(await store.insert('items', { _id: 'y' })).toEqual({ _id: 'y' });
  });

  it('rejects an async update function instead of guessing', async () => {
    store = await openTestStore();
    await store.insert('items', { _id: 'a', n: 1 });
    await store.transaction(async (tx) => {
      await expect(tx.update('items', 'a', (async () => {}) as never)).rejects.toThrow(/must be synchronous/);
    });
  });
});

describe('fixes found in review', () => {
  it('a throwing tx.observe callback does not undo the write it observed', async () => {
    store = await openTestStore();
    await store.transaction(async (tx) => {
      tx.observe({ collection: 'items' }, (docs) => {
        if (docs.length > 0) throw new Error('observer bug');
      });
      await expect(tx.insert('items', { _id: 'a' })).resolves.toEqual({ _id: 'a' });
    });
    expect(await store.get('items', 'a')).toEqual({ _id: 'a' });
  });

  it('a nested transaction that failed and was never awaited fails the commit', async () => {
    store = await openTestStore();
    const attempt = store.transaction(async (tx) => {
      // eslint-disable-next-line @typescript-eslint/no-floating-promises -- the bug under test
      tx.transaction(() => {
        throw new Error('nested failure');
      });
      await new Promise<void>((r) => setImmediate(r));
      await tx.insert('items', { _id: 'outer' });
    });
    await expect(attempt).rejects.toBeInstanceOf(UnawaitedOperationError);
    expect(await store.get('items', 'outer')).toBeUndefined();
  });

  it('counters take whole numbers only', async () => {
    store = await openTestStore();
    await store.insert('pages', { _id: 'p', views: new Counter(1) });
    await expect(store.update('pages', 'p', (d) => void (d['views'] = 1.5))).rejects.toThrow(/whole numbers/);
    expect(() => new Counter(0.5)).toThrow(/safe integer/);
    expect((await store.get('pages', 'p'))?.['views']).toBe(1);
  });

  it.runIf(tracksAsyncContext)('refresh() and close() inside a read-write block are refused instead of hanging', async () => {
    store = await openTestStore();
    await store.transaction(async () => {
      await expect(store.refresh()).rejects.toBeInstanceOf(TransactionDeadlockError);
      await expect(store.close()).rejects.toBeInstanceOf(TransactionDeadlockError);
    });
    expect(store.closed).toBe(false);
  });
});

describe('close', () => {
  it('waits for pending transactions, then rejects new ones with StoreClosedError', async () => {
    store = await openTestStore();
    const gate = deferred();
    const running = store.transaction(async (tx) => {
      await gate.promise;
      await tx.insert('items', { _id: 'a' });
    });
    const queued = store.transaction((tx) => tx.insert('items', { _id: 'b' }));
    let closed = false;
    const closing = store.close().then(() => (closed = true));
    await expect(store.transaction(() => 1)).rejects.toBeInstanceOf(StoreClosedError);
    await expect(store.insert('items', { _id: 'c' })).rejects.toBeInstanceOf(StoreClosedError);
    await new Promise<void>((r) => setImmediate(r));
    expect(closed).toBe(false);
    gate.resolve();
    await Promise.all([running, queued, closing]);
    expect(closed).toBe(true);
    await expect(store.get('items', 'a')).rejects.toBeInstanceOf(StoreClosedError);
  });
});
