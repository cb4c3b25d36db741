// Catch-up of a fresh client from a server holding N small documents (time, bytes on the wire
// in both directions, documents that never arrived), a second catch-up of the medium client
// after some documents changed, and the server's memory per document.
import { setMaxListeners } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Repo, type AutomergeUrl, type DocHandle } from '@automerge/automerge-repo';
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket';
import { Store } from '@atoll/store';
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import type { Measure, Row, SystemName } from '../catalog.js';
import { newRow, now, put, quietLogger, selected, sleep, until, type BenchContext } from '../context.js';
import { ServerProc, type ServerMemory } from '../procs.js';
import { docName } from '../workloads.js';
import { AtollClient, shutdownRepo } from './clients.js';
import { CountingProxy } from './proxy.js';

const SYSTEMS: readonly SystemName[] = ['atoll', 'automerge-repo', 'yjs'];
const CHANGED_TITLE = 'changed after the first catch-up';
/** How long a server may take to be seeded (not measured) before the catch-up counts as impossible. */
const SEED_TIMEOUT_MS = 600_000;

interface CatchupOutcome {
  /** How long seeding the server took (not part of the measure). */
  seedMs?: number;
  first: Measure;
  incremental?: Measure;
  memory: ServerMemory;
}

export async function catchupBenchmarks(ctx: BenchContext): Promise<Row[]> {
  const [small, medium, large] = ctx.sizes.catchup;
  const ids = ['catchup.small', 'catchup.medium', 'catchup.large'] as const;
  const sizes = [small, medium, large];
  const rows = ids.map((id, i) => newRow(id, { documents: sizes[i] as number, timeoutSeconds: ctx.sizes.catchupTimeoutMs / 1000 }));
  const incremental = newRow('catchup.incremental', { documents: medium, changed: ctx.sizes.incremental });
  // Memory is read at the medium size (10 000 documents in the full mode), which every server reaches.
  const memory = newRow('memory.docs', { documents: medium });

  for (const system of selected(ctx, SYSTEMS)) {
    // The empty server's memory is the baseline of the per-document figure.
    const empty = await ServerProc.start(system, { dataDir: mkdtempSync(join(ctx.tmp, `${system}-empty-`)) });
    const baseline = await empty.memory();
    await empty.stop();
    let seedRate: number | undefined;
    for (let i = 0; i < sizes.length; i++) {
      const n = sizes[i] as number;
      // A server whose seeding at the previous size predicts more than the limit at this one is
      // not tried: the wait would measure nothing (automerge-repo's server seeds ~20 documents/s).
      if (seedRate !== undefined && n / seedRate > SEED_TIMEOUT_MS) {
        const note = `not attempted: the server was seeded at ${seedRate * 1000 < 100 ? (seedRate * 1000).toFixed(1) : Math.round(seedRate * 1000)} documents/s at the previous size, so ${n} documents would take ~${Math.round(n / seedRate / 60_000)} min, beyond the ${SEED_TIMEOUT_MS / 60_000}-min limit`;
        ctx.log(`${ids[i]}: ${system} ${note}`);
        put(rows[i] as Row, system, { value: 0, extra: { missing: n }, note });
        continue;
      }
      ctx.log(`${ids[i]}: ${system} (${n} documents)`);
      const withIncremental = i === 1;
      let outcome: CatchupOutcome;
      try {
        outcome = await catchup(ctx, system, n, withIncremental ? ctx.sizes.incremental : 0);
      } catch (err) {
        // One system failing must not cost the others their figures: the row says what failed.
        const row = rows[i] as Row;
        row.error = `${row.error ? `${row.error}; ` : ''}${system}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
        ctx.log(`${ids[i]}: ${system} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        continue;
      }
      if (outcome.seedMs !== undefined) seedRate = n / outcome.seedMs;
      put(rows[i] as Row, system, outcome.first);
      if (withIncremental && outcome.incremental) put(incremental, system, outcome.incremental);
      if (i === 1) {
        const perTenK = (x: number) => ((x / n) * 10_000) / 2 ** 20;
        put(memory, system, {
          value: perTenK(outcome.memory.rss - baseline.rss),
          extra: { 'heap MiB per 10k': perTenK(outcome.memory.heapUsed - baseline.heapUsed), 'baseline RSS MiB': baseline.rss / 2 ** 20 },
        });
      }
    }
  }
  return [...rows, incremental, memory];
}

