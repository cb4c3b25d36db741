// Local benchmarks in Node, all in this process: commits (in memory, SQLite, NodeFS), snapshot
// reads and live queries — Atoll, automerge-repo and Yjs on the same workload, plus raw
// better-sqlite3 with the pragmas the SQLite adapter sets.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Repo, type DocHandle } from '@automerge/automerge-repo';
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';
import { SqliteStorageAdapter } from '@atoll/storage-sqlite';
import { MemoryStorageAdapter, Store, type StorageAdapter } from '@atoll/store';
import * as Y from 'yjs';
import type { Row } from '../catalog.js';
import { newRow, now, put, quietLogger, type BenchContext } from '../context.js';
import { latency, median } from '../stats.js';
import { commitOps, docName, groupOf, smallDoc, type SmallDoc } from '../workloads.js';

type Item = SmallDoc & { group: number };
const item = (i: number, groups = 100): Item => ({ ...smallDoc(i), group: groupOf(i, groups) });
const COLL = 'items';

/** Runs `op` for each of `ops` sequentially, timing each; the first `warmup` are not counted. */
async function timeOps<T>(ops: readonly T[], op: (x: T) => unknown, warmup: number): Promise<{ samples: number[]; rate: number }> {
  for (let i = 0; i < Math.min(warmup, ops.length); i++) await op(ops[i] as T);
  const samples: number[] = [];
  const start = now();
  for (const x of ops) {
    const t = now();
    await op(x);
    samples.push(now() - t);
  }
  const seconds = (now() - start) / 1000;
  return { samples, rate: ops.length / seconds };
}

/** Repeats a measurement and keeps the repetition with the median rate (latency samples pooled). */
async function repeat(times: number, run: () => Promise<{ samples: number[]; rate: number }>): Promise<{ p50: number; p99: number; value: number }> {
  const rates: number[] = [];
  const all: number[] = [];
  for (let r = 0; r < times; r++) {
    const { samples, rate } = await run();
    rates.push(rate);
    all.push(...samples);
  }
  const l = latency(all);
  return { p50: l.p50, p99: l.p99, value: median(rates) };
}

// ---- Atoll --------------------------------------------------------------------------------

async function atollStore(storage: StorageAdapter, docs: number): Promise<Store> {
  const store = await Store.open({ storage, logger: quietLogger });
  await store.transaction(async (tx) => {
    for (let i = 0; i < docs; i++) await tx.insert(COLL, { _id: docName(i), ...item(i) });
  });
  return store;
}

const atollCommit = (store: Store) => (op: readonly number[]) =>
  store.transaction(async (tx) => {
    for (const i of op) await tx.update(COLL, docName(i), (d) => void (d['n'] = (d['n'] as number) + 1));
  });

// ---- automerge-repo -----------------------------------------------------------------------

function automergeHandles(repo: Repo, docs: number): DocHandle<Item>[] {
  const handles: DocHandle<Item>[] = [];
  for (let i = 0; i < docs; i++) handles.push(repo.create<Item>(item(i)));
  return handles;
}

const automergeChange = (handles: DocHandle<Item>[]) => (op: readonly number[]) => {
  for (const i of op) (handles[i] as DocHandle<Item>).change((d) => void (d.n += 1));
};

// ---- Yjs ----------------------------------------------------------------------------------

function yjsDoc(docs: number): { doc: Y.Doc; maps: Y.Map<unknown>[]; root: Y.Map<Y.Map<unknown>> } {
  const doc = new Y.Doc();
  const root = doc.getMap<Y.Map<unknown>>('items');
  const maps: Y.Map<unknown>[] = [];
  doc.transact(() => {
    for (let i = 0; i < docs; i++) {
      const m = new Y.Map<unknown>();
      for (const [k, v] of Object.entries(item(i))) m.set(k, v);
      root.set(docName(i), m);
      maps.push(m);
    }
  });
  return { doc, maps, root };
}

const yjsChange = (doc: Y.Doc, maps: Y.Map<unknown>[]) => (op: readonly number[]) => {
  doc.transact(() => {
    for (const i of op) {
      const m = maps[i] as Y.Map<unknown>;
      m.set('n', (m.get('n') as number) + 1);
    }
  });
};

// ---- raw better-sqlite3 ---------------------------------------------------------------------

