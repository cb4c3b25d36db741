const m = await import('/work/main/apps/bench/dist/run.js');
const r = await m.runBench({ quick: false, outDir: '/tmp/bc/', only: ['catchup'], sizes: { catchup: [300, 1500, 2000], incremental: 20, catchupTimeoutMs: 4000 } });
console.log(r.rows.map(x => x.id + ' ' + (x.error ?? '') + ' ' + JSON.stringify(Object.fromEntries(Object.entries(x.results).map(([k, v]) => [k, [v.value?.toFixed(1), v.extra?.missing]])))).join('\n'));
