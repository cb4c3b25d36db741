// Every benchmark row the report holds: id, what it measures, which systems run it, and the
// target from issue 9 it is judged against. The quick mode produces exactly these rows too
// (with smaller sizes), and the test checks each one came out with finite numbers.

/** The systems compared: Atoll, its peers, and the raw limits. */
export const SYSTEMS = ['atoll', 'automerge-repo', 'yjs', 'raw'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** One system's figures in one row. */
export interface Measure {
  /** Median latency, ms (for latency rows). */
  p50?: number;
  /** 99th percentile latency, ms. */
  p99?: number;
  /** The row's main value in `valueUnit` (a rate, a size, a time). */
  value?: number;
  /** More figures, named (bytes, missing documents, drift …). */
  extra?: Record<string, number>;
  /** What exactly ran, when it differs from the row's description. */
  note?: string;
}

export interface RowSpec {
  readonly id: string;
  readonly section: string;
  readonly title: string;
  /** Whether p50/p99 latencies (ms) are part of the row. */
  readonly latency: boolean;
  /** The unit of `value`, if the row has one. */
  readonly valueUnit?: string;
  /** Whether a higher `value` is better. */
  readonly higherIsBetter?: boolean;
  readonly systems: readonly SystemName[];
  /** The target from issue 9, in words. */
  readonly target?: string;
}

export interface Row extends RowSpec {
  /** The sizes and settings this run used. */
  params: Record<string, number | string>;
  results: Partial<Record<SystemName, Measure>>;
  /** Whether the target was met (undefined: no target, or not judged). */
  met?: boolean;
  /** Why the row has no figures, if it failed. */
  error?: string;
}

const S = {
  node: 'Local commits and reads (Node)',
  browser: 'Local commits (Chromium, IndexedDB)',
  net: 'Replication over loopback WebSockets',
  catchup: 'Catch-up of a fresh client',
  memory: 'Relay memory',
} as const;

export const ROWS: readonly RowSpec[] = [
  { id: 'commit.memory.single', section: S.node, title: 'single-document transaction, in memory', latency: true, valueUnit: 'tx/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'yjs'], target: 'p50 ≤ 0.1 ms (≥ 10 000 tx/s)' },
  { id: 'commit.memory.multi10', section: S.node, title: '10-document transaction, in memory', latency: true, valueUnit: 'tx/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'yjs'] },
  { id: 'commit.sqlite.single', section: S.node, title: 'single-document transaction, durable (SQLite full / raw insert / NodeFS+flush)', latency: true, valueUnit: 'tx/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'raw'], target: 'within 3× of raw one-transaction-per-insert' },
  { id: 'commit.sqlite.multi10', section: S.node, title: '10-document transaction, durable', latency: true, valueUnit: 'tx/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'raw'] },
  { id: 'commit.sqlite.grouped', section: S.node, title: 'single-document transactions issued concurrently, SQLite full', latency: false, valueUnit: 'changes/s', higherIsBetter: true, systems: ['atoll', 'raw'] },
  { id: 'commit.sqlite-normal.single', section: S.node, title: 'single-document transaction, SQLite durability normal', latency: true, valueUnit: 'tx/s', higherIsBetter: true, systems: ['atoll', 'raw'] },
  { id: 'read.snapshot.get', section: S.node, title: 'read-only snapshot: get one document', latency: true, valueUnit: 'reads/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'yjs'] },
  { id: 'read.snapshot.find', section: S.node, title: 'read-only snapshot: query selecting 1 in 100 documents', latency: true, valueUnit: 'queries/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'yjs'] },
  { id: 'live.memory', section: S.node, title: 'live query, commit → callback, 100 queries open, in memory', latency: true, systems: ['atoll', 'automerge-repo', 'yjs'], target: 'p50 ≤ 3.5 ms' },
  { id: 'live.sqlite', section: S.node, title: 'live query, commit → callback, 100 queries open, SQLite full', latency: true, systems: ['atoll'], target: 'p50 ≤ 3.5 ms' },
  { id: 'idb.single', section: S.browser, title: 'single-document transaction, unbatched', latency: true, valueUnit: 'tx/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'raw'], target: '≥ 1 000 tx/s' },
  { id: 'idb.multi10', section: S.browser, title: '10-document transaction, unbatched', latency: true, valueUnit: 'tx/s', higherIsBetter: true, systems: ['atoll', 'raw'] },
  { id: 'idb.grouped', section: S.browser, title: 'single-document transactions issued concurrently (grouped while one is in flight)', latency: false, valueUnit: 'changes/s', higherIsBetter: true, systems: ['atoll', 'raw'], target: '≥ 10 000 changes/s' },
  { id: 'net.propagation', section: S.net, title: 'propagation client → relay → client, sequential edits', latency: true, systems: ['atoll', 'automerge-repo', 'yjs', 'raw'], target: 'p50 ≤ 1 ms, p99 ≤ 5 ms, within 4× of y-websocket' },
  { id: 'net.load', section: S.net, title: 'propagation while 8 clients type 6 edits/s each', latency: true, systems: ['atoll', 'automerge-repo', 'yjs', 'raw'], target: 'no growth over time' },
  { id: 'net.fanout', section: S.net, title: 'fan-out: one edit until all 50 subscribed clients have it', latency: true, systems: ['atoll', 'automerge-repo', 'yjs', 'raw'] },
  { id: 'net.forwarding', section: S.net, title: 'relay forwarding rate, one writer → relay → one reader', latency: false, valueUnit: 'edits/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'yjs', 'raw'] },
  { id: 'catchup.small', section: S.catchup, title: 'fresh client catches up (small relay)', latency: false, valueUnit: 'docs/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'yjs'], target: '≥ 10 000 docs/s, 0 missing, > 10× automerge-repo, ahead of y-websocket, fewer bytes than automerge-repo' },
  { id: 'catchup.medium', section: S.catchup, title: 'fresh client catches up (medium relay)', latency: false, valueUnit: 'docs/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'yjs'], target: '≥ 10 000 docs/s, 0 missing, > 10× automerge-repo, ahead of y-websocket, fewer bytes than automerge-repo' },
  { id: 'catchup.large', section: S.catchup, title: 'fresh client catches up (large relay)', latency: false, valueUnit: 'docs/s', higherIsBetter: true, systems: ['atoll', 'automerge-repo', 'yjs'], target: '≥ 10 000 docs/s, 0 missing, > 10× automerge-repo, ahead of y-websocket, fewer bytes than automerge-repo' },
  { id: 'catchup.incremental', section: S.catchup, title: 'second catch-up of the medium client after documents changed', latency: false, valueUnit: 'ms', higherIsBetter: false, systems: ['atoll', 'automerge-repo', 'yjs'], target: 'cost in proportion to what changed' },
  { id: 'memory.docs', section: S.memory, title: 'relay memory per 10 000 small documents (RSS after GC)', latency: false, valueUnit: 'MiB', higherIsBetter: false, systems: ['atoll', 'automerge-repo', 'yjs'], target: 'no more than automerge-repo' },
  { id: 'memory.connections', section: S.memory, title: 'relay memory per 1 000 idle connections (RSS after GC)', latency: false, valueUnit: 'MiB', higherIsBetter: false, systems: ['atoll', 'automerge-repo', 'yjs', 'raw'] },
];

export function spec(id: string): RowSpec {
  const found = ROWS.find((r) => r.id === id);
  if (!found) throw new Error(`no benchmark row ${id}`);
  return found;
}
