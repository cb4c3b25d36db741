#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --only=local,idb,net,catchup] [-- --systems=atoll,yjs] [-- --out=DIR] [-- --load-seconds=N]`
import { fileURLToPath } from 'node:url';
import { SYSTEMS, type SystemName } from './catalog.js';
import { GROUPS, runBench, type GroupName } from './run.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const unknown = args.filter((a) => !/^--(quick|only=.*|systems=.*|out=.*|load-seconds=\d+)$/.test(a));
if (unknown.length > 0 || args.includes('--help')) {
  console.error(`usage: npm run bench -- [--quick] [--only=${Object.keys(GROUPS).join(',')}] [--systems=${SYSTEMS.join(',')}] [--out=DIR] [--load-seconds=N]`);
  process.exit(2);
}
const only = flag('only')?.split(',') as GroupName[] | undefined;
for (const g of only ?? []) {
  if (!(g in GROUPS)) {
    console.error(`unknown group ${g}: one of ${Object.keys(GROUPS).join(', ')}`);
    process.exit(2);
  }
}
const systems = flag('systems')?.split(',') as SystemName[] | undefined;
for (const s of systems ?? []) {
  if (!(SYSTEMS as readonly string[]).includes(s)) {
    console.error(`unknown system ${s}: one of ${SYSTEMS.join(', ')}`);
    process.exit(2);
  }
}
// automerge-repo's WebSocket client adapter drops its error listener from a socket it replaces
// while that socket may still fail: a peer server hanging up mid-run then surfaces as an
// unhandled 'error' event from `ws`. That is the compared system failing, not the bench: note
// it and go on (the row reports what the client got); anything else still ends the run.
process.on('uncaughtException', (err: Error & { code?: string }) => {
  // (Node adds the emitting `ws` frame to what it prints, not to `err.stack`: go by the code.
  // Atoll's sockets all have error listeners, so this cannot hide one of Atoll's.)
  if (err.code === 'ECONNRESET' || err.code === 'ECONNREFUSED' || err.code === 'EPIPE') {
    console.error(`[bench] a socket of a compared system failed without an error listener (${err.code}: ${err.message}); going on`);
    return;
  }
  console.error(err);
  process.exit(1);
});
const loadSeconds = flag('load-seconds');
const quick = args.includes('--quick');
const outDir = flag('out') ?? fileURLToPath(new URL(quick ? '../results/quick/' : '../results/', import.meta.url));

const results = await runBench({ quick, outDir, ...(only ? { only } : {}), ...(systems ? { systems } : {}), ...(loadSeconds ? { sizes: { loadSeconds: Number(loadSeconds) } } : {}) });
const failed = results.rows.filter((r) => r.error);
console.log(`wrote ${outDir}latest.md and latest.json (${results.rows.length} rows, ${failed.length} failed, ${results.seconds.toFixed(0)} s)`);
process.exit(failed.length > 0 ? 1 : 0);
