// One Atoll catch-up of a fresh in-memory client from a relay seeded with N documents, to
// profile both sides (docs/performance.md §6):
//   npx turbo run build --filter=@atoll/bench
//   ATOLL_BENCH_PROFILE=/tmp/prof-relay node --cpu-prof --cpu-prof-dir=/tmp/prof-client apps/bench/profile/catchup-once.mjs [N]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Store, silentLogger } from '@atoll/store';
import { AtollClient } from '../dist/net/clients.js';
import { ServerProc } from '../dist/procs.js';

const n = Number(process.argv[2] ?? 5_000);
const server = await ServerProc.start('atoll', { dataDir: mkdtempSync(join(tmpdir(), 'atoll-catchup-')), seed: n, timeoutMs: 600_000 });
const store = await Store.open({ logger: silentLogger });
let commits = 0;
store.onCommit(() => commits++);
const started = performance.now();
const cpuBefore = process.cpuUsage();
const client = AtollClient.start(store, server.url, 'docs');
const deadline = Date.now() + 120_000;
while (!(client.caughtUp() && store.keysOf('docs').length >= n) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const got = store.keysOf('docs').length;
console.log(`${got} of ${n} documents in ${seconds.toFixed(2)} s (${Math.round(got / seconds)} documents/s), ${commits} commit events (one per delivery, however they were grouped); client CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (${((cpu.user + cpu.system) / 1000 / got).toFixed(3)} ms per document)`);
await client.peer.close();
await store.close();
await server.stop();