/** The SQLite adapter's table and pragmas, without the store: the one-transaction-per-insert floor. */
function rawSqlite(path: string, durability: 'full' | 'normal') {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  if (durability === 'full') {
    db.pragma('synchronous = FULL');
    db.pragma('fullfsync = ON');
    db.pragma('checkpoint_fullfsync = ON');
  } else {
    db.pragma('synchronous = NORMAL');
  }
  db.exec('CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID');
  const put = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const value = Buffer.from(JSON.stringify(item(1)).repeat(2)); // ~100 bytes, the size of a small commit's record
  const insertMany = db.transaction((keys: readonly number[], n: number) => {
    for (const k of keys) put.run(Buffer.from(`${docName(k)}:${n}`), value);
  });
  let n = 0;
  return {
    commit: (keys: readonly number[]) => insertMany.immediate(keys, n++),
    close: () => db.close(),
  };
}

// ---- the benchmarks -------------------------------------------------------------------------

export async function localNodeBenchmarks(ctx: BenchContext): Promise<Row[]> {
  const { sizes } = ctx;
  const rows: Row[] = [];
  const docs = sizes.docs;
  const warm = (n: number) => Math.max(5, Math.floor(n / 10));
  let dbCount = 0;
  const freshPath = (name: string) => join(ctx.tmp, `${name}-${dbCount++}`);

  // In memory. Each system sets up its working set once per row, then runs the same
  // transactions `repeats` times (the repetition with the median rate is reported).
  for (const [id, perTx] of [
    ['commit.memory.single', 1],
    ['commit.memory.multi10', 10],
  ] as const) {
    const ops = commitOps(perTx === 1 ? sizes.commits : Math.ceil(sizes.commits / 5), docs, perTx);
    const row = newRow(id, { transactions: ops.length, documents: docs, perTransaction: perTx, repeats: sizes.repeats });
    ctx.log(`${id}: atoll`);
    {
      const store = await atollStore(new MemoryStorageAdapter(), docs);
      put(row, 'atoll', await repeat(sizes.repeats, () => timeOps(ops, atollCommit(store), warm(ops.length))));
      await store.close();
    }
    ctx.log(`${id}: automerge-repo`);
    {
      const repo = new Repo({});
      const change = automergeChange(automergeHandles(repo, docs));
      put(row, 'automerge-repo', { ...(await repeat(sizes.repeats, () => timeOps(ops, change, warm(ops.length)))), note: perTx > 1 ? 'one handle.change per document: not atomic across documents' : 'handle.change' });
      await repo.shutdown();
    }
    ctx.log(`${id}: yjs`);
    {
      const { doc, maps } = yjsDoc(docs);
      put(row, 'yjs', { ...(await repeat(sizes.repeats, () => timeOps(ops, yjsChange(doc, maps), warm(ops.length)))), note: 'one Y.Doc, documents as Y.Maps; doc.transact' });
      doc.destroy();
    }
    rows.push(row);
  }

  // Durable: SQLite for Atoll and raw, NodeFS for automerge-repo (handle.change + repo.flush).
  for (const [id, perTx] of [
    ['commit.sqlite.single', 1],
    ['commit.sqlite.multi10', 10],
  ] as const) {
    const ops = commitOps(perTx === 1 ? sizes.durableCommits : Math.ceil(sizes.durableCommits / 5), docs, perTx);
    const row = newRow(id, { transactions: ops.length, documents: docs, perTransaction: perTx, repeats: sizes.repeats, durability: 'full' });
    ctx.log(`${id}: atoll`);
    {
      const store = await atollStore(await SqliteStorageAdapter.open(freshPath('atoll.db'), { durability: 'full' }), docs);
      put(row, 'atoll', await repeat(sizes.repeats, () => timeOps(ops, atollCommit(store), warm(ops.length))));
      await store.close();
    }
    ctx.log(`${id}: automerge-repo`);
    {
      const dir = freshPath('automerge');
      mkdirSync(dir, { recursive: true });
      const repo = new Repo({ storage: new NodeFSStorageAdapter(dir) });
      const handles = automergeHandles(repo, docs);
      await repo.flush();
      const change = automergeChange(handles);
      const commit = async (op: readonly number[]) => {
        change(op);
        await repo.flush(op.map((i) => (handles[i] as DocHandle<Item>).documentId));
      };
      put(row, 'automerge-repo', { ...(await repeat(sizes.repeats, () => timeOps(ops, commit, warm(ops.length)))), note: 'NodeFS storage, handle.change then repo.flush(those documents); NodeFS writes files without fsync' });
      await repo.shutdown();
    }
    ctx.log(`${id}: raw`);
    {
      const raw = rawSqlite(freshPath('raw.db'), 'full');
      put(row, 'raw', { ...(await repeat(sizes.repeats, () => timeOps(ops, (op) => raw.commit(op), warm(ops.length)))), note: `better-sqlite3, WAL, synchronous=FULL, one transaction of ${perTx} upsert${perTx > 1 ? 's' : ''}` });
      raw.close();
    }
    rows.push(row);
  }

  {
    const ops = commitOps(sizes.durableCommits, docs, 1);
    const row = newRow('commit.sqlite.grouped', { transactions: ops.length, documents: docs, durability: 'full' });
    ctx.log('commit.sqlite.grouped');
    const rates: number[] = [];
    for (let r = 0; r < sizes.repeats; r++) {
      const store = await atollStore(await SqliteStorageAdapter.open(freshPath('atoll.db'), { durability: 'full' }), docs);
      const commit = atollCommit(store);
      const start = now();
      await Promise.all(ops.map((op) => commit(op)));
      rates.push(ops.length / ((now() - start) / 1000));
      await store.close();
    }
    put(row, 'atoll', { value: median(rates), note: 'all transactions started at once, then awaited together' });
    const rawRates: number[] = [];
    for (let r = 0; r < sizes.repeats; r++) {
      const raw = rawSqlite(freshPath('raw.db'), 'full');
      const start = now();
      for (let i = 0; i < ops.length; i += 100) raw.commit(ops.slice(i, i + 100).flat());
      rawRates.push(ops.length / ((now() - start) / 1000));
      raw.close();
    }
    put(row, 'raw', { value: median(rawRates), note: 'the same upserts, 100 per SQLite transaction: what grouping could reach' });
    rows.push(row);
  }

  {
    const ops = commitOps(sizes.durableCommits, docs, 1);
    const row = newRow('commit.sqlite-normal.single', { transactions: ops.length, documents: docs, durability: 'normal' });
    ctx.log('commit.sqlite-normal.single');
    const store = await atollStore(await SqliteStorageAdapter.open(freshPath('atoll.db'), { durability: 'normal' }), docs);
    put(row, 'atoll', await repeat(sizes.repeats, () => timeOps(ops, atollCommit(store), warm(ops.length))));
    await store.close();
    const raw = rawSqlite(freshPath('raw.db'), 'normal');
    put(row, 'raw', { ...(await repeat(sizes.repeats, () => timeOps(ops, (op) => raw.commit(op), warm(ops.length)))), note: 'better-sqlite3, WAL, synchronous=NORMAL, one upsert per transaction' });
    raw.close();
    rows.push(row);
  }

  rows.push(...(await readBenchmarks(ctx)));
  rows.push(...(await liveBenchmarks(ctx, freshPath)));
  return rows;
}

