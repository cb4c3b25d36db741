import { docKey, parseDocKey, type DocKey, type Subscription, type TxId } from '@atoll/protocol';
import type { History, TxRecord, TxWrite } from '../history/history.js';
import { STAMP_FIELD } from '../network/stamped.js';
import { selectsValue } from './selection.js';
import { result, type CheckResult, type Violation } from './types.js';
import { viewsOf, type View } from './views.js';

/** One torn observation: a peer showed part of a transaction's writes within its subscription without another part. */
export interface TornObservation {
  readonly peer: string;
  readonly incarnation: number;
  /** History step of the (last) observation that showed it. */
  readonly step: number;
  /** The commit (log position on the observer) after which it showed. */
  readonly commit: number | null;
  readonly txId: TxId;
  readonly token: string;
  /** A document the observer shows as written by the transaction. */
  readonly shown: DocKey;
  /** A document the transaction wrote, selected by the observer's subscriptions, shown at an older version. */
  readonly missing: DocKey;
  /** What the observer shows for `missing`: the stamp of an older write, or `absent`. */
  readonly observed: string;
}

/** {@link checkReadAtomicity}'s result: the violations, plus every tear found (first sighting of each). */
export interface ReadAtomicityResult extends CheckResult {
  readonly tears: readonly TornObservation[];
}

/**
 * **Read atomicity.** A peer's *view* after a commit is what its probe live queries show (every
 * document of each watched collection); views are checked at commit boundaries only, since a
 * store's live queries never fire mid-commit.
 *
 * A view is **torn** when it shows a document X stamped by transaction T (`X._tx = T`), and T
 * also wrote a document Y that
 *
 * - the observer's subscriptions select (evaluated on the value T gave Y; for a delete, Y's last
 *   live value), and
 * - the view shows at a version causally **before** T's write to Y: Y shows a stamp U where U is
 *   in the causal past of T's write to Y (T's origin held U's write to Y when T committed), or
 *   Y is absent although T wrote it and no delete of Y outside that past could explain it — or,
 *   when T deleted Y, Y is still shown with a stamp from that past.
 *
 * A concurrent write that won over T's on Y hides a tear (it is not older than T), so this is
 * the tear a user can *prove* from values. The observer's own transactions are checked too.
 */
export function checkReadAtomicity(history: History): ReadAtomicityResult {
  const txByToken = new Map<string, TxRecord>();
  const tokenTx = new Map<string, TxId>();
  const deletes = new Map<DocKey, Set<TxId>>();
  for (const t of history.ofType('tx')) {
    txByToken.set(t.token, t);
    tokenTx.set(t.token, t.txId);
    for (const w of t.writes) {
      if (!w.deleted) continue;
      const set = deletes.get(w.key) ?? new Set<TxId>();
      set.add(t.txId);
      deletes.set(w.key, set);
    }
  }
  const tears: TornObservation[] = [];
  const reported = new Set<string>();
  let checked = 0;
  for (const at of viewsOf(history)) {
    checked++;
    for (const tear of tornIn(at.view, at.subscriptions, txByToken, tokenTx, deletes)) {
      const id = `${at.peer}/${at.incarnation}|${tear.txId}|${tear.missing}`;
      if (reported.has(id)) continue;
      reported.add(id);
      tears.push({ ...tear, peer: at.peer, incarnation: at.incarnation, step: at.step, commit: at.commit });
    }
  }
  const violations: Violation[] = tears.map((t) => ({
    checker: 'read-atomicity',
    peer: t.peer,
    txId: t.txId,
    key: t.missing,
    step: t.step,
    message: `${t.peer} showed ${t.shown} from ${t.txId} (${t.token}) but ${t.missing}, which the same transaction wrote and ${t.peer} subscribes to, ${t.observed === 'absent' ? 'absent' : `at an older version (${t.observed})`} — after commit ${t.commit ?? 'start'}`,
  }));
  return { ...result('read-atomicity', checked, violations), tears };
}

type Tear = Pick<TornObservation, 'txId' | 'token' | 'shown' | 'missing' | 'observed'>;

/** The tears one view shows. */
export function tornIn(
  view: View,
  subscriptions: readonly Subscription[],
  txByToken: ReadonlyMap<string, TxRecord>,
  tokenTx: ReadonlyMap<string, TxId>,
  deletes: ReadonlyMap<DocKey, ReadonlySet<TxId>>,
): Tear[] {
  const out: Tear[] = [];
  for (const [collection, docs] of view) {
    for (const [id, doc] of docs) {
      const stamp = doc[STAMP_FIELD];
      if (typeof stamp !== 'string') continue;
      const tx = txByToken.get(stamp);
      if (!tx) continue;
      const shown = docKey(collection, id);
      for (const w of tx.writes) {
        if (w.key === shown) continue;
        const observed = olderVersionShown(view, w, tokenTx, deletes, stamp);
        if (observed === undefined) continue;
        if (!selectsValue(subscriptions, w.key, w.value)) continue;
        out.push({ txId: tx.txId, token: stamp, shown, missing: w.key, observed });
      }
    }
  }
  return out;
}

/** If the view shows `w`'s document at a version causally before `w`, what it shows (a stamp or `absent`). */
function olderVersionShown(view: View, w: TxWrite, tokenTx: ReadonlyMap<string, TxId>, deletes: ReadonlyMap<DocKey, ReadonlySet<TxId>>, token: string): string | undefined {
  const { collection, id } = parseDocKey(w.key);
  const docs = view.get(collection);
  if (!docs) return undefined; // not observed: nothing to say
  const doc = docs.get(id);
  const past = new Set(w.past);
  if (doc === undefined) {
    if (w.deleted) return undefined;
    const explained = [...(deletes.get(w.key) ?? [])].some((d) => !past.has(d));
    return explained ? undefined : 'absent';
  }
  const stamp = doc[STAMP_FIELD];
  if (typeof stamp !== 'string' || stamp === token) return undefined;
  const writer = tokenTx.get(stamp);
  return writer !== undefined && past.has(writer) ? stamp : undefined;
}
