import Database from 'better-sqlite3';
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
import { decodeKey, encodeKey, rangeBounds } from './key-codec.js';

/**
 * How hard a resolved `write` is to lose.
 *
 * - `'full'`: SQLite `synchronous=FULL` in WAL mode — every commit is fsynced (with
 *   `F_FULLFSYNC` where the OS has it) before `write` resolves, so it survives power loss.
 * - `'normal'`: `synchronous=NORMAL` in WAL mode — commits reach the OS but are fsynced only
 *   at checkpoints. They survive the process crashing, not the machine losing power (the
 *   last commits may then vanish, though the file stays consistent). Several times faster.
 */
export type SqliteDurability = 'full' | 'normal';

/** Options for {@link SqliteStorageAdapter.open}. */
export interface SqliteStorageOptions {
  /** Default `'full'`: a resolved write is a durable write, as the `StorageAdapter` contract says. */
  readonly durability?: SqliteDurability;
  /**
   * How long a statement waits for another connection's lock (another process, or another
   * adapter on the same file) before failing with `SQLITE_BUSY`. Default 5000 ms. The wait
   * blocks the Node event loop, because better-sqlite3 is synchronous: keep it short enough
   * that a stuck peer process cannot freeze this one for long.
   */
  readonly busyTimeoutMs?: number;
}

/** What SQLite actually applied to a connection; see {@link SqliteStorageAdapter.settings}. */
export interface SqliteStorageSettings {
  /** `'wal'` for a file; `'memory'` for `':memory:'`, where WAL does not exist. */
  readonly journalMode: string;
  readonly synchronous: 'off' | 'normal' | 'full' | 'extra';
  readonly busyTimeoutMs: number;
}

/**
 * SQLite itself failed: busy, disk full, I/O error, a corrupt file, a constraint. It is a
 * {@link StorageError}, so the store handles it like any storage failure; `code` (the SQLite
 * result code such as `'SQLITE_BUSY'`) lets operators and retry policies tell a transient
 * lock wait from a damaged disk. The original error is the `cause`.
 */
export class SqliteStorageError extends StorageError {
  /** SQLite's extended result code, e.g. `'SQLITE_BUSY'`, or `undefined` if the failure was not SQLite's. */
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Bumped when the table layout changes; a file from a newer layout is refused, not misread. */
const SCHEMA_VERSION = 1;

/**
 * The statements the adapter prepares once per connection. Exported (not from the package
 * index) so a test can check the query plan of the exact SQL the adapter runs.
 */
export const SQL = {
  createTable: 'CREATE TABLE atoll_kv (key BLOB PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID',
  get: 'SELECT value FROM atoll_kv WHERE key = ?',
  range: 'SELECT key, value FROM atoll_kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?',
  put: 'INSERT INTO atoll_kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  delete: 'DELETE FROM atoll_kv WHERE key = ?',
} as const;

const SYNCHRONOUS_NAMES = ['off', 'normal', 'full', 'extra'] as const;

interface Connection {
  readonly db: Database.Database;
  readonly get: Database.Statement<[Uint8Array], Buffer>;
  readonly range: Database.Statement<[Uint8Array, Uint8Array, number], [Buffer, Buffer]>;
  readonly writeBatch: Database.Transaction<(puts: readonly (readonly [Uint8Array, Uint8Array])[], deletes: readonly Uint8Array[]) => void>;
}

/**
 * Node persistence for an Atoll store: one SQLite file (better-sqlite3, WAL) holding the
 * store's sorted key-value map. Each `write` is one SQLite transaction, so a store commit is
 * all-or-nothing across a crash; range reads are index range scans in key order.
 *
 * Several adapters — in one process or in several — may open the same file: each sees the
 * others' committed writes, and writers queue on SQLite's lock for up to `busyTimeoutMs`.
 *
 * @example
 * const storage = await SqliteStorageAdapter.open('/var/lib/atoll/relay.db');
 * await storage.write({ put: [{ key: ['doc', 'todos', '1'], value: bytes }] });
 * const docs = await storage.getRange(['doc', 'todos']);
 * await storage.close();
 */
export class SqliteStorageAdapter implements StorageAdapter {
  /** The file this adapter opened (or `':memory:'`); pass it to `open` again to reopen. */
  readonly path: string;
  /** The durability this adapter was opened with. */
  readonly durability: SqliteDurability;
  /** better-sqlite3 writes (and fsyncs) on the calling thread. See `StorageAdapter.blocksEventLoop`. */
  readonly blocksEventLoop = true;
  #conn: Connection | undefined;

  private constructor(path: string, durability: SqliteDurability, conn: Connection) {
    this.path = path;
    this.durability = durability;
    this.#conn = conn;
  }

