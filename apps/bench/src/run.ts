// Runs the benchmarks in order, on this machine, in one process (servers in processes of their
// own), and writes results/latest.json and results/latest.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ROWS, type Row, type SystemName } from './catalog.js';
import { FULL, QUICK, newRow, type BenchContext, type Sizes } from './context.js';
import { CHROMIUM, indexedDbBenchmarks } from './browser/idb.js';
import { localNodeBenchmarks } from './local/node.js';
import { catchupBenchmarks } from './net/catchup.js';
import { replicationBenchmarks } from './net/replication.js';
import { judge, markdown, type Results } from './report.js';

/** The groups of benchmarks, in the order they run; `--only` picks some. */
export const GROUPS = {
  local: { prefixes: ['commit.', 'read.', 'live.'], run: localNodeBenchmarks },
  idb: { prefixes: ['idb.'], run: indexedDbBenchmarks },
  net: {
    prefixes: ['net.', 'memory.connections'],
    run: replicationBenchmarks,
  },
  catchup: { prefixes: ['catchup.', 'memory.docs'], run: catchupBenchmarks },
} as const satisfies Record<string, { prefixes: readonly string[]; run: (ctx: BenchContext) => Promise<Row[]> }>;
export type GroupName = keyof typeof GROUPS;

export interface RunOptions {
  readonly quick: boolean;
  /** Where latest.json and latest.md go. */
  readonly outDir: string;
  readonly only?: readonly GroupName[];
  /** Where a benchmark compares several systems, run only these (the local and browser groups run all). */
  readonly systems?: readonly SystemName[];
  /** Overrides of the mode's sizes. */
  readonly sizes?: Partial<Sizes>;
  readonly log?: (message: string) => void;
}

function versions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = {};
  for (const name of ['@automerge/automerge', '@automerge/automerge-repo', 'yjs', 'y-websocket', '@y/websocket-server', 'ws', 'better-sqlite3', 'idb']) {
    try {
      const main = require.resolve(name.startsWith('@y/') ? `${name}/package.json` : name);
      const root = main.slice(0, main.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length);
      out[name] = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }).version;
    } catch {
      out[name] = '?';
    }
  }
  return out;
}

function chromiumVersion(): string {
  try {
    return execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'Chromium (version unknown)';
  }
}

export async function runBench(options: RunOptions): Promise<Results> {
  const log = options.log ?? ((m: string) => console.log(m));
  const sizes: Sizes = { ...(options.quick ? QUICK : FULL), ...options.sizes };
  const tmp = mkdtempSync(join(tmpdir(), 'atoll-bench-'));
  const begin = performance.now();
  const ctx: BenchContext = { quick: options.quick, sizes, tmp, ...(options.systems ? { systems: new Set(options.systems) } : {}), log: (m) => log(`[bench ${((performance.now() - begin) / 1000).toFixed(1)} s] ${m}`) };
  const started = new Date();
  const loadBefore = loadavg();
  // Hundreds of clients live in this process (y-protocols' Awareness adds a process 'exit'
  // listener per client): not a leak.
  const maxListeners = process.getMaxListeners();
  process.setMaxListeners(Math.max(maxListeners, 5000));
  const t0 = performance.now();
  const rows: Row[] = [];
  try {
    for (const [name, group] of Object.entries(GROUPS) as [GroupName, (typeof GROUPS)[GroupName]][]) {
      if (options.only && !options.only.includes(name)) continue;
      try {
        rows.push(...(await group.run(ctx)));
      } catch (err) {
        const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
        log(`[bench] ${name} failed: ${message}`);
        for (const spec of ROWS.filter((r) => group.prefixes.some((p) => r.id.startsWith(p)))) {
          if (rows.some((r) => r.id === spec.id)) continue;
          const row = newRow(spec.id);
          row.error = message.split('\n')[0] ?? message;
          rows.push(row);
        }
      }
    }
  } finally {
    process.setMaxListeners(maxListeners);
    rmSync(tmp, { recursive: true, force: true });
  }
  // Catalog order, whatever order the groups produced them in.
  rows.sort((a, b) => ROWS.findIndex((r) => r.id === a.id) - ROWS.findIndex((r) => r.id === b.id));
  judge(rows);
  const results: Results = {
    mode: options.quick ? 'quick' : 'full',
    startedAt: started.toISOString(),
    seconds: (performance.now() - t0) / 1000,
    machine: {
      cpus: cpus()[0]?.model ?? 'unknown CPU',
      cores: cpus().length,
      memoryGiB: totalmem() / 2 ** 30,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadBefore,
      loadAfter: loadavg(),
      chromium: chromiumVersion(),
    },
    versions: versions(),
    rows,
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'latest.json'), `${JSON.stringify(results, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
  writeFileSync(join(options.outDir, 'latest.md'), markdown(results));
  return results;
}
