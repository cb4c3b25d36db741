// The quick mode, end to end: real server processes, real sockets, real Chromium, tiny sizes.
// It checks that every benchmark row of the catalog came out, for every system it compares,
// with finite numbers — so the suite never rots. It asserts no timing: a benchmark is not a test.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { ROWS, type Row } from '../src/catalog.js';
import { runBench } from '../src/run.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** The servers run the built relay and packages (plain Node): fail clearly when a build is missing or stale. */
function requireBuilds(): void {
  for (const pkg of ['apps/relay', 'packages/protocol', 'packages/store', 'packages/storage-sqlite', 'packages/sync', 'packages/transport-websocket']) {
    const index = join(root, pkg, 'dist/index.js');
    const built = existsSync(index) ? statSync(index).mtimeMs : 0;
    if (built === 0 || built < newest(join(root, pkg, 'src'))) {
      throw new Error(`${pkg}/dist is ${built === 0 ? 'missing' : 'older than its sources'}: run \`npx turbo run build --filter=@atoll/bench\` first (npm test at the root builds first)`);
    }
  }
}

const out = mkdtempSync(join(tmpdir(), 'atoll-bench-quick-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('the quick mode produces every benchmark row with finite numbers', { timeout: 300_000 }, async () => {
  requireBuilds();
  const results = await runBench({ quick: true, outDir: out, log: () => {} });
  const written = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as { rows: Row[] };
  const markdown = readFileSync(join(out, 'latest.md'), 'utf8');
  expect(written.rows.map((r) => r.id)).toEqual(results.rows.map((r) => r.id));
  const problems: string[] = [];
  for (const spec of ROWS) {
    const row = written.rows.find((r) => r.id === spec.id);
    if (!row) {
      problems.push(`${spec.id}: missing`);
      continue;
    }
    if (row.error) problems.push(`${spec.id}: failed: ${row.error}`);
    if (!markdown.includes(`**${spec.id}**`)) problems.push(`${spec.id}: not in latest.md`);
    for (const system of spec.systems) {
      const m = row.results[system];
      if (!m) {
        problems.push(`${spec.id}: no figures for ${system}`);
        continue;
      }
      const figures = { ...(spec.latency ? { p50: m.p50, p99: m.p99 } : {}), ...(spec.valueUnit ? { value: m.value } : {}), ...m.extra };
      for (const [name, value] of Object.entries(figures)) {
        if (typeof value !== 'number' || !Number.isFinite(value)) problems.push(`${spec.id}: ${system} ${name} is ${String(value)}`);
      }
    }
  }
  expect(problems).toEqual([]);
});
