import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Buffer } from 'node:buffer';
import { MemoryStorageAdapter, StorageError, compareStorageKeys, type StorageAdapter, type StorageKey } from '@atoll/store';
import { runStorageAdapterTests } from '@atoll/store/testing';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStorageAdapter, SqliteStorageError, type SqliteStorageOptions } from '../src/index.js';
import { encodeKey } from '../src/key-codec.js';
import { SQL } from '../src/sqlite-adapter.js';
import { propertyParams, removeTempDb, tempDbPath } from './support.js';

const bytes = (...xs: number[]) => new Uint8Array(xs);
const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const keysOf = (entries: readonly { key: StorageKey }[]) => entries.map((e) => e.key);

function sqliteHarness(options: SqliteStorageOptions) {
  return {
    open: () => SqliteStorageAdapter.open(tempDbPath(), options),
    reopen: (previous: StorageAdapter) => SqliteStorageAdapter.open((previous as SqliteStorageAdapter).path, options),
    destroy: async (adapter: StorageAdapter) => removeTempDb((adapter as SqliteStorageAdapter).path),
  };
}

// Only file-backed adapters go through the suite: it reopens, and ':memory:' keeps nothing.
runStorageAdapterTests('sqlite (file, durability full)', sqliteHarness({}));
runStorageAdapterTests('sqlite (file, durability normal)', sqliteHarness({ durability: 'normal' }));

/** Adapters, raw connections and temp files a test opened; all released after it. */
const opened: { adapters: SqliteStorageAdapter[]; raw: Database.Database[]; paths: string[] } = { adapters: [], raw: [], paths: [] };
afterEach(async () => {
  for (const a of opened.adapters.splice(0)) await a.close();
  for (const db of opened.raw.splice(0)) db.close();
  for (const p of opened.paths.splice(0)) removeTempDb(p);
});
function newPath(): string {
  const path = tempDbPath();
  opened.paths.push(path);
  return path;
}
async function openAdapter(path: string, options: SqliteStorageOptions = {}): Promise<SqliteStorageAdapter> {
  const a = await SqliteStorageAdapter.open(path, options);
  opened.adapters.push(a);
  return a;
}
/** A second, plain better-sqlite3 connection on the file: what another process would see. */
function rawConnection(path: string, timeoutMs = 5000): Database.Database {
  const db = new Database(path, { timeout: timeoutMs });
  opened.raw.push(db);
  return db;
}
function rawCount(db: Database.Database): number {
  return db.prepare<[], number>('SELECT count(*) FROM atoll_kv').pluck().get() ?? -1;
}

