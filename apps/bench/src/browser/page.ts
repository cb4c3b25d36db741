// The page the IndexedDB benchmarks run in (Chromium): bundled by Vite from this file, with the
// store and its IndexedDB adapter from the workspace sources, automerge-repo with its IndexedDB
// storage, and raw `idb`. Each function runs one measurement and returns its samples.
import { Repo, type DocHandle } from '@automerge/automerge-repo';
import { IndexedDBStorageAdapter } from '@automerge/automerge-repo-storage-indexeddb';
import { IndexedDbStorageAdapter } from '@atoll/storage-indexeddb';
import { Store, silentLogger } from '@atoll/store';
import { openDB } from 'idb';
import { commitOps, docName, smallDoc } from '../workloads.js';

export interface PageOptions {
  readonly n: number;
  readonly docs: number;
  readonly perTx: number;
  readonly grouped: boolean;
}

export interface PageResult {
  readonly samples: number[];
  readonly rate: number;
}

const unique = (name: string) => `${name}-${Date.now()}-${Math.random().toString(36).slice(2)}`;

async function timed<T>(ops: readonly T[], grouped: boolean, op: (x: T) => Promise<unknown>): Promise<PageResult> {
  // Quick mode has only a handful of operations: never warm up past the end.
  const warm = Math.min(ops.length, Math.max(5, Math.floor(ops.length / 10)));
  for (let i = 0; i < warm; i++) await op(ops[i] as T);
  const samples: number[] = [];
  const start = performance.now();
  if (grouped) {
    await Promise.all(ops.map((x) => op(x)));
  } else {
    for (const x of ops) {
      const t = performance.now();
      await op(x);
      samples.push(performance.now() - t);
    }
  }
  return { samples, rate: ops.length / ((performance.now() - start) / 1000) };
}

async function atoll({ n, docs, perTx, grouped }: PageOptions): Promise<PageResult> {
  const store = await Store.open({ storage: await IndexedDbStorageAdapter.open(unique('atoll')), logger: silentLogger });
  await store.transaction(async (tx) => {
    for (let i = 0; i < docs; i++) await tx.insert('items', { _id: docName(i), ...smallDoc(i) });
  });
  const ops = commitOps(n, docs, perTx);
  try {
    return await timed(ops, grouped, (op) =>
      store.transaction(async (tx) => {
        for (const i of op) await tx.update('items', docName(i), (d) => void (d['n'] = (d['n'] as number) + 1));
      }),
    );
  } finally {
    await store.close();
  }
}

/**
 * Raw idb: one readwrite transaction per commit, `perTx` puts of ~100 bytes, relaxed durability
 * (the adapter's default). Grouped: 100 commits' puts per transaction — what grouping commits
 * while one is in flight could reach.
 */
async function raw({ n, docs, perTx, grouped }: PageOptions): Promise<PageResult> {
  const db = await openDB(unique('raw'), 1, { upgrade: (d) => void d.createObjectStore('kv') });
  const value = new TextEncoder().encode(JSON.stringify(smallDoc(1)).repeat(2));
  const single = commitOps(n, docs, perTx);
  const ops = grouped ? Array.from({ length: Math.ceil(single.length / 100) }, (_, i) => single.slice(i * 100, i * 100 + 100).flat()) : single;
  let seq = 0;
  try {
    const result = await timed(ops, grouped, async (op) => {
      const tx = db.transaction('kv', 'readwrite', { durability: 'relaxed' });
      const s = seq++;
      op.forEach((i, k) => void tx.store.put(value, `${docName(i)}:${s}:${k}`));
      await tx.done;
    });
    return grouped ? { samples: result.samples, rate: (result.rate * single.length) / ops.length } : result;
  } finally {
    db.close();
  }
}

/** automerge-repo with its IndexedDB storage: handle.change, then repo.flush of that document. */
async function automerge({ n, docs, perTx, grouped }: PageOptions): Promise<PageResult> {
  const repo = new Repo({ storage: new IndexedDBStorageAdapter(unique('automerge')) });
  const handles: DocHandle<{ n: number }>[] = [];
  for (let i = 0; i < docs; i++) handles.push(repo.create({ ...smallDoc(i) }));
  await repo.flush();
  const ops = commitOps(n, docs, perTx);
  try {
    return await timed(ops, grouped, async (op) => {
      for (const i of op) (handles[i] as DocHandle<{ n: number }>).change((d) => void (d.n += 1));
      await repo.flush(op.map((i) => (handles[i] as DocHandle<{ n: number }>).documentId));
    });
  } finally {
    await repo.shutdown();
  }
}

const bench = { atoll, raw, automerge };
export type PageBench = typeof bench;
(globalThis as unknown as { bench: PageBench }).bench = bench;
(globalThis as unknown as { benchReady: boolean }).benchReady = true;
