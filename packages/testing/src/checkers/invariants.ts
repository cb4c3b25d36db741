import type { Subscription } from '@atoll/protocol';
import type { History } from '../history/history.js';
import { result, type CheckResult, type Violation } from './types.js';
import { viewsOf, type View } from './views.js';

/** A property every view of a peer must have (a workload's invariant, such as the bank's total). */
export interface Invariant {
  readonly name: string;
  /** Returns why the view breaks it, or `undefined` when it holds (or does not apply to this peer). */
  check(view: View, peer: { readonly name: string; readonly subscriptions: readonly Subscription[] }): string | undefined;
}

/**
 * Checks invariants against every view of every peer in the history, at commit boundaries
 * (see {@link viewsOf}). Reports the first break per peer and invariant.
 */
export function checkInvariants(history: History, invariants: readonly Invariant[]): CheckResult[] {
  const violations = new Map<string, Violation[]>(invariants.map((i) => [i.name, []]));
  const broken = new Set<string>();
  let checked = 0;
  for (const at of viewsOf(history)) {
    checked++;
    for (const invariant of invariants) {
      const id = `${invariant.name}|${at.peer}`;
      if (broken.has(id)) continue;
      const why = invariant.check(at.view, { name: at.peer, subscriptions: at.subscriptions });
      if (why === undefined) continue;
      broken.add(id);
      violations.get(invariant.name)?.push({ checker: invariant.name, peer: at.peer, step: at.step, message: `${at.peer} after commit ${at.commit ?? 'start'}: ${why}` });
    }
  }
  return invariants.map((i) => result(i.name, checked, violations.get(i.name) ?? []));
}
