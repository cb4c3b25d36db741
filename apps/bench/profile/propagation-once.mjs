// Where a sequential edit's propagation time goes (the bench's net.propagation: writer → relay
// → reader, one edit at a time), split at the points the writer and the reader can see
// (docs/performance.md §6):
//   npx turbo run build --filter=@atoll/bench
//   node apps/bench/profile/propagation-once.mjs [EDITS]
// Per edit: the writer's commit (write → its local commit event), until the delivery leaves the
// writer, until the reader receives the relay's delivery message (the relay's share, both
// loopback hops included), the reader's decode and apply, and the reader's commit event.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AtollClient, share } from '../dist/net/clients.js';
import { ServerProc } from '../dist/procs.js';

const n = Number(process.argv[2] ?? 500);
const server = await ServerProc.start('atoll', { dataDir: mkdtempSync(join(tmpdir(), 'atoll-propagation-')) });
const writer = await AtollClient.connect(server.url, 'propagation');
const reader = await AtollClient.connect(server.url, 'propagation');
await share(writer, [reader], 'p');
let t = {};
writer.store.onCommit((e) => void (e.source === 'local' && (t.committed ??= performance.now())));
writer.peer.events.on('delivery-sent', () => void (t.sent ??= performance.now()));
reader.peer.events.on('message-received', (e) => void (e.type === 'delivery' && (t.received ??= performance.now())));
reader.peer.events.on('delivery-received', (e) => void (t.applyMs ??= e.applyMs));
const rows = [];
for (let i = 1; i <= n; i++) {
  t = {};
  const seen = new Promise((resolve) => (reader.onRemote = (_doc, v) => v === i && resolve(performance.now())));
  const start = performance.now();
  writer.write('p', i);
  const end = await Promise.race([seen, new Promise((resolve) => setTimeout(() => resolve(undefined), 5_000))]);
  if (end === undefined) throw new Error(`edit ${i} never arrived`);
  if (i > n / 10) rows.push({ commit: t.committed - start, send: t.sent - t.committed, relay: t.received - t.sent, apply: t.applyMs, event: end - t.received - t.applyMs, total: end - start });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = {};
for (const k of Object.keys(rows[0])) out[k] = Number(median(rows.map((r) => r[k])).toFixed(3));
console.log(`medians of ${rows.length} edits, ms:`, out);
await writer.close();
await reader.close();
await server.stop();
