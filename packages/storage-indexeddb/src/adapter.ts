import {
  StorageError,
  checkStorageBatch,
  checkStorageKey,
  type RangeOptions,
  type StorageAdapter,
  type StorageBatch,
  type StorageEntry,
  type StorageKey,
} from '@atoll/store';
import { unwrap } from 'idb';
import { SCHEMA_VERSION, STORE, describe, openConnection, type AtollDb } from './connection.js';
import { IndexedDbTerminatedError, IndexedDbVersionChangeError } from './errors.js';

/**
 * How hard a write works to survive a crash before its promise resolves.
 *
 * - `'relaxed'`: the browser has handed the data to the operating system. It survives the tab
 *   or the whole browser crashing, but not the machine losing power or the OS crashing.
 * - `'strict'`: the data has also been flushed to the disk. It survives power loss, and each
 *   write costs a disk flush, so writes are much slower.
 */
export type IndexedDbDurability = 'relaxed' | 'strict';

/** Options for {@link IndexedDbStorageAdapter.open}. */
export interface IndexedDbStorageOptions {
  /**
   * The IndexedDB to use instead of the global `indexedDB`: a worker's, or a fresh
   * fake-indexeddb `IDBFactory` per test. `idb` and the key ranges use the global IndexedDB
   * classes (`IDBKeyRange`, `IDBDatabase`, …), so they must come from the same implementation:
   * in Node, `import 'fake-indexeddb/auto'` first.
   */
  readonly indexedDB?: IDBFactory;
  /**
   * Defaults to `'relaxed'`, which is what browsers give by default and what most apps want:
   * a write survives the browser crashing. See {@link IndexedDbDurability}.
   */
  readonly durability?: IndexedDbDurability;
}

/** Why the adapter no longer accepts calls. */
type Closed =
  | { readonly by: 'close' }
  | { readonly by: 'versionchange'; readonly newVersion: number | null }
  | { readonly by: 'terminated' };

/** `getAll`'s `count` is an unsigned long: larger limits mean "all". */
const MAX_COUNT = 2 ** 32 - 1;

/**
 * Persists an Atoll store in the browser's IndexedDB: the {@link StorageAdapter} for browser
 * peers, where every tab of a profile opens the same database by name.
 *
 * Keys are stored as IndexedDB array keys, which sort exactly as storage keys do, so range
 * reads are key ranges served by the database's own index. Each `write` is one IndexedDB
 * transaction: all of a batch or none of it.
 *
 * When another tab upgrades or deletes the database, this adapter closes its connection so the
 * other side is not blocked, and rejects every later call with
 * {@link IndexedDbVersionChangeError}; when the browser closes the connection itself, with
 * {@link IndexedDbTerminatedError}.
 *
 * @example
 * const storage = await IndexedDbStorageAdapter.open('my-app');
 * await storage.write({ put: [{ key: ['doc', 'a'], value: new Uint8Array([1, 2, 3]) }] });
 * const docs = await storage.getRange(['doc']);
 * await storage.close();
 */
export class IndexedDbStorageAdapter implements StorageAdapter {
  /** The database name: open another adapter with it to reach the same data. */
  readonly name: string;
  /** How hard each write works to survive a crash. */
  readonly durability: IndexedDbDurability;

  readonly #db: AtollDb;
  #closed: Closed | undefined;
  /**
   * Transactions still running, reads included: a read's promise resolves before its
   * transaction ends, and the connection only really closes after its last transaction.
   */
  readonly #running = new Set<Promise<void>>();

  private constructor(name: string, db: AtollDb, durability: IndexedDbDurability) {
    this.name = name;
    this.durability = durability;
    this.#db = db;
    // Another connection wants to upgrade or delete the database. Holding on would block it
    // (and every tab opening the app after it), so let go now; transactions already running
    // still finish.
    db.addEventListener('versionchange', (event) => {
      this.#closed ??= { by: 'versionchange', newVersion: event.newVersion };
      db.close();
    });
    // The browser closed the connection on its own (site data cleared, disk failure).
    db.addEventListener('close', () => {
      this.#closed ??= { by: 'terminated' };
    });
  }

