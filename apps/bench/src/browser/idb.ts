// IndexedDB in Chromium: builds the benchmark page (src/browser/page.ts) with Vite's JS API into
// a temporary folder, serves it on 127.0.0.1, and drives Debian's Chromium through Playwright.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { build, defaultClientConditions } from 'vite';
import type { Row } from '../catalog.js';
import { newRow, put, type BenchContext } from '../context.js';
import { latency } from '../stats.js';
import type { PageOptions, PageResult } from './page.js';

/** Debian's Chromium and the flags the repository launches it with (chromium.config.ts). */
export const CHROMIUM = process.env['ATOLL_CHROMIUM'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'];

/**
 * Automerge's browser entry imports .wasm as an ES module, which Vite cannot bundle; its base64
 * build runs anywhere (the same alias vitest.shared.ts gives browser tests).
 */
function automergeBase64(): string {
  const main = createRequire(import.meta.url).resolve('@automerge/automerge');
  const root = main.slice(0, main.lastIndexOf('/@automerge/automerge/') + '/@automerge/automerge/'.length);
  return `${root}dist/mjs/entrypoints/fullfat_base64.js`;
}

/** Every file under `path` (recursively), for the page's cache key. */
function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((e) => (e.name === 'node_modules' || e.name === 'dist' ? [] : files(join(path, e.name))));
}

/**
 * Builds the page once per content: the bundle is cached in the temp directory under a hash of
 * every source it is made of (the bench's page and workloads, the workspace packages it bundles,
 * the peers' versions), so a second run skips Vite's ~10 s.
 */
async function pageDir(): Promise<string> {
  const benchSrc = fileURLToPath(new URL('../../src/', import.meta.url));
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const hash = createHash('sha256');
  const inputs = [
    join(benchSrc, 'browser/page.ts'),
    join(benchSrc, 'workloads.ts'),
    ...['protocol', 'store', 'storage-indexeddb'].flatMap((p) => files(join(root, 'packages', p, 'src'))),
  ].sort();
  for (const f of inputs) hash.update(f).update(readFileSync(f));
  // The installed versions of everything else.
  const lock = join(root, 'package-lock.json');
  if (existsSync(lock)) hash.update(readFileSync(lock));
  const dir = join(tmpdir(), `atoll-bench-page-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(join(dir, 'index.html'))) return dir;
  const building = `${dir}.${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  await buildPage(building);
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir);
  return dir;
}

async function buildPage(outDir: string): Promise<void> {
  // From dist/ (the built CLI) or src/ (Vitest), the page's source is src/browser/page.ts.
  const entry = fileURLToPath(new URL('../../src/browser/page.ts', import.meta.url));
  await build({
    configFile: false,
    logLevel: 'error',
    root: outDir,
    resolve: { conditions: ['source', ...defaultClientConditions], alias: [{ find: /^@automerge\/automerge$/, replacement: automergeBase64() }] },
    build: {
      outDir,
      emptyOutDir: false,
      minify: false,
      target: 'es2022',
      reportCompressedSize: false,
      rollupOptions: { input: entry, output: { entryFileNames: 'page.js', format: 'es' } },
    },
  });
  await writeFile(join(outDir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>Atoll bench</title><script type="module" src="./page.js"></script>\n');
}

async function serve(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const name = (req.url ?? '/') === '/' ? 'index.html' : (req.url ?? '').replace(/^\/+/, '').split('?')[0] ?? '';
    if (name.includes('..')) {
      res.writeHead(400).end();
      return;
    }
    readFile(join(dir, name)).then(
      (body) => res.writeHead(200, { 'Content-Type': name.endsWith('.html') ? 'text/html' : name.endsWith('.js') ? 'text/javascript' : 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function indexedDbBenchmarks(ctx: BenchContext): Promise<Row[]> {
  ctx.log('idb: building the page with Vite (cached by content)');
  const site = await serve(await pageDir());
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(site.url);
    await page.waitForFunction(() => (globalThis as unknown as { benchReady?: boolean }).benchReady === true, undefined, { timeout: 30_000 });
    const run = async (name: 'atoll' | 'raw' | 'automerge', options: PageOptions): Promise<PageResult> => {
      const result = await page.evaluate(
        ([fn, opts]) => (globalThis as unknown as { bench: Record<string, (o: PageOptions) => Promise<PageResult>> }).bench[fn]?.(opts) as Promise<PageResult>,
        [name, options] as const,
      );
      if (errors.length > 0) throw new Error(`page error: ${errors.join('; ')}`);
      return result;
    };
    const n = ctx.sizes.idbCommits;
    const docs = 100;
    const rows: Row[] = [];
    const sequential = async (id: string, perTx: number, systems: ('atoll' | 'raw' | 'automerge')[]) => {
      const row = newRow(id, { transactions: n, documents: docs, perTransaction: perTx, durability: 'relaxed' });
      for (const s of systems) {
        ctx.log(`${id}: ${s}`);
        const r = await run(s, { n, docs, perTx, grouped: false });
        const system = s === 'automerge' ? 'automerge-repo' : s;
        const note =
          s === 'raw' ? `idb: one readwrite transaction (relaxed) of ${perTx} put${perTx > 1 ? 's' : ''}` : s === 'automerge' ? 'IndexedDB storage adapter: handle.change then repo.flush' : undefined;
        put(row, system, { ...latency(r.samples), value: r.rate, ...(note ? { note } : {}) });
      }
      rows.push(row);
    };
    await sequential('idb.single', 1, ['atoll', 'automerge', 'raw']);
    await sequential('idb.multi10', 10, ['atoll', 'raw']);
    const grouped = newRow('idb.grouped', { transactions: n * 5, documents: docs });
    for (const s of ['atoll', 'raw'] as const) {
      ctx.log(`idb.grouped: ${s}`);
      const r = await run(s, { n: n * 5, docs, perTx: 1, grouped: true });
      put(grouped, s, { value: r.rate, note: s === 'raw' ? 'the same puts, 100 commits per readwrite transaction: what grouping could reach' : 'every store.transaction() started at once, awaited together' });
    }
    rows.push(grouped);
    return rows;
  } finally {
    await browser.close();
    await site.close();
  }
}
