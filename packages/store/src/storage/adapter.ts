import { AtollError } from '@atoll/protocol';

/**
 * A storage key: a path of string segments. Range reads match whole segments, so the prefix
 * `['a', 'sync']` covers `['a', 'sync', …]` but never `['a', 'sync-state']`. Segments are
 * non-empty and contain no NUL character.
 */
export type StorageKey = readonly string[];

/** One stored value. */
export interface StorageEntry {
  /** Where the value is stored. */
  readonly key: StorageKey;
  /** The bytes; adapters copy them, so neither side's later changes leak to the other. */
  readonly value: Uint8Array;
}

/** What one atomic write does: puts, then deletes, all or nothing. */
export interface StorageBatch {
  /** Entries to write, replacing any value at their keys. */
  readonly put?: readonly StorageEntry[];
  /** Keys to remove (a missing key is not an error). Applied after the puts. */
  readonly delete?: readonly StorageKey[];
}

/** Options for {@link StorageAdapter.getRange}. */
export interface RangeOptions {
  /** Only keys whose segment right after the prefix is greater than this (code-unit order). */
  readonly after?: string;
  /** At most this many entries: a non-negative integer (0 returns nothing). */
  readonly limit?: number;
}

/**
 * What the store needs from a persistence backend, and nothing more: a sorted key-value map
 * with atomic, durable batches. All meaning (documents, logs, snapshots) lives in the store.
 *
 * Implementations run `runStorageAdapterTests` from `@atoll/store/testing`.
 */
export interface StorageAdapter {
  /** The value at `key`, or `undefined`. */
  get(key: StorageKey): Promise<Uint8Array | undefined>;
  /**
   * Every entry whose key starts with `prefix` (whole segments; the prefix itself included),
   * sorted by key, segment by segment.
   */
  getRange(prefix: StorageKey, options?: RangeOptions): Promise<StorageEntry[]>;
  /**
   * Applies a batch as one storage transaction: when the promise resolves every put and delete
   * is durable to the adapter's stated level (each adapter documents it: SQLite's default
   * survives power loss, IndexedDB's default a browser crash); when it rejects (with a
   * {@link StorageError}) none of them happened.
   */
  write(batch: StorageBatch): Promise<void>;
  /**
   * Set when `write` does its I/O synchronously, blocking the event loop until durable
   * (better-sqlite3). The store then lets the event loop turn before writing what it has just
   * forwarded to other peers, so the forwarded messages leave first.
   */
  readonly blocksEventLoop?: boolean;
  /**
   * Releases the backend once the operations in flight have ended. Idempotent; any later call
   * rejects with {@link StorageError}.
   */
  close(): Promise<void>;
}

/** A storage backend failed or was used wrongly (after close, with a bad key or value). */
export class StorageError extends AtollError {}

/** Throws {@link StorageError} unless `key` is a valid {@link StorageKey}. */
export function checkStorageKey(key: unknown): asserts key is StorageKey {
  if (!Array.isArray(key) || key.length === 0) throw new StorageError('a storage key is a non-empty array of strings');
  for (const seg of key) {
    if (typeof seg !== 'string' || seg.length === 0 || seg.includes('\u0000')) {
      throw new StorageError(`invalid storage key segment ${JSON.stringify(seg)}: use non-empty strings without NUL`);
    }
  }
}

/** Throws {@link StorageError} unless `options` are valid range options. */
export function checkRangeOptions(options: RangeOptions): void {
  const { limit, after } = options;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw new StorageError(`limit must be a non-negative integer, got ${limit}`);
  if (after !== undefined && typeof after !== 'string') throw new StorageError('after must be a string');
}

/** Throws {@link StorageError} unless every key and value of the batch is valid. */
export function checkStorageBatch(batch: StorageBatch): void {
  if (batch === null || typeof batch !== 'object') throw new StorageError('a batch is an object with put and/or delete');
  for (const { key, value } of batch.put ?? []) {
    checkStorageKey(key);
    if (!(value instanceof Uint8Array)) throw new StorageError(`the value for ${key.join('/')} is not a Uint8Array`);
  }
  for (const key of batch.delete ?? []) checkStorageKey(key);
}

/** Orders keys segment by segment, by UTF-16 code units. */
export function compareStorageKeys(a: StorageKey, b: StorageKey): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}
