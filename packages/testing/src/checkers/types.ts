import type { DocKey, TxId } from '@atoll/protocol';

/** One thing a checker found wrong. */
export interface Violation {
  /** Which checker: `convergence`, `no-lost-commits`, `read-atomicity`, or an invariant's name. */
  readonly checker: string;
  /** One readable sentence, naming peers, documents and transactions. */
  readonly message: string;
  readonly peer?: string;
  readonly key?: DocKey;
  readonly txId?: TxId;
  /** The history step where it shows, when it is tied to one. */
  readonly step?: number;
}

/** What one checker concluded. */
export interface CheckResult {
  readonly checker: string;
  readonly ok: boolean;
  /** How many things it checked (documents, transaction parts, observations), so a vacuous pass shows. */
  readonly checked: number;
  readonly violations: readonly Violation[];
}

/** Builds a {@link CheckResult}. */
export function result(checker: string, checked: number, violations: readonly Violation[]): CheckResult {
  return { checker, ok: violations.length === 0, checked, violations };
}

/** The violations of several results, one line each (at most `max`). */
export function formatViolations(results: readonly CheckResult[], max = 20): string {
  const all = results.flatMap((r) => r.violations);
  const lines = all.slice(0, max).map((v) => `  [${v.checker}]${v.step === undefined ? '' : ` #${v.step}`} ${v.message}`);
  if (all.length > max) lines.push(`  … and ${all.length - max} more`);
  return lines.join('\n');
}
