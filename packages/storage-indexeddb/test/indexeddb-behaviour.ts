// What the IndexedDB adapter does beyond the StorageAdapter contract: several connections on
// one database, other connections upgrading or deleting it, failed transactions. Shared by the
// fake-indexeddb (Node) and real Chromium test files, so both implementations answer the same
// questions.
import { StorageError } from '@atoll/store';
import { afterEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, STORE, openConnection } from '../src/connection.js';
import { IndexedDbBlockedError, IndexedDbStorageAdapter, IndexedDbVersionChangeError, type IndexedDbStorageOptions } from '../src/index.js';

export interface IndexedDbTestEnv {
  /** The IndexedDB the test uses: a fresh fake per test in Node, the page's in a browser. */
  factory(): IDBFactory;
  /** A database name no other test uses. */
  uniqueName(): string;
}

const bytes = (...xs: number[]) => new Uint8Array(xs);

/** Resolves with a request's result on `success`, rejects on `error`. */
export function settle<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    request.addEventListener('success', () => resolve(request.result));
    request.addEventListener('error', (event) => {
      event.preventDefault();
      reject(request.error ?? new Error('request failed'));
    });
  });
}

/**
 * Like {@link settle} for an open or delete request, but fails at once on `blocked`: a
 * connection that did not step aside would otherwise make the test wait forever.
 */
export function settleUnblocked(request: IDBOpenDBRequest): Promise<IDBDatabase> {
  return new Promise<IDBDatabase>((resolve, reject) => {
    request.addEventListener('blocked', () => reject(new Error('blocked: a connection did not close on versionchange')));
    settle(request).then(resolve, reject);
  });
}

/**
 * An IDBFactory that hands the adapter the real one but remembers the databases it opened, so a
 * test can reach the raw connection behind an adapter (to inject faults) without the adapter
 * exposing it.
 */
export function recordingFactory(inner: IDBFactory): { factory: IDBFactory; connections: () => IDBDatabase[] } {
  const requests: IDBOpenDBRequest[] = [];
  const factory = {
    open: (name: string, version?: number) => {
      const request = inner.open(name, version);
      requests.push(request);
      return request;
    },
    deleteDatabase: (name: string) => inner.deleteDatabase(name),
    cmp: (a: unknown, b: unknown) => inner.cmp(a, b),
    databases: () => inner.databases(),
  } satisfies IDBFactory;
  return { factory, connections: () => requests.filter((r) => r.readyState === 'done' && r.error === null).map((r) => r.result) };
}

/**
 * Makes the next read-write transaction on `db` misbehave: `onStore` gets its object store as
 * soon as the transaction is created, before the adapter makes any request.
 */
function injectFault(db: IDBDatabase, onStore: (store: IDBObjectStore, tx: IDBTransaction) => void): void {
  const original = db.transaction.bind(db);
  db.transaction = (...args: Parameters<IDBDatabase['transaction']>) => {
    const tx = original(...args);
    if (tx.mode === 'readwrite') {
      Reflect.deleteProperty(db, 'transaction'); // back to the prototype's method
      onStore(tx.objectStore(STORE), tx);
    }
    return tx;
  };
}