describe('SqliteStorageAdapter', () => {
  describe('pragmas actually in effect', () => {
    it("durability 'full' (the default) runs WAL with synchronous=FULL", async () => {
      const s = await openAdapter(newPath());
      expect(s.durability).toBe('full');
      expect(await s.settings()).toEqual({ journalMode: 'wal', synchronous: 'full', busyTimeoutMs: 5000 });
      await s.write({ put: [{ key: ['k'], value: bytes(1) }] });
      expect(existsSync(`${s.path}-wal`)).toBe(true);
    });

    it("durability 'normal' runs WAL with synchronous=NORMAL, and busyTimeoutMs is applied", async () => {
      const s = await openAdapter(newPath(), { durability: 'normal', busyTimeoutMs: 1234 });
      expect(await s.settings()).toEqual({ journalMode: 'wal', synchronous: 'normal', busyTimeoutMs: 1234 });
    });

    it('the file stays in WAL mode for every later connection', async () => {
      const s = await openAdapter(newPath());
      expect(rawConnection(s.path).pragma('journal_mode', { simple: true })).toBe('wal');
    });

    it('range reads are one scan of the primary key, with no sort step', async () => {
      const s = await openAdapter(newPath());
      const plan = rawConnection(s.path)
        .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${SQL.range}`)
        .all(Buffer.from([1]), Buffer.from([2]), -1)
        .map((row) => row.detail);
      expect(plan).toEqual(['SEARCH atoll_kv USING PRIMARY KEY (key>? AND key<?)']);
    });
  });

  describe('key order', () => {
    // Segments around the points where UTF-8 byte order and JavaScript's UTF-16 code-unit
    // order disagree: astral characters (surrogate pairs) sort below U+E000–U+FFFF in JS.
    const segments = ['a', 'a\u0001', 'ab', 'z', '\u007f', '\u0080', 'é', '\u07ff', '\u0800', '\uD7FF', '🌴', '😀', '\uD83C', '\uDFFF', '\uE000', '\uFFFD', '\uFFFF'];
    const keys: StorageKey[] = segments.flatMap((s) => [['o', s], ['o', s, 'x'], ['o', `${s}tail`]]);
    const sorted = [...keys].sort(compareStorageKeys);

    it('returns non-ASCII and astral segments in compareStorageKeys order, not UTF-8 order', async () => {
      const s = await openAdapter(newPath());
      await s.write({ put: [...keys].reverse().map((key, i) => ({ key, value: bytes(i) })) });
      const got = keysOf(await s.getRange(['o']));
      expect(got).toEqual(sorted);
      // The case that plain UTF-8 gets wrong is in there.
      expect(got.findIndex((k) => k[1] === '🌴')).toBeLessThan(got.findIndex((k) => k[1] === '\uFFFD'));
      // Lone surrogates are keys like any other: point reads find them, and only them.
      const written = [...keys].reverse();
      expect(await s.get(['o', '\uD83C'])).toEqual(bytes(written.findIndex((k) => k.length === 2 && k[1] === '\uD83C')));
      expect(await s.get(['o', '\uD83C\uDFFF'])).toBeUndefined();
    });

    it('applies `after` and `limit` in the same order', async () => {
      const s = await openAdapter(newPath());
      await s.write({ put: keys.map((key, i) => ({ key, value: bytes(i) })) });
      for (const after of ['🌴', '\uFFFD', '\uD83C', 'é', 'a']) {
        const expected = sorted.filter((k) => (k[1] as string) > after);
        expect(keysOf(await s.getRange(['o'], { after }))).toEqual(expected);
        expect(keysOf(await s.getRange(['o'], { after, limit: 3 }))).toEqual(expected.slice(0, 3));
      }
      // Equal to `after` and deeper are out; a longer segment starting with `after` is in.
      const afterPalm = keysOf(await s.getRange(['o'], { after: '🌴' }));
      expect(afterPalm).not.toContainEqual(['o', '🌴', 'x']);
      expect(afterPalm).toContainEqual(['o', '🌴tail']);
    });

    it('agrees with the in-memory reference adapter on random keys, prefixes, after and limit', async () => {
      const unit = fc.constantFrom('a', 'b', 'é', '\uD83C', '\uDF34', '🌴', '\uFFFD', '\uE000', '\u0001');
      const segment = fc.string({ unit, minLength: 1, maxLength: 2 });
      const key = fc.array(segment, { minLength: 1, maxLength: 3 });
      const keys = fc.uniqueArray(key, { selector: (k) => k.join('\u0000'), maxLength: 25 });
      const query = fc.record({
        prefix: fc.array(segment, { minLength: 1, maxLength: 2 }),
        after: fc.option(segment, { nil: undefined }),
        limit: fc.option(fc.nat(8), { nil: undefined }),
      });
      await fc.assert(
        fc.asyncProperty(keys, fc.array(query, { minLength: 1, maxLength: 5 }), async (ks, queries) => {
          const sqlite = await SqliteStorageAdapter.open(':memory:');
          const memory = new MemoryStorageAdapter();
          try {
            const batch = { put: ks.map((k, i) => ({ key: k, value: bytes(i) })) };
            await sqlite.write(batch);
            await memory.write(batch);
            for (const { prefix, after, limit } of queries) {
              const options = { ...(after === undefined ? {} : { after }), ...(limit === undefined ? {} : { limit }) };
              expect(await sqlite.getRange(prefix, options)).toEqual(await memory.getRange(prefix, options));
            }
          } finally {
            await sqlite.close();
          }
        }),
        propertyParams(150),
      );
    });
  });

  describe('failures inside SQLite', () => {
    it('rolls back the whole batch when SQLite fails half-way, and reports a StorageError with the cause', async () => {
      const s = await openAdapter(newPath());
      await s.write({ put: [{ key: ['acct', 'a'], value: text('100') }, { key: ['acct', 'poison'], value: text('x') }] });
      // Another connection installs a trigger that makes SQLite abort when the batch reaches
      // its last statement, after its puts have run: a genuine SQLite-level failure mid-batch.
      const other = rawConnection(s.path);
      const poison = Buffer.from(encodeKey(['acct', 'poison'])).toString('hex');
      other.exec(`CREATE TRIGGER poison BEFORE DELETE ON atoll_kv WHEN OLD.key = X'${poison}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END`);

      const failure = await s
        .write({
          put: [{ key: ['acct', 'a'], value: text('0') }, { key: ['acct', 'b'], value: text('100') }, { key: ['new'], value: text('n') }],
          delete: [['acct', 'a'], ['acct', 'poison']],
        })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(failure).toBeInstanceOf(StorageError);
      expect(failure).toBeInstanceOf(SqliteStorageError);
      expect((failure as SqliteStorageError).code).toBe('SQLITE_CONSTRAINT_TRIGGER');
      expect((failure as Error).cause).toBeInstanceOf(Database.SqliteError);
      expect((failure as Error).message).toMatch(/poisoned/);

      // Nothing of the batch is visible, to this adapter or to another connection (which
      // would not see an uncommitted transaction left open either).
      expect(decode(await s.get(['acct', 'a']))).toBe('100');
      expect(await s.get(['acct', 'b'])).toBeUndefined();
      expect(await s.get(['new'])).toBeUndefined();
      expect(keysOf(await s.getRange(['acct']))).toEqual([['acct', 'a'], ['acct', 'poison']]);
      expect(rawCount(other)).toBe(2);

      // The adapter is not stuck in a transaction: its next write commits for everyone.
      other.exec('DROP TRIGGER poison');
      await s.write({ put: [{ key: ['acct', 'b'], value: text('5') }], delete: [['acct', 'poison']] });
      expect(rawCount(other)).toBe(2);
      expect(keysOf(await s.getRange(['acct']))).toEqual([['acct', 'a'], ['acct', 'b']]);
    });

    it('fails with SQLITE_BUSY, applying nothing, when another connection holds the lock past busyTimeoutMs', async () => {
      const s = await openAdapter(newPath(), { busyTimeoutMs: 50 });
      const other = rawConnection(s.path);
      other.exec('BEGIN IMMEDIATE');
      const failure = await s.write({ put: [{ key: ['k'], value: bytes(1) }] }).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(SqliteStorageError);
      expect((failure as SqliteStorageError).code).toMatch(/^SQLITE_BUSY/);
      other.exec('COMMIT');
      expect(await s.get(['k'])).toBeUndefined();
      await s.write({ put: [{ key: ['k'], value: bytes(2) }] });
      expect(await s.get(['k'])).toEqual(bytes(2));
    });

    it('waits for another process that holds the write lock, instead of failing', async () => {
      const s = await openAdapter(newPath());
      const fixture = fileURLToPath(new URL('./fixtures/hold-write-lock.mjs', import.meta.url));
      const childKey = Buffer.from(encodeKey(['from', 'child'])).toString('hex');
      const child = spawn(process.execPath, [fixture, s.path, childKey, '1000'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('locked')) resolve();
        });
        child.on('exit', () => reject(new Error(`the lock holder exited early: ${out}`)));
      });

      const startedAt = Date.now();
      await s.write({ put: [{ key: ['from', 'parent'], value: text('mine') }] });
      expect(await exited).toBe(0);
      const committedAt = Number(/committed (\d+)/.exec(out)?.[1]);
      // The premise: the write began while the other process still held the lock.
      expect(startedAt).toBeLessThan(committedAt);
      expect(keysOf(await s.getRange(['from']))).toEqual([['from', 'child'], ['from', 'parent']]);
    });
  });

  it('lets two adapters on one file see each other’s committed writes', async () => {
    const path = newPath();
    const a = await openAdapter(path);
    const b = await openAdapter(path, { durability: 'normal' });
    await a.write({ put: [{ key: ['doc', '1'], value: text('from a') }] });
    expect(decode(await b.get(['doc', '1']))).toBe('from a');
    await b.write({ put: [{ key: ['doc', '2'], value: text('from b') }], delete: [['doc', '1']] });
    expect(await a.get(['doc', '1'])).toBeUndefined();
    expect((await a.getRange(['doc'])).map((e) => [e.key, decode(e.value)])).toEqual([[['doc', '2'], 'from b']]);
  });

  it('hands out plain Uint8Arrays and key arrays the caller owns', async () => {
    const s = await openAdapter(newPath());
    const backing = bytes(9, 1, 2, 3, 9);
    await s.write({ put: [{ key: ['v'], value: backing.subarray(1, 4) }, { key: ['w'], value: Buffer.from([4, 5]) }] });
    const v = await s.get(['v']);
    expect(Object.getPrototypeOf(v)).toBe(Uint8Array.prototype);
    expect(v).toEqual(bytes(1, 2, 3)); // a view's own bytes, not its whole buffer
    const range = await s.getRange(['w']);
    expect(Object.getPrototypeOf(range[0]?.value)).toBe(Uint8Array.prototype);
    expect(range[0]?.value).toEqual(bytes(4, 5));
    expect(Array.isArray(range[0]?.key)).toBe(true);
  });

  it('rejects bad range options with StorageError', async () => {
    const s = await openAdapter(newPath());
    await expect(s.getRange(['a'], { limit: -1 })).rejects.toBeInstanceOf(StorageError);
    await expect(s.getRange(['a'], { limit: 1.5 })).rejects.toBeInstanceOf(StorageError);
    await expect(s.getRange(['a'], { after: 3 as unknown as string })).rejects.toBeInstanceOf(StorageError);
    await s.write({ put: [{ key: ['a', 'x'], value: bytes(1) }] });
    expect(await s.getRange(['a'], { limit: 0 })).toEqual([]);
  });

  it('refuses every call after close, and close is idempotent', async () => {
    const s = await SqliteStorageAdapter.open(newPath());
    await s.close();
    await s.close();
    await expect(s.get(['k'])).rejects.toBeInstanceOf(StorageError);
    await expect(s.getRange(['k'])).rejects.toBeInstanceOf(StorageError);
    await expect(s.write({ put: [{ key: ['k'], value: bytes(1) }] })).rejects.toBeInstanceOf(StorageError);
    await expect(s.settings()).rejects.toBeInstanceOf(StorageError);
  });

  describe('open', () => {
    it('rejects with StorageError when the directory does not exist', async () => {
      const missing = `${newPath()}.d/missing/store.db`;
      await expect(SqliteStorageAdapter.open(missing)).rejects.toBeInstanceOf(StorageError);
    });

    it('rejects a file that is not SQLite', async () => {
      const path = newPath();
      writeFileSync(path, 'this is not a database, just some text that is long enough to have a header '.repeat(10));
      const failure = await SqliteStorageAdapter.open(path).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(SqliteStorageError);
      expect((failure as SqliteStorageError).code).toBe('SQLITE_NOTADB');
    });

    it('refuses an SQLite database that Atoll did not create, and one from a newer schema', async () => {
      const foreign = newPath();
      rawConnection(foreign).exec('CREATE TABLE users (id INTEGER PRIMARY KEY)');
      await expect(SqliteStorageAdapter.open(foreign)).rejects.toThrow(/did not create/);
      const newer = newPath();
      rawConnection(newer).pragma('user_version = 99');
      await expect(SqliteStorageAdapter.open(newer)).rejects.toThrow(/schema version 99/);
    });

    it('rejects unknown options', async () => {
      const path = newPath();
      await expect(SqliteStorageAdapter.open(path, { durability: 'fast' as 'full' })).rejects.toBeInstanceOf(StorageError);
      await expect(SqliteStorageAdapter.open(path, { busyTimeoutMs: -1 })).rejects.toBeInstanceOf(StorageError);
    });

    it('reopens a file written by another adapter, in either durability', async () => {
      const path = newPath();
      const a = await SqliteStorageAdapter.open(path, { durability: 'normal' });
      await a.write({ put: [{ key: ['x'], value: bytes(7) }] });
      await a.close();
      const b = await openAdapter(path);
      expect(await b.get(['x'])).toEqual(bytes(7));
    });
  });

  describe("':memory:'", () => {
    it('works as a private, non-persistent store', async () => {
      const s = await openAdapter(':memory:');
      expect(await s.settings()).toMatchObject({ journalMode: 'memory', synchronous: 'full' });
      await s.write({ put: [{ key: ['m', '2'], value: bytes(2) }, { key: ['m', '1'], value: bytes(1) }] });
      expect(keysOf(await s.getRange(['m']))).toEqual([['m', '1'], ['m', '2']]);
      // Each ':memory:' adapter is its own database; reopening starts empty.
      const other = await openAdapter(':memory:');
      expect(await other.get(['m', '1'])).toBeUndefined();
      await s.close();
      await expect(s.get(['m', '1'])).rejects.toBeInstanceOf(StorageError);
      const again = await openAdapter(':memory:');
      expect(await again.getRange(['m'])).toEqual([]);
    });
  });
});
