// One Atoll forwarding run (the bench's net.forwarding: a writer's edits → relay → a reader),
// to profile the three processes' share (docs/performance.md §6):
//   npx turbo run build --filter=@atoll/bench
//   ATOLL_BENCH_PROFILE=/tmp/prof-relay node --cpu-prof --cpu-prof-dir=/tmp/prof-clients apps/bench/profile/forwarding-once.mjs [EDITS]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers';
import { AtollClient, share } from '../dist/net/clients.js';
import { ServerProc } from '../dist/procs.js';

const n = Number(process.argv[2] ?? 5_000);
const server = await ServerProc.start('atoll', { dataDir: mkdtempSync(join(tmpdir(), 'atoll-forwarding-')) });
const writer = await AtollClient.connect(server.url, 'forwarding');
const reader = await AtollClient.connect(server.url, 'forwarding');
await share(writer, [reader], 'fwd');
let last = 0;
let remoteCommits = 0;
reader.store.onCommit((e) => {
  if (e.source === 'remote') remoteCommits++;
});
const done = new Promise((resolve) => {
  reader.onRemote = (_doc, v) => {
    last = v;
    if (v >= n) resolve(performance.now());
  };
});
const cpuBefore = process.cpuUsage();
const started = performance.now();
for (let i = 1; i <= n; i++) {
  writer.write('fwd', i);
  if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
}
const deadline = setTimeout(() => {
  console.log(`timed out at ${last} of ${n}`);
  process.exit(1);
}, 120_000);
const at = await done;
clearTimeout(deadline);
const cpu = process.cpuUsage(cpuBefore);
const seconds = (at - started) / 1000;
console.log(`${n} edits in ${seconds.toFixed(2)} s (${Math.round(n / seconds)} edits/s); the reader committed ${remoteCommits} remote commits; writer + reader CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`);
await writer.close();
await reader.close();
await server.stop();