export function runIndexedDbBehaviourTests(label: string, env: IndexedDbTestEnv): void {
  describe(`IndexedDbStorageAdapter: ${label}`, () => {
    // Everything a test opens, so a failing test still closes it and removes its databases.
    const adapters: IndexedDbStorageAdapter[] = [];
    const raws: IDBDatabase[] = [];
    const names = new Set<string>();

    const newName = () => {
      const name = env.uniqueName();
      names.add(name);
      return name;
    };
    const open = async (name: string, options: IndexedDbStorageOptions = {}) => {
      const adapter = await IndexedDbStorageAdapter.open(name, { indexedDB: env.factory(), ...options });
      adapters.push(adapter);
      return adapter;
    };
    const openRaw = async (name: string, version?: number, onUpgrade?: (db: IDBDatabase) => void) => {
      const request = env.factory().open(name, version);
      if (onUpgrade) request.addEventListener('upgradeneeded', () => onUpgrade(request.result));
      const db = await settle(request);
      raws.push(db);
      return db;
    };

    afterEach(async () => {
      for (const adapter of adapters.splice(0)) await adapter.close();
      for (const db of raws.splice(0)) db.close();
      for (const name of names) await settle(env.factory().deleteDatabase(name));
      names.clear();
    });

    it('lets two adapters on one database see each other’s writes, as two tabs do', async () => {
      const name = newName();
      const a = await open(name);
      const b = await open(name);
      await a.write({ put: [{ key: ['doc', '1'], value: bytes(1) }] });
      await b.write({ put: [{ key: ['doc', '2'], value: bytes(2) }], delete: [['doc', '1']] });
      expect((await a.getRange(['doc'])).map((e) => [e.key, [...e.value]])).toEqual([[['doc', '2'], [2]]]);
      await a.close();
      expect(await b.get(['doc', '2'])).toEqual(bytes(2));
    });

    it('reads see the writes called before them, even without awaiting them', async () => {
      const s = await open(newName());
      const written = s.write({ put: [{ key: ['k', '1'], value: bytes(1) }] });
      const read = s.get(['k', '1']);
      const range = s.getRange(['k']);
      await written;
      expect(await read).toEqual(bytes(1));
      expect(await range).toHaveLength(1);
    });

    it('returns copies from getRange too', async () => {
      const s = await open(newName());
      await s.write({ put: [{ key: ['r', '1'], value: bytes(1, 2) }] });
      const [entry] = await s.getRange(['r']);
      entry!.value[0] = 99;
      expect(await s.get(['r', '1'])).toEqual(bytes(1, 2));
    });

    it('stores only the bytes of a view, not the whole buffer behind it', async () => {
      const s = await open(newName());
      const backing = new Uint8Array(64 * 1024).fill(7);
      backing.set([1, 2, 3], 100);
      await s.write({ put: [{ key: ['view'], value: backing.subarray(100, 103) }] });
      const read = await s.get(['view']);
      expect(read).toEqual(bytes(1, 2, 3));
      expect(read!.buffer.byteLength).toBe(3);
    });

    it('answers limit 0 with nothing, and refuses a limit that is not a count', async () => {
      const s = await open(newName());
      await s.write({ put: [{ key: ['l', '1'], value: bytes(1) }] });
      expect(await s.getRange(['l'], { limit: 0 })).toEqual([]);
      await expect(s.getRange(['l'], { limit: -1 })).rejects.toBeInstanceOf(StorageError);
      await expect(s.getRange(['l'], { limit: 1.5 })).rejects.toBeInstanceOf(StorageError);
      expect(await s.getRange(['l'], { limit: Number.MAX_SAFE_INTEGER })).toHaveLength(1);
      expect(await s.getRange(['l'], { limit: Infinity })).toHaveLength(1);
    });

    it('bounds ranges correctly at the highest code units', async () => {
      const s = await open(newName());
      const keys = [['o', '\uffff'], ['p'], ['p', '\uffff'], ['p', '\uffff', '\uffff'], ['p', '\uffff\uffff'], ['p', '\ud83c\udf34'], ['p\u0001'], ['p\uffff']];
      await s.write({ put: keys.map((key, i) => ({ key, value: bytes(i) })) });
      const keysOf = (entries: readonly { key: readonly string[] }[]) => entries.map((e) => e.key);
      expect(keysOf(await s.getRange(['p']))).toEqual([['p'], ['p', '\ud83c\udf34'], ['p', '\uffff'], ['p', '\uffff', '\uffff'], ['p', '\uffff\uffff']]);
      expect(keysOf(await s.getRange(['p'], { after: '\ud83c' }))).toEqual([['p', '\ud83c\udf34'], ['p', '\uffff'], ['p', '\uffff', '\uffff'], ['p', '\uffff\uffff']]);
      expect(keysOf(await s.getRange(['p'], { after: '\uffff' }))).toEqual([['p', '\uffff\uffff']]);
      expect(keysOf(await s.getRange(['p', '\uffff']))).toEqual([['p', '\uffff'], ['p', '\uffff', '\uffff']]);
    });

    it('refuses an unknown durability', async () => {
      await expect(open(newName(), { durability: 'fast' as 'strict' })).rejects.toBeInstanceOf(StorageError);
    });

    it('writes with strict durability too', async () => {
      const name = newName();
      const s = await open(name, { durability: 'strict' });
      expect(s.durability).toBe('strict');
      await s.write({ put: [{ key: ['s'], value: bytes(1) }] });
      await s.close();
      expect(await (await open(name)).get(['s'])).toEqual(bytes(1));
    });

    it('leaves nothing when the transaction aborts after some requests succeeded', async () => {
      const name = newName();
      const { factory, connections } = recordingFactory(env.factory());
      const s = await open(name, { indexedDB: factory });
      await s.write({ put: [{ key: ['acct', 'a'], value: bytes(100) }] });
      const [db] = connections();
      // The browser aborts a transaction on its own when, say, the quota runs out mid-batch.
      injectFault(db!, (store, tx) => {
        const put = store.put.bind(store);
        let n = 0;
        store.put = (value: unknown, key?: IDBValidKey) => {
          const request = put(value, key);
          if (++n === 2) request.addEventListener('success', () => tx.abort());
          return request;
        };
      });
      const failed = s.write({
        put: [
          { key: ['acct', 'a'], value: bytes(0) },
          { key: ['acct', 'b'], value: bytes(100) },
          { key: ['acct', 'c'], value: bytes(1) },
        ],
        delete: [['acct', 'a']],
      });
      await expect(failed).rejects.toBeInstanceOf(StorageError);
      await expect(failed).rejects.toHaveProperty('cause.name', 'AbortError');
      expect((await s.getRange(['acct'])).map((e) => [e.key.join('/'), [...e.value]])).toEqual([['acct/a', [100]]]);
      // The adapter goes on working.
      await s.write({ put: [{ key: ['acct', 'b'], value: bytes(5) }] });
      expect(await s.get(['acct', 'b'])).toEqual(bytes(5));
    });

    it('aborts the batch when a request is refused synchronously, so earlier requests do not commit', async () => {
      const name = newName();
      const { factory, connections } = recordingFactory(env.factory());
      const s = await open(name, { indexedDB: factory });
      const [db] = connections();
      injectFault(db!, (store) => {
        store.delete = () => {
          throw new DOMException('injected', 'DataError');
        };
      });
      const failed = s.write({ put: [{ key: ['x', '1'], value: bytes(1) }], delete: [['x', '2']] });
      await expect(failed).rejects.toBeInstanceOf(StorageError);
      await expect(failed).rejects.toHaveProperty('cause.name', 'DataError');
      expect(await s.getRange(['x'])).toEqual([]);
    });

    it('steps aside when another connection upgrades the database, and says so on later calls', async () => {
      const name = newName();
      const s = await open(name);
      await s.write({ put: [{ key: ['v'], value: bytes(1) }] });
      // A write still in flight when the upgrade arrives completes before the connection goes.
      const inFlight = s.write({ put: [{ key: ['w'], value: bytes(2) }] });
      const upgraded = await settleUnblocked(env.factory().open(name, SCHEMA_VERSION + 1));
      raws.push(upgraded);
      await inFlight;

      const error: unknown = await s.get(['v']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IndexedDbVersionChangeError);
      expect((error as IndexedDbVersionChangeError).newVersion).toBe(SCHEMA_VERSION + 1);
      await expect(s.write({ put: [{ key: ['v'], value: bytes(3) }] })).rejects.toBeInstanceOf(IndexedDbVersionChangeError);
      await expect(s.getRange(['v'])).rejects.toBeInstanceOf(IndexedDbVersionChangeError);
      await s.close();
      await s.close();

      const values = await settle(upgraded.transaction(STORE).objectStore(STORE).getAll());
      expect(values).toEqual([bytes(1), bytes(2)]);
      // This code cannot read the newer schema, and says so rather than guessing.
      await expect(open(name)).rejects.toThrow(/newer schema/);
    });

    it('steps aside when another connection deletes the database', async () => {
      const name = newName();
      const s = await open(name);
      await settleUnblocked(env.factory().deleteDatabase(name));
      const error: unknown = await s.get(['v']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IndexedDbVersionChangeError);
      expect((error as IndexedDbVersionChangeError).newVersion).toBeNull();
    });

    it('fails an upgrade that another connection blocks, and closes the connection it gets later', async () => {
      // openConnection, not the adapter: the adapter's schema version never goes up in a test.
      // A grace of 0 gives up as soon as the open is blocked.
      const name = newName();
      const stubborn = await openRaw(name, SCHEMA_VERSION, (db) => db.createObjectStore(STORE)); // ignores versionchange
      const factory = env.factory();
      await expect(openConnection(factory, name, SCHEMA_VERSION + 1, 0)).rejects.toBeInstanceOf(IndexedDbBlockedError);
      stubborn.close();
      // Once unblocked, the upgrade goes through and its connection is closed at once, so a
      // further upgrade can go ahead (it would wait forever on a leaked connection, which has no
      // versionchange handler; it may see a passing `blocked` while that connection closes).
      raws.push(await settle(factory.open(name, SCHEMA_VERSION + 2)));
    });

    it('closes for real: once close() resolves, deleting the database is not blocked, even with reads in flight', async () => {
      const name = newName();
      const s = await open(name);
      await s.write({ put: [{ key: ['k'], value: bytes(1) }] });
      // A read's promise resolves before its transaction ends; the connection only goes after that.
      const reads = Promise.all([s.get(['k']), s.getRange(['k'])]);
      await s.close();
      await settleUnblocked(env.factory().deleteDatabase(name));
      expect((await reads)[0]).toEqual(bytes(1));
    });

    it('waits out a connection that is already closing instead of failing on blocked', async () => {
      // Chromium reports `blocked` for a connection whose close is still pending (its last
      // transaction running), and goes ahead once it closes.
      const name = newName();
      const s = await open(name);
      await s.write({ put: [{ key: ['k'], value: bytes(1) }] });
      const read = s.get(['k']);
      const closing = s.close();
      const upgraded = await openConnection(env.factory(), name, SCHEMA_VERSION + 1);
      upgraded.close();
      await closing;
      expect(await read).toEqual(bytes(1));
    });

    it('refuses a database of the same name that Atoll did not create', async () => {
      const name = newName();
      const foreign = await openRaw(name, SCHEMA_VERSION, (db) => db.createObjectStore('something-else'));
      foreign.close();
      await expect(open(name)).rejects.toThrow(/not created by @atoll\/storage-indexeddb/);
    });
  });
}