async function catchup(ctx: BenchContext, system: SystemName, n: number, changes: number): Promise<CatchupOutcome> {
  const dataDir = mkdtempSync(join(ctx.tmp, `${system}-catchup-`));
  let server: ServerProc;
  const seeding = now();
  try {
    server = await ServerProc.start(system, { dataDir, seed: n, timeoutMs: SEED_TIMEOUT_MS });
  } catch (err) {
    // A server that cannot even be seeded in the time allowed is a result: nothing can be caught up from it.
    if (!(err instanceof Error && err.message.includes('not ready within'))) throw err;
    ctx.log(`${system}: the server was not seeded with ${n} documents within ${SEED_TIMEOUT_MS / 60_000} min`);
    const none: Measure = { value: 0, extra: { missing: n }, note: `the server could not be seeded with ${n} documents within ${SEED_TIMEOUT_MS / 60_000} min` };
    return { first: none, memory: { rss: Number.NaN, heapUsed: Number.NaN, external: Number.NaN, arrayBuffers: Number.NaN } };
  }
  if (server.docs !== n) throw new Error(`${system} server holds ${server.docs} documents, not ${n}`);
  const seedMs = now() - seeding;
  const proxy = await CountingProxy.start(server.url);
  try {
    switch (system) {
      case 'atoll':
        return { seedMs, ...(await atollCatchup(ctx, server, proxy, n, changes)) };
      case 'automerge-repo':
        return { seedMs, ...(await automergeCatchup(ctx, server, proxy, n, changes)) };
      case 'yjs':
        return { seedMs, ...(await yjsCatchup(ctx, server, proxy, n, changes)) };
      case 'raw':
        throw new Error('no raw catch-up');
    }
  } finally {
    await proxy.close();
    await server.stop();
  }
}

function outcome(n: number, got: number, ms: number, proxy: CountingProxy): Measure {
  return {
    value: got / (ms / 1000),
    extra: { seconds: ms / 1000, 'bytes down': proxy.down, 'bytes up': proxy.up, 'bytes per doc': proxy.total / n, missing: n - got },
  };
}

function incrementalOutcome(changes: number, got: number, ms: number, proxy: CountingProxy): Measure {
  return { value: ms, extra: { 'bytes down': proxy.down, 'bytes up': proxy.up, 'bytes per changed doc': proxy.total / changes, missing: changes - got } };
}

// ---- Atoll ----------------------------------------------------------------------------------

async function atollCatchup(ctx: BenchContext, server: ServerProc, proxy: CountingProxy, n: number, changes: number): Promise<CatchupOutcome> {
  const store = await Store.open({ logger: quietLogger });
  const count = () => store.keysOf('docs').length;
  const t = now();
  // Not AtollClient.dial: a catch-up that runs out of time is a result (documents missing), not an error.
  const started = AtollClient.start(store, proxy.urlFor(server.url), 'docs');
  let peer = started.peer;
  await until(() => started.caughtUp() && count() >= n, ctx.sizes.catchupTimeoutMs, 2);
  const first = outcome(n, count(), now() - t, proxy);
  const memory = await server.memory();
  let incremental: Measure | undefined;
  if (changes > 0) {
    await peer.close();
    // Another client changes `changes` documents (it subscribes to just those), and waits until
    // the relay has acknowledged them: they are durable there.
    const writerStore = await Store.open({ logger: quietLogger });
    const writer = await AtollClient.dialWhere(writerStore, server.url, 'docs', { n: { $lt: changes } });
    await until(() => writerStore.keysOf('docs').length >= changes, 30_000);
    for (let i = 0; i < changes; i++) await writerStore.update('docs', docName(i), (d) => void (d['title'] = CHANGED_TITLE));
    await until(() => writer.peer.connections.every((c) => c.inflightBytes === 0), 30_000);
    await writer.peer.close();
    await writerStore.close();
    proxy.reset();
    const changed = () => {
      let k = 0;
      for (let i = 0; i < changes; i++) if (store.selectionValue('docs', docName(i))?.['title'] === CHANGED_TITLE) k++;
      return k;
    };
    const t2 = now();
    peer = AtollClient.start(store, proxy.urlFor(server.url), 'docs').peer;
    await until(() => changed() >= changes, 30_000, 2);
    incremental = incrementalOutcome(changes, changed(), now() - t2, proxy);
  }
  await peer.close();
  await store.close();
  return incremental ? { first, incremental, memory } : { first, memory };
}

// ---- automerge-repo ---------------------------------------------------------------------------

type AmDoc = { name: string; title: string; n: number; done: boolean };