  /**
   * Opens (creating it if needed) the database `name`. Opening the same name again, in this
   * tab or another, gives another handle onto the same data; that is also how to reopen after
   * {@link close}.
   *
   * Rejects with {@link IndexedDbBlockedError} when a schema upgrade is held up by a connection
   * that will not close, and with {@link StorageError} when the database belongs to a newer
   * version of the app or to someone else.
   *
   * @example
   * const storage = await IndexedDbStorageAdapter.open('my-app', { durability: 'strict' });
   */
  static async open(name: string, options: IndexedDbStorageOptions = {}): Promise<IndexedDbStorageAdapter> {
    if (typeof name !== 'string') throw new StorageError('an IndexedDB database name is a string');
    const durability = options.durability ?? 'relaxed';
    if (durability !== 'relaxed' && durability !== 'strict') {
      throw new StorageError(`unknown durability ${JSON.stringify(durability)}: use 'relaxed' or 'strict'`);
    }
    const factory = options.indexedDB ?? globalThis.indexedDB;
    // idb recognises IndexedDB objects by the global classes; without them it fails deep inside
    // with a ReferenceError, so say what is missing here.
    if (factory === undefined || typeof IDBKeyRange === 'undefined' || typeof IDBDatabase === 'undefined') {
      throw new StorageError("IndexedDB is not available here: in Node, import 'fake-indexeddb/auto' before opening");
    }
    const db = await openConnection(factory, name, SCHEMA_VERSION);
    return new IndexedDbStorageAdapter(name, db, durability);
  }

  /** The value at `key`, or `undefined`; a fresh copy the caller may keep and change. */
  async get(key: StorageKey): Promise<Uint8Array | undefined> {
    this.#checkOpen();
    checkStorageKey(key);
    try {
      const tx = this.#db.transaction(STORE, 'readonly');
      this.#track(tx.done);
      const value = await tx.store.get(idbKey(key));
      return value === undefined ? undefined : checkValue(value, key);
    } catch (error) {
      throw this.#failure('get', error);
    }
  }

  /**
   * Entries under `prefix`, in key order. Served by one key range on the store's own index, so
   * its cost follows the entries returned (at most `limit`), not the size of the database.
   */
  async getRange(prefix: StorageKey, options: RangeOptions = {}): Promise<StorageEntry[]> {
    this.#checkOpen();
    checkStorageKey(prefix);
    const { after, limit } = options;
    if (after !== undefined && typeof after !== 'string') throw new StorageError('getRange: after is a string');
    if (limit !== undefined && !((Number.isInteger(limit) || limit === Infinity) && limit >= 0)) {
      throw new StorageError(`getRange: limit is a non-negative integer, not ${limit}`);
    }
    // IndexedDB reads a count of 0 as "no limit".
    if (limit === 0) return [];
    // Arrays sort after strings, so `[...prefix, []]` lies after every key that extends the
    // prefix and before the next sibling (`['a', 'sync']` < `['a', 'sync', []]` <
    // `['a', 'sync-state']`); likewise `[...prefix, after, []]` after everything under `after`.
    const upper = [...prefix, []];
    const range =
      after === undefined ? IDBKeyRange.bound([...prefix], upper, false, true) : IDBKeyRange.bound([...prefix, after, []], upper, true, true);
    const count = limit === undefined || limit > MAX_COUNT ? undefined : limit;
    try {
      // Two requests in one transaction read the same snapshot, so keys and values line up.
      const tx = this.#db.transaction(STORE, 'readonly');
      this.#track(tx.done);
      const [keys, values] = await Promise.all([tx.store.getAllKeys(range, count), tx.store.getAll(range, count)]);
      return keys.map((key, i) => ({ key, value: checkValue(values[i], key) }));
    } catch (error) {
      throw this.#failure('getRange', error);
    }
  }

  /**
   * Applies the batch as one read-write transaction, resolving when it has committed with this
   * adapter's {@link durability}; on any failure nothing of the batch remains and it rejects
   * with a {@link StorageError} whose `cause` is the browser's error (a `QuotaExceededError`,
   * say). Writes from every tab are applied one at a time in the order they were made.
   */
  async write(batch: StorageBatch): Promise<void> {
    this.#checkOpen();
    // Validate everything before the transaction exists: a bad entry must not cost a rollback,
    // and must never leave the entries before it written.
    checkStorageBatch(batch);
    const puts = batch.put ?? [];
    const deletes = batch.delete ?? [];
    if (puts.length === 0 && deletes.length === 0) return;

    let outcome: Promise<void>;
    try {
      const tx = this.#db.transaction(STORE, 'readwrite', { durability: this.durability });
      outcome = tx.done;
      this.#track(outcome);
      // Raw requests, not idb's promises: the transaction's outcome is the batch's outcome (a
      // failed request aborts it and `tx.done` says why), and a promise per request would only
      // add unhandled rejections.
      const store = unwrap(tx.store);
      try {
        for (const { key, value } of puts) store.put(storable(value), idbKey(key));
        for (const key of deletes) store.delete(idbKey(key));
      } catch (error) {
        // A request refused synchronously; without an abort the requests already made would
        // commit on their own.
        abort(tx);
        await outcome.catch(() => undefined); // the abort is reported by `error` below
        throw error;
      }
    } catch (error) {
      throw this.#failure('write', error);
    }

    try {
      await outcome;
    } catch (error) {
      throw this.#failure('write', error);
    }
  }

