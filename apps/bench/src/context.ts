// What every benchmark gets: the mode's sizes, a scratch directory, a logger for progress.
import type { Measure, Row, SystemName } from './catalog.js';
import { spec } from './catalog.js';

/** Sizes of one run. The quick mode shrinks every one, so the suite runs in seconds. */
export interface Sizes {
  /** Local commits per measurement (single-document transactions). */
  readonly commits: number;
  /** Local durable commits per measurement (SQLite, NodeFS). */
  readonly durableCommits: number;
  /** Documents in the local working set. */
  readonly docs: number;
  /** Reads per read measurement. */
  readonly reads: number;
  /** Commits measured with live queries open. */
  readonly liveCommits: number;
  /** IndexedDB commits per measurement. */
  readonly idbCommits: number;
  /** Sequential edits in the propagation test. */
  readonly edits: number;
  /** Seconds of the 8-typist load test, per system. */
  readonly loadSeconds: number;
  /** Edits in the fan-out test. */
  readonly fanoutEdits: number;
  /** Subscribed clients in the fan-out test. */
  readonly fanoutClients: number;
  /** Edits in the forwarding test. */
  readonly forwardEdits: number;
  /** Catch-up sizes: small, medium, large. */
  readonly catchup: readonly [number, number, number];
  /** Changed documents before the second catch-up. */
  readonly incremental: number;
  /** Idle connections in the memory test. */
  readonly idleConnections: number;
  /** How long one catch-up may take before the rest counts as missing, ms. */
  readonly catchupTimeoutMs: number;
  /** Repetitions of each rate measurement (the median is reported). */
  readonly repeats: number;
}

export const FULL: Sizes = {
  commits: 3000,
  durableCommits: 1000,
  docs: 1000,
  reads: 20_000,
  liveCommits: 1000,
  idbCommits: 1000,
  edits: 500,
  loadSeconds: 120,
  fanoutEdits: 60,
  fanoutClients: 50,
  forwardEdits: 5000,
  catchup: [1000, 10_000, 50_000],
  incremental: 100,
  idleConnections: 1000,
  catchupTimeoutMs: 120_000,
  repeats: 3,
};

export const QUICK: Sizes = {
  commits: 150,
  durableCommits: 30,
  docs: 200,
  reads: 300,
  liveCommits: 30,
  idbCommits: 30,
  edits: 12,
  loadSeconds: 2,
  fanoutEdits: 3,
  fanoutClients: 5,
  forwardEdits: 40,
  catchup: [20, 40, 80],
  incremental: 5,
  idleConnections: 10,
  catchupTimeoutMs: 20_000,
  repeats: 1,
};

export interface BenchContext {
  readonly quick: boolean;
  readonly sizes: Sizes;
  /** A scratch directory, removed after the run. */
  readonly tmp: string;
  /** The systems to run where a benchmark runs several (`--systems=`); all when undefined. */
  readonly systems?: ReadonlySet<SystemName>;
  log(message: string): void;
}

/** The systems of `list` this run measures. */
export function selected<T extends SystemName>(ctx: BenchContext, list: readonly T[]): T[] {
  return list.filter((s) => ctx.systems === undefined || ctx.systems.has(s));
}

/** A row of the catalog with the figures of this run filled in. */
export function newRow(id: string, params: Record<string, number | string> = {}): Row {
  return { ...spec(id), params, results: {} };
}

/** Puts one system's figures into a row. */
export function put(row: Row, system: SystemName, measure: Measure): void {
  row.results[system] = measure;
}

export const now = (): number => performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `cond()` holds, checking every `everyMs`; resolves false after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs: number, everyMs = 5): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (!cond()) {
    if (now() > deadline) return false;
    await sleep(everyMs);
  }
  return true;
}

/** A logger that keeps quiet except for warnings and errors (the stores' default logs every connection). */
export const quietLogger = {
  debug: (): void => {},
  info: (): void => {},
  warn: (message: string): void => console.error(`[warn] ${message}`),
  error: (message: string, fields?: Record<string, unknown>): void => console.error(`[error] ${message}`, fields ?? ''),
};
