// Reads a V8 .cpuprofile (the newest in a directory, or a file) and prints where the time went,
// for docs/performance.md §6:
//   node apps/bench/profile/summarize.mjs DIR_OR_FILE                 self time by package / file
//   node apps/bench/profile/summarize.mjs DIR_OR_FILE tree [DEPTH] [MIN_MS]   top-down call tree
//   node apps/bench/profile/summarize.mjs DIR_OR_FILE under NAME      what the functions named NAME… spend their time in
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [target, mode = 'files', ...rest] = process.argv.slice(2);
if (!target) {
  console.error('usage: summarize.mjs DIR_OR_FILE [files | tree [DEPTH] [MIN_MS] | under NAME]');
  process.exit(2);
}
const file = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(target, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]
  : target;
if (!file) {
  console.error(`no .cpuprofile in ${target}`);
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  total += dt;
}
const inclusive = new Map();
const inc = (n) => {
  let v = inclusive.get(n.id);
  if (v === undefined) {
    v = (self.get(n.id) ?? 0) + (n.children ?? []).reduce((s, c) => s + inc(nodes.get(c)), 0);
    inclusive.set(n.id, v);
  }
  return v;
};
const name = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;

console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
if (mode === 'files') {
  const byFile = new Map();
  for (const [id, t] of self) {
    const { url, functionName } = nodes.get(id).callFrame;
    let where;
    if (!url) where = functionName;
    else if (url.includes('.wasm')) where = 'WebAssembly';
    else if (url.includes('node_modules/')) where = url.match(/node_modules\/((@[^/]+\/)?[^/]+)/)[1];
    else if (url.startsWith('node:')) where = 'node internals';
    else where = url.split('/').slice(-3).join('/');
    byFile.set(where, (byFile.get(where) ?? 0) + t);
  }
  for (const [where, t] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${ms(t)}  ${where}`);
} else if (mode === 'tree') {
  const depth = Number(rest[0] ?? 6);
  const min = Number(rest[1] ?? 50) * 1000;
  const walk = (n, d) => {
    if (d > depth) return;
    for (const child of (n.children ?? []).map((c) => nodes.get(c)).sort((a, b) => inc(b) - inc(a))) {
      if (inc(child) < min) continue;
      console.log(`${ms(inc(child))}  ${'  '.repeat(d)}${name(child)}`);
      walk(child, d + 1);
    }
  };
  walk(profile.nodes[0], 0);
} else if (mode === 'under') {
  const prefix = rest[0] ?? '';
  const children = new Map();
  let spent = 0;
  for (const n of profile.nodes) {
    if (!name(n).startsWith(prefix)) continue;
    spent += inc(n);
    children.set('(self)', (children.get('(self)') ?? 0) + (self.get(n.id) ?? 0));
    for (const c of n.children ?? []) children.set(name(nodes.get(c)), (children.get(name(nodes.get(c))) ?? 0) + inc(nodes.get(c)));
  }
  console.log(`${ms(spent)}  ${prefix} (recursive calls count more than once)`);
  for (const [callee, t] of [...children].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${ms(t)}    ${callee}`);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