  /**
   * Opens (creating if needed) the SQLite file at `path`, or a private in-memory database
   * for `':memory:'` (no WAL and nothing kept after close: for tests).
   *
   * Returns a Promise although better-sqlite3 opens synchronously, so that every failure —
   * a missing directory, a file that is not an Atoll store, WAL refused by the filesystem —
   * arrives as a rejected {@link StorageError} like every other adapter call, and so a later
   * move of SQLite off the main thread would not change the API.
   */
  static async open(path: string, options: SqliteStorageOptions = {}): Promise<SqliteStorageAdapter> {
    const durability = options.durability ?? 'full';
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (durability !== 'full' && durability !== 'normal') {
      throw new StorageError(`unknown durability ${JSON.stringify(durability)}: use 'full' or 'normal'`);
    }
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0 || busyTimeoutMs > 0x7fffffff) {
      throw new StorageError(`busyTimeoutMs must be a non-negative integer of milliseconds, got ${busyTimeoutMs}`);
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: busyTimeoutMs });
      // WAL lets readers (this process's and others') run while a write commits, and makes a
      // commit one append to the log instead of a rewrite of the database.
      const mode: unknown = db.pragma('journal_mode = WAL', { simple: true });
      if (!db.memory && mode !== 'wal') {
        throw new StorageError(`SQLite refused WAL journal mode for ${path} (got ${String(mode)}); WAL needs a local filesystem with shared memory`);
      }
      if (durability === 'full') {
        db.pragma('synchronous = FULL');
        // macOS's fsync() does not flush the drive's cache; F_FULLFSYNC does. A no-op elsewhere.
        db.pragma('fullfsync = ON');
        db.pragma('checkpoint_fullfsync = ON');
      } else {
        db.pragma('synchronous = NORMAL');
      }
      migrate(db, path);
      return new SqliteStorageAdapter(path, durability, prepare(db));
    } catch (err) {
      try {
        db?.close();
      } catch {
        // The open failure is the error worth reporting; a failed close of a half-open handle adds nothing.
      }
      throw toStorageError(err, `cannot open SQLite storage at ${path}`);
    }
  }

  /** See {@link StorageAdapter.get}. One primary-key lookup; the value is a fresh `Uint8Array`, never a Buffer. */
  async get(key: StorageKey): Promise<Uint8Array | undefined> {
    const conn = this.#open();
    checkStorageKey(key);
    let value: Buffer | undefined;
    try {
      value = conn.get.get(encodeKey(key));
    } catch (err) {
      throw toStorageError(err, `SQLite get failed on ${this.path}`);
    }
    return value === undefined ? undefined : detach(value);
  }

  /**
   * See {@link StorageAdapter.getRange}. One index range scan, in one consistent snapshot.
   * `limit` must be a non-negative integer: the contract leaves other values undefined, and a
   * silent guess (as `slice` would make of `-1`) could drop entries the caller needs.
   */
  async getRange(prefix: StorageKey, options: RangeOptions = {}): Promise<StorageEntry[]> {
    const conn = this.#open();
    checkStorageKey(prefix);
    const { after, limit } = options;
    if (after !== undefined && typeof after !== 'string') throw new StorageError('getRange: `after` must be a string');
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
      throw new StorageError(`getRange: \`limit\` must be a non-negative integer, got ${limit}`);
    }
    if (limit === 0) return [];
    const { lower, upper } = rangeBounds(prefix, after);
    let rows: [Buffer, Buffer][];
    try {
      // LIMIT -1 is SQLite's "no limit"; the bounds make this one scan of the primary key index.
      rows = conn.range.all(lower, upper, limit ?? -1);
    } catch (err) {
      throw toStorageError(err, `SQLite range read failed on ${this.path}`);
    }
    return rows.map(([key, value]) => ({ key: decodeKey(key), value: detach(value) }));
  }

  /**
   * See {@link StorageAdapter.write}. One `BEGIN IMMEDIATE` transaction; with another writer
   * on the file it waits up to `busyTimeoutMs`, then rejects with code `'SQLITE_BUSY'` having
   * applied nothing.
   */
  async write(batch: StorageBatch): Promise<void> {
    const conn = this.#open();
    // Validate and encode everything first: a bad key must fail the batch before SQLite sees any of it.
    checkStorageBatch(batch);
    const puts = (batch.put ?? []).map(({ key, value }) => [encodeKey(key), value] as const);
    const deletes = (batch.delete ?? []).map(encodeKey);
    if (puts.length === 0 && deletes.length === 0) return;
    try {
      // IMMEDIATE takes the write lock up front, so a concurrent writer makes this wait
      // (busy_timeout) at BEGIN rather than fail half-way through.
      conn.writeBatch.immediate(puts, deletes);
    } catch (err) {
      this.#recoverFromFailedWrite(conn);
      throw toStorageError(err, `SQLite write failed on ${this.path}; nothing in the batch was applied`);
    }
  }

  /**
   * What SQLite actually applied to this connection. Pragmas can be silently ignored (WAL on
   * `':memory:'` or on some network filesystems), so operators and tests read them back
   * rather than trusting the options.
   */
  async settings(): Promise<SqliteStorageSettings> {
    const { db } = this.#open();
    try {
      const journalMode = db.pragma('journal_mode', { simple: true });
      const synchronous = db.pragma('synchronous', { simple: true });
      const busyTimeoutMs = db.pragma('busy_timeout', { simple: true });
      const syncName = typeof synchronous === 'number' ? SYNCHRONOUS_NAMES[synchronous] : undefined;
      if (typeof journalMode !== 'string' || syncName === undefined || typeof busyTimeoutMs !== 'number') {
        throw new StorageError(`unexpected pragma values: ${String(journalMode)}, ${String(synchronous)}, ${String(busyTimeoutMs)}`);
      }
      return { journalMode, synchronous: syncName, busyTimeoutMs };
    } catch (err) {
      throw toStorageError(err, `cannot read SQLite settings of ${this.path}`);
    }
  }

  /** See {@link StorageAdapter.close}. Closing checkpoints the WAL into the main file when this is its last connection. */
  async close(): Promise<void> {
    const conn = this.#conn;
    if (conn === undefined) return;
    this.#conn = undefined;
    try {
      conn.db.close();
    } catch (err) {
      throw toStorageError(err, `closing SQLite storage at ${this.path} failed`);
    }
  }

  #open(): Connection {
    if (this.#conn === undefined) throw new StorageError(`SQLite storage at ${this.path} is closed`);
    return this.#conn;
  }

  /**
   * better-sqlite3 rolls back when the batch throws, but if that ROLLBACK itself failed the
   * connection would stay inside the transaction, and later writes would nest in it and never
   * commit — a silent loss. Retry the rollback; if SQLite still refuses, close the adapter so
   * every later call fails loudly instead.
   */
  #recoverFromFailedWrite(conn: Connection): void {
    if (!conn.db.open || !conn.db.inTransaction) return;
    try {
      conn.db.exec('ROLLBACK');
    } catch {
      this.#conn = undefined;
      try {
        conn.db.close();
      } catch {
        // Already reporting the write's failure; the handle is unusable either way.
      }
    }
  }
}

