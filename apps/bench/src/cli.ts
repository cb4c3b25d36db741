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
const loadSeconds = flag('load-seconds');
const quick = args.includes('--quick');
const outDir = flag('out') ?? fileURLToPath(new URL(quick ? '../results/quick/' : '../results/', import.meta.url));

const results = await runBench({ quick, outDir, ...(only ? { only } : {}), ...(systems ? { systems } : {}), ...(loadSeconds ? { sizes: { loadSeconds: Number(loadSeconds) } } : {}) });
const failed = results.rows.filter((r) => r.error);
console.log(`wrote ${outDir}latest.md and latest.json (${results.rows.length} rows, ${failed.length} failed, ${results.seconds.toFixed(0)} s)`);
process.exit(failed.length > 0 ? 1 : 0);