async function automergeUrls(server: ServerProc, n: number): Promise<AutomergeUrl[]> {
  const urls: AutomergeUrl[] = [];
  while (urls.length < n) {
    const reply = await server.request<{ urls: AutomergeUrl[] }>('urls', { from: urls.length });
    if (reply.urls.length === 0) break;
    urls.push(...reply.urls);
  }
  return urls;
}

async function automergeCatchup(ctx: BenchContext, server: ServerProc, proxy: CountingProxy, n: number, changes: number): Promise<CatchupOutcome> {
  const urls = await automergeUrls(server, n);
  let adapter = new WebSocketClientAdapter(proxy.urlFor(server.url));
  const repo = new Repo({ network: [adapter] });
  const timeout = AbortSignal.timeout(ctx.sizes.catchupTimeoutMs);
  setMaxListeners(n + 10, timeout); // one listener per find
  const t = now();
  await until(() => repo.peers.length > 0, 15_000);
  // A fresh client knows the documents' URLs (automerge-repo has no "everything" query) and finds them all.
  const found = await Promise.allSettled(urls.map((url) => repo.find<AmDoc>(url, { signal: timeout })));
  const handles = found.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const first = outcome(n, handles.length, now() - t, proxy);
  const memory = await server.memory();
  let incremental: Measure | undefined;
  if (changes > 0) {
    repo.networkSubsystem.removeNetworkAdapter(adapter);
    const writer = new Repo({ network: [new WebSocketClientAdapter(server.url)] });
    await until(() => writer.peers.length > 0, 15_000);
    const targets = await Promise.all(urls.slice(0, changes).map((url) => writer.find<AmDoc>(url, { signal: AbortSignal.timeout(30_000) })));
    for (const h of targets) h.change((d) => void (d.title = CHANGED_TITLE));
    // No acknowledgements in automerge-repo's protocol: give the server time to apply them.
    await sleep(1500);
    await shutdownRepo(writer);
    proxy.reset();
    const byUrl = new Map(handles.map((h) => [h.url, h]));
    const changedHandles = urls.slice(0, changes).map((u) => byUrl.get(u)).filter((h): h is DocHandle<AmDoc> => h !== undefined);
    const changed = () => changedHandles.filter((h) => h.doc().title === CHANGED_TITLE).length;
    const t2 = now();
    adapter = new WebSocketClientAdapter(proxy.urlFor(server.url));
    repo.networkSubsystem.addNetworkAdapter(adapter);
    await until(() => changed() >= changes, 30_000, 2);
    incremental = incrementalOutcome(changes, changed(), now() - t2, proxy);
  }
  await shutdownRepo(repo);
  return incremental ? { first, incremental, memory } : { first, memory };
}

// ---- Yjs ------------------------------------------------------------------------------------

function yjsProvider(url: string, doc: Y.Doc): WebsocketProvider {
  return new WebsocketProvider(url, 'catchup', doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true });
}

async function yjsCatchup(ctx: BenchContext, server: ServerProc, proxy: CountingProxy, n: number, changes: number): Promise<CatchupOutcome> {
  const doc = new Y.Doc();
  const root = doc.getMap<Y.Map<unknown>>('docs');
  const t = now();
  const provider = yjsProvider(proxy.urlFor(server.url), doc);
  await until(() => provider.synced && root.size >= n, ctx.sizes.catchupTimeoutMs, 2);
  const first = outcome(n, root.size, now() - t, proxy);
  const memory = await server.memory();
  let incremental: Measure | undefined;
  if (changes > 0) {
    provider.disconnect();
    const writerDoc = new Y.Doc();
    const writer = yjsProvider(server.url, writerDoc);
    const writerRoot = writerDoc.getMap<Y.Map<unknown>>('docs');
    await until(() => writer.synced && writerRoot.size >= n, 30_000);
    for (let i = 0; i < changes; i++) writerDoc.transact(() => writerRoot.get(docName(i))?.set('title', CHANGED_TITLE));
    await sleep(1500); // the same settling time automerge-repo gets
    writer.destroy();
    writerDoc.destroy();
    proxy.reset();
    const changed = () => {
      let k = 0;
      for (let i = 0; i < changes; i++) if (root.get(docName(i))?.get('title') === CHANGED_TITLE) k++;
      return k;
    };
    const t2 = now();
    provider.connect();
    await until(() => changed() >= changes, 30_000, 2);
    incremental = incrementalOutcome(changes, changed(), now() - t2, proxy);
  }
  provider.destroy();
  doc.destroy();
  return incremental ? { first, incremental, memory } : { first, memory };
}