// ---- reads ------------------------------------------------------------------------------------

async function readBenchmarks(ctx: BenchContext): Promise<Row[]> {
  const docs = ctx.sizes.docs;
  const groups = 100;
  const n = ctx.sizes.reads;
  const picks = commitOps(n, docs, 1, 3).map((op) => op[0] as number);
  const getRow = newRow('read.snapshot.get', { reads: n, documents: docs });
  const findRow = newRow('read.snapshot.find', { queries: Math.ceil(n / 10), documents: docs, matching: docs / groups });
  const findPicks = picks.slice(0, Math.ceil(n / 10)).map((i) => i % groups);
  const warm = Math.max(5, Math.floor(n / 20));

  ctx.log('read.snapshot: atoll');
  const store = await atollStore(new MemoryStorageAdapter(), docs);
  const get = await timeOps(picks, (i) => store.transaction((tx) => tx.get(COLL, docName(i)), { readOnly: true }), warm);
  const find = await timeOps(findPicks, (g) => store.transaction((tx) => tx.find({ collection: COLL, where: { group: g } }), { readOnly: true }), warm);
  await store.close();
  put(getRow, 'atoll', { ...latency(get.samples), value: get.rate, note: 'store.transaction(tx => tx.get(…), { readOnly: true })' });
  put(findRow, 'atoll', { ...latency(find.samples), value: find.rate, note: 'read-only transaction, tx.find({ where: { group } })' });

  ctx.log('read.snapshot: automerge-repo');
  const repo = new Repo({});
  const handles = automergeHandles(repo, docs);
  let sink = 0;
  const amGet = await timeOps(picks, (i) => void (sink += (handles[i] as DocHandle<Item>).doc().n), warm);
  const amFind = await timeOps(findPicks, (g) => void (sink += handles.filter((h) => h.doc().group === g).map((h) => h.doc()).length), warm);
  await repo.shutdown();
  put(getRow, 'automerge-repo', { ...latency(amGet.samples), value: amGet.rate, note: 'handle.doc() (Automerge documents are immutable snapshots)' });
  put(findRow, 'automerge-repo', { ...latency(amFind.samples), value: amFind.rate, note: 'no queries: scan every handle.doc() and filter' });

  ctx.log('read.snapshot: yjs');
  const { doc, root } = yjsDoc(docs);
  const yGet = await timeOps(picks, (i) => void (sink += (root.get(docName(i))?.toJSON() as Item).n), warm);
  const yFind = await timeOps(findPicks, (g) => {
    const out: unknown[] = [];
    for (const m of root.values()) if (m.get('group') === g) out.push(m.toJSON());
    sink += out.length;
  }, warm);
  doc.destroy();
  put(getRow, 'yjs', { ...latency(yGet.samples), value: yGet.rate, note: 'root.get(id).toJSON() (no snapshot isolation)' });
  put(findRow, 'yjs', { ...latency(yFind.samples), value: yFind.rate, note: 'no queries: scan the root Y.Map and filter' });
  if (sink === -1) ctx.log('unreachable');
  return [getRow, findRow];
}

