import { ACCOUNTS, EXPECTED_TOTAL, andList, type Account } from './accounts.js';

/**
 * What a peer's invariant says about the state it shows:
 * - `balanced`: it shows every account it subscribes to and they add up: some transaction produced this;
 * - `one-account`: it subscribes to one account only, so there is no total to check;
 * - `empty`: it shows no account yet (nothing arrived, or it is held back, invisible);
 * - `arriving`: it just subscribed to more, and that part has not arrived yet (back-fill);
 * - `torn`: it shows a state no single transaction produced: part of a transaction, or halves
 *   of two different ones;
 * - `none`: it subscribes to nothing.
 */
export type VerdictKind = 'balanced' | 'one-account' | 'empty' | 'arriving' | 'torn' | 'none';

export interface Verdict {
  readonly kind: VerdictKind;
  /** One plain sentence, read out by screen readers when it changes. */
  readonly text: string;
  /** A + B, when both are shown. */
  readonly total?: number;
}

export interface PeerView {
  /** The accounts the peer subscribes to. */
  readonly subscribed: ReadonlySet<Account>;
  /** Accounts it started subscribing to whose back-fill has not arrived yet. */
  readonly arriving: ReadonlySet<Account>;
  /** The balances it shows (an account it does not hold is absent). */
  readonly balances: ReadonlyMap<Account, number>;
}

/**
 * Judges the state a peer shows against the bank's invariant: within the accounts it
 * subscribes to, it shows all or none of them, and A + B is what every transaction keeps.
 */
export function judge(view: PeerView, expectedTotal = EXPECTED_TOTAL): Verdict {
  const considered = ACCOUNTS.filter((a) => view.subscribed.has(a));
  if (considered.length === 0) return { kind: 'none', text: 'Subscribes to no account: nothing to check.' };
  const shown = considered.filter((a) => view.balances.has(a));
  const arriving = considered.filter((a) => !view.balances.has(a) && view.arriving.has(a));
  const missing = considered.filter((a) => !view.balances.has(a) && !view.arriving.has(a));
  if (shown.length === 0) {
    if (arriving.length > 0) return { kind: 'arriving', text: `Waiting for ${andList(arriving)} to arrive.` };
    return { kind: 'empty', text: 'No account is shown here yet.' };
  }
  if (missing.length > 0) {
    return { kind: 'torn', text: `Shows ${andList(shown)} without ${andList(missing)}.` };
  }
  if (arriving.length > 0) {
    return { kind: 'arriving', text: `Shows ${andList(shown)}; ${andList(arriving)} not received yet since subscribing.` };
  }
  if (considered.length === 1) {
    const [only] = shown as [Account];
    const other = ACCOUNTS.filter((a) => a !== only);
    return { kind: 'one-account', text: `Sees only ${only}; ${andList(other)} not subscribed, so there is no total to check.` };
  }
  const total = shown.reduce((sum, a) => sum + (view.balances.get(a) ?? 0), 0);
  if (total === expectedTotal) return { kind: 'balanced', text: `A + B = ${total}.`, total };
  return { kind: 'torn', text: `A + B = ${total}, but every transaction keeps it at ${expectedTotal}.`, total };
}
