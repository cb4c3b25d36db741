// A loop of single-document commits on an in-memory store, to profile (docs/performance.md §6):
//   node --cpu-prof --cpu-prof-dir=/tmp/prof apps/bench/profile/commit-loop.mjs [COMMITS] [DOCUMENTS]
import { performance } from 'node:perf_hooks';
import { Store, silentLogger } from '@atoll/store';

const commits = Number(process.argv[2] ?? 20_000);
const docs = Number(process.argv[3] ?? 100);
const store = await Store.open({ logger: silentLogger });
for (let i = 0; i < docs; i++) await store.insert('docs', { _id: `d${i}`, n: 0 });
const started = performance.now();
for (let i = 0; i < commits; i++) {
  await store.transaction(async (tx) => {
    await tx.update('docs', `d${i % docs}`, (d) => {
      d['n'] = i;
    });
  });
}
console.log(`${commits} commits, ${((performance.now() - started) / commits).toFixed(3)} ms each`);
await store.close();
