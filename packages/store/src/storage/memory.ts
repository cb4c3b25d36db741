import {
  StorageError,
  checkRangeOptions,
  checkStorageBatch,
  checkStorageKey,
  type RangeOptions,
  type StorageAdapter,
  type StorageBatch,
  type StorageEntry,
  type StorageKey,
} from './adapter.js';

/**
 * Storage in memory: the default for tests and for peers that need no persistence. Values
 * are copied in and out, so a caller that reuses a buffer cannot change what is stored.
 *
 * Several stores may share one instance (as tabs share one IndexedDB database); `reopen()`
 * gives a fresh handle onto the same data after `close()`, as a restarted process would get.
 */
export class MemoryStorageAdapter implements StorageAdapter {
  readonly #data: Map<string, StorageEntry>;
  /** Every encoded key in key order, shared by every handle on the same data. */
  readonly #sorted: SortedKeys;
  #closed = false;

  /** @param data - The backing map; omit it for empty storage (share data through {@link MemoryStorageAdapter.reopen}). */
  constructor(data: Map<string, StorageEntry> = new Map()) {
    this.#data = data;
    let sorted = SORTED.get(data);
    if (!sorted) {
      // Encoded keys sort as the keys do: NUL, the separator, sorts below every character a segment may hold.
      sorted = new SortedKeys([...data.keys()].sort(compareStrings));
      SORTED.set(data, sorted);
    }
    this.#sorted = sorted;
  }

  /** A new, open handle onto the same data. */
  reopen(): MemoryStorageAdapter {
    return new MemoryStorageAdapter(this.#data);
  }

  /** See {@link StorageAdapter.get}. Returns a copy, so the caller may keep or change it. */
  async get(key: StorageKey): Promise<Uint8Array | undefined> {
    this.#checkOpen();
    checkStorageKey(key);
    return this.#data.get(encode(key))?.value.slice();
  }

  /**
   * See {@link StorageAdapter.getRange}. A binary search in the sorted key index, then a walk
   * over the entries returned: O(log n + returned).
   */
  async getRange(prefix: StorageKey, options: RangeOptions = {}): Promise<StorageEntry[]> {
    this.#checkOpen();
    checkStorageKey(prefix);
    checkRangeOptions(options);
    const p = encode(prefix);
    const children = `${p}\u0000`;
    // Keys whose next segment is `after`, or starts it, sort below `after` followed by \u0001
    // (no segment holds NUL); every greater segment sorts at or above it.
    const from = options.after === undefined ? p : `${children}${options.after}\u0001`;
    const limit = options.limit ?? Infinity;
    const out: StorageEntry[] = [];
    if (limit === 0) return out;
    for (const k of this.#sorted.from(from)) {
      if (k !== p && !k.startsWith(children)) break;
      const entry = this.#data.get(k) as StorageEntry;
      out.push({ key: entry.key, value: entry.value.slice() });
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * See {@link StorageAdapter.write}. The whole batch is checked before anything is applied, so
   * a bad batch leaves nothing behind. "Durable" here means only: visible to later reads and
   * to {@link MemoryStorageAdapter.reopen} handles in this process.
   */
  async write(batch: StorageBatch): Promise<void> {
    this.#checkOpen();
    checkStorageBatch(batch);
    for (const { key, value } of batch.put ?? []) {
      const k = encode(key);
      if (!this.#data.has(k)) this.#sorted.insert(k);
      this.#data.set(k, { key: [...key], value: value.slice() });
    }
    for (const key of batch.delete ?? []) {
      const k = encode(key);
      if (this.#data.delete(k)) this.#sorted.remove(k);
    }
  }

  /** See {@link StorageAdapter.close}. Only this handle closes; the data stays for {@link MemoryStorageAdapter.reopen}. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError('storage is closed');
  }
}

/** The sorted key index of each backing map, so that every handle onto it shares one. */
const SORTED = new WeakMap<Map<string, StorageEntry>, SortedKeys>();

function encode(key: StorageKey): string {
  return key.join('\u0000');
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The index of the first element not below `key`. */
function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Keys per block of {@link SortedKeys}: a block is split when it holds twice as many. */
const BLOCK = 512;

/**
 * Strings in sorted order, kept in blocks of at most 2 × {@link BLOCK}: an insert or delete
 * moves at most one block's elements (a single sorted array would move half of all keys, and
 * log entries, chunks and records are all inserted in the middle of the key order).
 */
class SortedKeys {
  readonly #blocks: string[][] = [];
  /** The last key of each block. */
  readonly #maxes: string[] = [];

  constructor(sorted: readonly string[]) {
    for (let i = 0; i < sorted.length; i += BLOCK) {
      const block = sorted.slice(i, i + BLOCK);
      this.#blocks.push(block);
      this.#maxes.push(block[block.length - 1] as string);
    }
  }

  insert(key: string): void {
    if (this.#blocks.length === 0) {
      this.#blocks.push([key]);
      this.#maxes.push(key);
      return;
    }
    const b = Math.min(lowerBound(this.#maxes, key), this.#blocks.length - 1);
    const block = this.#blocks[b] as string[];
    const at = lowerBound(block, key);
    if (at === block.length) block.push(key);
    else block.splice(at, 0, key);
    this.#maxes[b] = block[block.length - 1] as string;
    if (block.length > 2 * BLOCK) {
      const upper = block.splice(BLOCK);
      this.#blocks.splice(b + 1, 0, upper);
      this.#maxes.splice(b, 1, block[block.length - 1] as string, upper[upper.length - 1] as string);
    }
  }

  remove(key: string): void {
    const b = lowerBound(this.#maxes, key);
    const block = this.#blocks[b];
    if (!block) return;
    const at = lowerBound(block, key);
    if (block[at] !== key) return;
    block.splice(at, 1);
    if (block.length === 0) {
      this.#blocks.splice(b, 1);
      this.#maxes.splice(b, 1);
    } else {
      this.#maxes[b] = block[block.length - 1] as string;
    }
  }

  /** Keys from the first one not below `key`, in order. */
  *from(key: string): Generator<string> {
    for (let b = lowerBound(this.#maxes, key); b < this.#blocks.length; b++) {
      const block = this.#blocks[b] as string[];
      for (let i = b === 0 || (this.#maxes[b - 1] as string) < key ? lowerBound(block, key) : 0; i < block.length; i++) yield block[i] as string;
    }
  }
}
