import {
  StorageError,
  checkRangeOptions,
  checkStorageBatch,
  checkStorageKey,
  compareStorageKeys,
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
  #closed = false;

  /** @param data - The backing map; omit it for empty storage (share data through {@link MemoryStorageAdapter.reopen}). */
  constructor(data: Map<string, StorageEntry> = new Map()) {
    this.#data = data;
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

  /** See {@link StorageAdapter.getRange}. A scan of everything: fine for tests, not for big data. */
  async getRange(prefix: StorageKey, options: RangeOptions = {}): Promise<StorageEntry[]> {
    this.#checkOpen();
    checkStorageKey(prefix);
    checkRangeOptions(options);
    const p = encode(prefix);
    const out: StorageEntry[] = [];
    for (const [k, entry] of this.#data) {
      if (k !== p && !k.startsWith(`${p}\u0000`)) continue;
      if (options.after !== undefined) {
        const next = entry.key[prefix.length];
        if (next === undefined || next <= options.after) continue;
      }
      out.push({ key: entry.key, value: entry.value.slice() });
    }
    out.sort((a, b) => compareStorageKeys(a.key, b.key));
    return options.limit === undefined ? out : out.slice(0, options.limit);
  }

  /**
   * See {@link StorageAdapter.write}. The whole batch is checked before anything is applied, so
   * a bad batch leaves nothing behind. "Durable" here means only: visible to later reads and
   * to {@link MemoryStorageAdapter.reopen} handles in this process.
   */
  async write(batch: StorageBatch): Promise<void> {
    this.#checkOpen();
    checkStorageBatch(batch);
    for (const { key, value } of batch.put ?? []) this.#data.set(encode(key), { key: [...key], value: value.slice() });
    for (const key of batch.delete ?? []) this.#data.delete(encode(key));
  }

  /** See {@link StorageAdapter.close}. Only this handle closes; the data stays for {@link MemoryStorageAdapter.reopen}. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError('storage is closed');
  }
}

function encode(key: StorageKey): string {
  return key.join('\u0000');
}