  /**
   * Closes the connection and resolves once its transactions have ended, so that by then every
   * write through this adapter is as durable as it promised and the connection no longer holds
   * up another tab's upgrade or a deletion of the database (Chromium reports those `blocked`
   * until the last transaction of a closing connection ends). Idempotent.
   */
  async close(): Promise<void> {
    this.#closed ??= { by: 'close' };
    // IndexedDB lets the running transactions finish before the connection really closes.
    this.#db.close();
    await Promise.all(this.#running);
  }

  /** Keeps `done` in {@link #running} until it settles. */
  #track(done: Promise<void>): void {
    // Only the settling matters here: failures reach the caller of the operation itself.
    const ended = done.then(
      () => undefined,
      () => undefined,
    );
    this.#running.add(ended);
    void ended.then(() => this.#running.delete(ended));
  }

  #checkOpen(): void {
    const closed = this.#closed;
    if (closed !== undefined) throw closedError(this.name, closed);
  }

  /** A StorageError for a failed request, naming the reason when the connection was lost. */
  #failure(op: string, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    const closed = this.#closed;
    if (closed !== undefined) return closedError(this.name, closed, error);
    return new StorageError(`IndexedDB ${op} on "${this.name}" failed: ${describe(error)}`, { cause: error });
  }
}

function closedError(name: string, closed: Closed, cause?: unknown): StorageError {
  const options = cause === undefined ? undefined : { cause };
  switch (closed.by) {
    case 'close':
      return new StorageError(`IndexedDB storage "${name}" is closed`, options);
    case 'versionchange':
      return new IndexedDbVersionChangeError(
        closed.newVersion === null
          ? `IndexedDB database "${name}" is being deleted by another connection (another tab?), so this one closed: reload to continue`
          : `IndexedDB database "${name}" is being upgraded to version ${closed.newVersion} by another connection (a newer tab?), so this one closed: reload to continue`,
        closed.newVersion,
        options,
      );
    case 'terminated':
      return new IndexedDbTerminatedError(
        `the browser closed IndexedDB database "${name}" (site data cleared, or a storage failure): open it again to continue`,
        options,
      );
  }
}

/**
 * IndexedDB copies a key when it is used, so the caller's array can go in as it is; the cast only
 * drops `readonly`, which idb's key type does not allow.
 */
function idbKey(key: StorageKey): string[] {
  return key as string[];
}

/**
 * What to hand to `put`. IndexedDB clones the value when `put` is called, so a caller that reuses
 * its buffer afterwards changes nothing. But the clone keeps the whole underlying buffer and the
 * class: a `subarray` of a large buffer, or a Node `Buffer` from its shared pool, would store
 * every byte of that buffer, and a view of a SharedArrayBuffer cannot be stored at all. Those get
 * a tight copy; a plain, whole Uint8Array goes as it is.
 */
function storable(value: Uint8Array): Uint8Array {
  const plain =
    value.constructor === Uint8Array &&
    value.byteOffset === 0 &&
    value.byteLength === value.buffer.byteLength &&
    value.buffer instanceof ArrayBuffer;
  return plain ? value : new Uint8Array(value);
}

/**
 * Values come back from IndexedDB freshly deserialised on every read, so they are the caller's
 * to keep and need no copy; but anything else in the store means it was not written by us.
 */
function checkValue(value: unknown, key: StorageKey): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new StorageError(`the value stored at ${key.join('/')} is not a Uint8Array: the database is corrupt or was written by other code`);
}

/** Aborts `tx` unless it already finished or is aborting, which `abort()` would throw for. */
function abort(tx: { abort(): void }): void {
  try {
    tx.abort();
  } catch (error) {
    // InvalidStateError: the transaction is already finished or aborting, which is the goal.
    if (!(error instanceof DOMException && error.name === 'InvalidStateError')) throw error;
  }
}
