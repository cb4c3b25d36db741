/** Small statistics helpers: every figure in the report goes through these. */

/** The p-th percentile (0–100) of `samples`, by the nearest-rank method on a sorted copy. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** The median of `samples` (the mean of the two middle values for an even count). */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly n: number;
}

/** p50 and p99 of latency samples (ms). */
export function latency(samples: readonly number[]): Latency {
  // A sample that never completed is NaN; it is left out here and counted by the caller.
  const done = samples.filter((s) => Number.isFinite(s));
  return { p50: percentile(done, 50), p99: percentile(done, 99), n: done.length };
}

/** Rounds for display: 3 significant digits, no exponent for ordinary magnitudes. */
export function fmt(value: number | undefined): string {
  if (value === undefined) return '—';
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}