// ---- live queries -------------------------------------------------------------------------------

async function liveBenchmarks(ctx: BenchContext, freshPath: (name: string) => string): Promise<Row[]> {
  const docs = ctx.sizes.docs;
  const groups = 100;
  const n = ctx.sizes.liveCommits;
  const picks = commitOps(n, docs, 1, 5).map((op) => op[0] as number);
  const warm = Math.max(5, Math.floor(n / 10));
  const rows: Row[] = [];

  const atollLive = async (storage: StorageAdapter): Promise<number[]> => {
    const store = await atollStore(storage, docs);
    let armed = -1;
    let firedAt = 0;
    const stops = [];
    for (let g = 0; g < groups; g++) {
      stops.push(store.observe({ collection: COLL, where: { group: g } }, () => {
        if (armed === g) {
          firedAt = now();
          armed = -1;
        }
      }));
    }
    const commit = atollCommit(store);
    const samples: number[] = [];
    for (let k = 0; k < picks.length + warm; k++) {
      const i = picks[k % picks.length] as number;
      armed = groupOf(i, groups);
      firedAt = 0;
      const t = now();
      await commit([i]);
      if (k >= warm) samples.push(firedAt > 0 ? firedAt - t : Number.NaN);
    }
    for (const stop of stops) stop();
    await store.close();
    return samples;
  };

  ctx.log('live.memory');
  const memRow = newRow('live.memory', { commits: n, documents: docs, liveQueries: groups });
  put(memRow, 'atoll', { ...latency(await atollLive(new MemoryStorageAdapter())), note: 'store.observe({ where: { group } }) ×100; time from store.transaction() to the callback' });

  {
    const repo = new Repo({});
    const handles = automergeHandles(repo, docs);
    let armed = -1;
    let firedAt = 0;
    handles.forEach((h, i) => {
      const g = groupOf(i, groups);
      h.on('change', () => {
        if (armed === g) {
          firedAt = now();
          armed = -1;
        }
      });
    });
    const change = automergeChange(handles);
    const samples: number[] = [];
    for (let k = 0; k < picks.length + warm; k++) {
      const i = picks[k % picks.length] as number;
      armed = groupOf(i, groups);
      firedAt = 0;
      const t = now();
      change([i]);
      await Promise.resolve();
      if (k >= warm) samples.push(firedAt > 0 ? firedAt - t : Number.NaN);
    }
    await repo.shutdown();
    put(memRow, 'automerge-repo', { ...latency(samples), note: 'no live queries: a change listener on each of the 1 000 handles, grouped 100 ways' });
  }
  {
    const { doc, root, maps } = yjsDoc(docs);
    let armed = -1;
    let firedAt = 0;
    for (let g = 0; g < groups; g++) {
      root.observeDeep((events) => {
        for (const e of events) {
          const m = e.target as Y.Map<unknown>;
          if (m.get('group') === g && armed === g) {
            firedAt = now();
            armed = -1;
          }
        }
      });
    }
    const change = yjsChange(doc, maps);
    const samples: number[] = [];
    for (let k = 0; k < picks.length + warm; k++) {
      const i = picks[k % picks.length] as number;
      armed = groupOf(i, groups);
      firedAt = 0;
      const t = now();
      change([i]);
      if (k >= warm) samples.push(firedAt > 0 ? firedAt - t : Number.NaN);
    }
    doc.destroy();
    put(memRow, 'yjs', { ...latency(samples), note: 'no live queries: 100 observeDeep observers on the root map, each filtering its group' });
  }
  rows.push(memRow);

  ctx.log('live.sqlite');
  const sqlRow = newRow('live.sqlite', { commits: n, documents: docs, liveQueries: groups, durability: 'full' });
  put(sqlRow, 'atoll', latency(await atollLive(await SqliteStorageAdapter.open(freshPath('live.db'), { durability: 'full' }))));
  rows.push(sqlRow);
  return rows;
}
