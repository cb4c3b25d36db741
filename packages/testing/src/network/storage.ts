import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStorageAdapter } from '@atoll/storage-sqlite';
import { MemoryStorageAdapter, type RangeOptions, type StorageAdapter, type StorageBatch, type StorageEntry, type StorageKey } from '@atoll/store';

/** Where the peers of a network keep their stores. */
export type StorageKind = 'memory' | 'sqlite';

/** A promise that never settles: what a call into a dead process returns. */
const never = <T>(): Promise<T> => new Promise<T>(() => {});

/**
 * A storage handle that can die with its process. Until {@link CrashableStorage.crash} it
 * forwards every call; from then on every call — and every call still in progress when it
 * died — never settles, as nothing more happens in a crashed process. A write the inner storage
 * had already applied stays applied (it was durable), but the store that made it never learns
 * so: its commit is neither published nor acknowledged, exactly like a process killed between
 * the disk's fsync and the application's next line.
 */
export class CrashableStorage implements StorageAdapter {
  readonly #inner: StorageAdapter;
  #dead = false;

  constructor(inner: StorageAdapter) {
    this.#inner = inner;
  }

  get dead(): boolean {
    return this.#dead;
  }

  get blocksEventLoop(): boolean {
    return this.#inner.blocksEventLoop === true;
  }

  /** Kills the handle: pending and later calls never settle. */
  crash(): void {
    this.#dead = true;
  }

  get(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#forward(() => this.#inner.get(key));
  }

  getRange(prefix: StorageKey, options?: RangeOptions): Promise<StorageEntry[]> {
    return this.#forward(() => this.#inner.getRange(prefix, options));
  }

  write(batch: StorageBatch): Promise<void> {
    return this.#forward(() => this.#inner.write(batch));
  }

  close(): Promise<void> {
    return this.#forward(() => this.#inner.close());
  }

  /** Closes the inner handle for good after a crash, to release its resources (a file). */
  async dispose(): Promise<void> {
    this.#dead = true;
    await this.#inner.close().catch(() => {});
  }

  async #forward<T>(call: () => Promise<T>): Promise<T> {
    if (this.#dead) return never();
    const result = await call();
    if (this.#dead) return never();
    return result;
  }
}

/**
 * The durable storage of one simulated peer, across its incarnations: in memory (the data map
 * survives a crash; {@link MemoryStorageAdapter.reopen} gives the restarted peer a handle onto
 * it) or an SQLite file in the network's temporary directory (reopened by path).
 */
export class PeerStorage {
  readonly kind: StorageKind;
  readonly path: string | undefined;
  #memory: MemoryStorageAdapter | undefined;
  #current: CrashableStorage | undefined;

  private constructor(kind: StorageKind, path: string | undefined) {
    this.kind = kind;
    this.path = path;
  }

  static memory(): PeerStorage {
    return new PeerStorage('memory', undefined);
  }

  static sqlite(path: string): PeerStorage {
    return new PeerStorage('sqlite', path);
  }

  /** A handle for a new incarnation of the peer: the first open, or the reopen after a crash. */
  async open(): Promise<CrashableStorage> {
    let inner: StorageAdapter;
    if (this.kind === 'memory') {
      this.#memory = this.#memory ? this.#memory.reopen() : new MemoryStorageAdapter();
      inner = this.#memory;
    } else {
      // 'normal' survives a process crash, which is what the harness simulates (not power loss).
      inner = await SqliteStorageAdapter.open(this.path as string, { durability: 'normal' });
    }
    this.#current = new CrashableStorage(inner);
    return this.#current;
  }

  /** The process died: the current handle stops answering, and its file (if any) is released. */
  crash(): void {
    const current = this.#current;
    if (!current) return;
    current.crash();
    void current.dispose();
  }
}

/** A fresh temporary directory for a network's SQLite files. */
export function tempDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'atoll-testing-'));
}

/** Removes a directory made by {@link tempDirectory}. */
export function removeDirectory(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