function migrate(db: Database.Database, path: string): void {
  // IMMEDIATE: two processes creating the same new file must not both create the table.
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true });
    if (version === SCHEMA_VERSION) return;
    if (version !== 0) {
      throw new StorageError(`${path} has storage schema version ${String(version)}; this @atoll/storage-sqlite knows ${SCHEMA_VERSION}: upgrade it`);
    }
    const objects = db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get();
    if (objects !== 0) throw new StorageError(`${path} is an SQLite database Atoll did not create; refusing to write into it`);
    db.exec(SQL.createTable);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function prepare(db: Database.Database): Connection {
  const put = db.prepare<[Uint8Array, Uint8Array]>(SQL.put);
  const del = db.prepare<[Uint8Array]>(SQL.delete);
  return {
    db,
    get: db.prepare<[Uint8Array], Buffer>(SQL.get).pluck(),
    range: db.prepare<[Uint8Array, Uint8Array, number], [Buffer, Buffer]>(SQL.range).raw(),
    writeBatch: db.transaction((puts: readonly (readonly [Uint8Array, Uint8Array])[], deletes: readonly Uint8Array[]) => {
      for (const [key, value] of puts) put.run(key, value);
      for (const key of deletes) del.run(key);
    }),
  };
}

/**
 * A Uint8Array the caller owns outright. better-sqlite3 hands out a Buffer over a fresh
 * allocation; when the Buffer spans its whole ArrayBuffer nobody else can see that memory,
 * so a plain view over it is already independent and an 8 MB value is not copied twice.
 * Otherwise (a pooled or sliced Buffer) copy.
 */
function detach(buf: Buffer): Uint8Array {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) {
    return new Uint8Array(buf.buffer);
  }
  return new Uint8Array(buf);
}

function toStorageError(err: unknown, context: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = err instanceof Database.SqliteError ? err.code : undefined;
  const detail = err instanceof Error ? err.message : String(err);
  return new SqliteStorageError(`${context}: ${code === undefined ? '' : `${code}: `}${detail}`, code, { cause: err });
}
