// Turns the rows into results/latest.json and results/latest.md: a table per section with
// p50/p99 where latency matters, the main value, and Atoll ÷ peer ratios; then the targets.
import type { Measure, Row, SystemName } from './catalog.js';
import { SYSTEMS } from './catalog.js';
import { fmt } from './stats.js';

export interface Machine {
  readonly cpus: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly chromium: string;
}

export interface Results {
  readonly mode: 'full' | 'quick';
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: Machine;
  readonly versions: Record<string, string>;
  readonly rows: Row[];
}

const get = (row: Row, s: SystemName): Measure | undefined => row.results[s];

/** Judges each row against its target from issue 9; sets `row.met`. */
export function judge(rows: Row[]): void {
  for (const row of rows) {
    const a = get(row, 'atoll');
    if (!a || row.error) continue;
    const am = get(row, 'automerge-repo');
    const y = get(row, 'yjs');
    const raw = get(row, 'raw');
    switch (row.id) {
      case 'commit.memory.single':
        row.met = (a.p50 ?? Infinity) <= 0.1 && (a.value ?? 0) >= 10_000;
        break;
      case 'commit.sqlite.single':
        row.met = raw?.value !== undefined && (a.value ?? 0) * 3 >= raw.value;
        break;
      case 'live.memory':
      case 'live.sqlite':
        row.met = (a.p50 ?? Infinity) <= 3.5;
        break;
      case 'idb.single':
        row.met = (a.value ?? 0) >= 1000;
        break;
      case 'idb.grouped':
        row.met = (a.value ?? 0) >= 10_000;
        break;
      case 'net.propagation':
        row.met = (a.p50 ?? Infinity) <= 1 && (a.p99 ?? Infinity) <= 5 && y?.p50 !== undefined && y.p99 !== undefined && (a.p50 ?? Infinity) <= 4 * y.p50 && (a.p99 ?? Infinity) <= 4 * y.p99;
        break;
      case 'net.load': {
        const first = a.extra?.['p50 first third ms'];
        const last = a.extra?.['p50 last third ms'];
        row.met = first !== undefined && last !== undefined && last <= first * 1.5 + 0.5;
        break;
      }
      case 'catchup.small':
      case 'catchup.medium':
      case 'catchup.large':
        row.met =
          (a.value ?? 0) >= 10_000 &&
          a.extra?.['missing'] === 0 &&
          am?.value !== undefined &&
          (a.value ?? 0) > 10 * am.value &&
          y?.value !== undefined &&
          (a.value ?? 0) > y.value &&
          am.extra?.['bytes per doc'] !== undefined &&
          (a.extra['bytes per doc'] ?? Infinity) < am.extra['bytes per doc'];
        break;
      case 'catchup.incremental': {
        // In proportion to what changed: under 2 KiB on the wire per changed document.
        const per = a.extra?.['bytes per changed doc'];
        row.met = per !== undefined && per <= 2048 && a.extra?.['missing'] === 0;
        break;
      }
      case 'memory.docs':
        row.met = am?.value !== undefined && (a.value ?? Infinity) <= am.value;
        break;
      default:
        break;
    }
  }
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '—';
  return `${fmt(a / b)}×`;
}

function extras(m: Measure): string {
  const parts = Object.entries(m.extra ?? {}).map(([k, v]) => `${k} ${fmt(v)}`);
  return parts.join(', ');
}

/** The markdown report. */
export function markdown(results: Results): string {
  const { machine } = results;
  const out: string[] = [];
  out.push(`# Atoll benchmarks — ${results.mode} run`);
  out.push('');
  out.push(`${results.startedAt}, ${fmt(results.seconds)} s. Machine: ${machine.cores} × ${machine.cpus}, ${fmt(machine.memoryGiB)} GiB, ${machine.platform}, Node ${machine.node}, ${machine.chromium}.`);
  out.push(`Load average (1/5/15 min) before: ${machine.loadBefore.map((x) => x.toFixed(2)).join(' / ')}; after: ${machine.loadAfter.map((x) => x.toFixed(2)).join(' / ')}.${machine.loadBefore[0] !== undefined && machine.loadBefore[0] > machine.cores * 0.5 ? ' **The machine was loaded by other work: treat absolute figures as pessimistic; ratios are measured side by side.**' : ''}`);
  out.push(`Versions: ${Object.entries(results.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  out.push('');
  out.push('Latencies in ms (p50 / p99). "Atoll ÷ X" divides Atoll\'s figure by the other system\'s: for latencies, time and memory below 1 means Atoll is better; for rates (↑) above 1 means Atoll is better. Reproduce with `npm run bench` (see docs/performance.md).');
  const sections = [...new Set(results.rows.map((r) => r.section))];
  for (const section of sections) {
    out.push('');
    out.push(`## ${section}`);
    out.push('');
    out.push('| benchmark | system | p50 ms | p99 ms | value | Atoll ÷ system (p50 / p99 / value) | details |');
    out.push('| --- | --- | ---: | ---: | ---: | --- | --- |');
    for (const row of results.rows.filter((r) => r.section === section)) {
      const params = Object.entries(row.params).map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`).join(', ');
      const name = `**${row.id}** ${row.title}${params ? ` (${params})` : ''}`;
      let first = true;
      if (row.error) {
        out.push(`| ${name} | — | | | | | FAILED: ${row.error.replace(/\|/g, '/').replace(/\n/g, ' ').slice(0, 300)} |`);
        first = false;
      }
      const a = get(row, 'atoll');
      for (const s of SYSTEMS) {
        const m = get(row, s);
        if (!m) continue;
        const value = m.value !== undefined ? `${fmt(m.value)} ${row.valueUnit ?? ''}${row.higherIsBetter ? ' ↑' : ''}` : '';
        const r =
          s === 'atoll'
            ? ''
            : [row.latency ? `${ratio(a?.p50, m.p50)} / ${ratio(a?.p99, m.p99)}` : '', m.value !== undefined ? ratio(a?.value, m.value) : ''].filter(Boolean).join(' / ');
        const details = [m.note, extras(m)].filter(Boolean).join('; ');
        out.push(`| ${first ? name : ''} | ${s} | ${row.latency ? fmt(m.p50) : ''} | ${row.latency ? fmt(m.p99) : ''} | ${value} | ${r} | ${details} |`);
        first = false;
      }
    }
  }
  out.push('');
  out.push('## Targets (issue 9)');
  out.push('');
  out.push('| benchmark | target | met |');
  out.push('| --- | --- | --- |');
  for (const row of results.rows.filter((r) => r.target)) out.push(`| ${row.id} | ${row.target ?? ''} | ${row.error ? 'failed to run' : row.met === undefined ? '—' : row.met ? 'yes' : '**no**'} |`);
  out.push('');
  return out.join('\n');
}
