import type { Doc } from '../document/json.js';
import type { DocView, ReadView } from '../state/committed.js';
import { insertionIndex, runQuery, type PreparedQuery } from './run.js';

/** Receives a live query's result: first the current one, then one per commit that changes it. */
export type ObserveCallback = (docs: readonly Doc[]) => void;

/**
 * A query kept up to date across commits. A commit costs it O(changed documents × log n):
 * changed documents are taken out of and put back into the sorted result; only a removal
 * from a limited result (whose place another document may take) runs the query again.
 */
export class LiveQuery {
  readonly q: PreparedQuery;
  #result: Doc[];
  #ids: Map<string, Doc>;
  readonly #callback: ObserveCallback;
  closed = false;

  constructor(q: PreparedQuery, view: ReadView, callback: ObserveCallback) {
    this.q = q;
    this.#callback = callback;
    this.#result = runQuery(view, q);
    this.#ids = new Map(this.#result.map((d) => [d._id, d]));
  }

  get result(): readonly Doc[] {
    return this.#result;
  }

  /** Emits the current result. */
  emit(): void {
    if (!this.closed) this.#callback(this.#result);
  }

  /**
   * Takes in the documents a commit changed (all of this query's collection) and the view after
   * the commit; returns whether the result changed.
   */
  update(changed: readonly DocView[], view: ReadView): boolean {
    const { compare, matches } = this.q;
    const limit = this.q.query.limit;
    // A full, limited result has documents just outside it; a member that leaves or moves to
    // the end may have to give its place to one of them, which only a rerun can find.
    const wasFull = limit !== undefined && this.#result.length >= limit;
    let next: Doc[] | undefined;
    let needsRerun = false;
    for (const state of changed) {
      const before = this.#ids.get(state.id);
      const after = state.doc !== undefined && matches(state.doc) ? state.doc : undefined;
      if (before === after) continue;
      if (before === undefined && after !== undefined && wasFull) {
        // A newcomer enters a full result only if it sorts before the current last entry.
        const current = next ?? this.#result;
        const last = current[current.length - 1];
        if (last !== undefined && compare(after, last) > 0) continue;
      }
      next ??= this.#result.slice();
      if (before !== undefined) {
        const at = insertionIndex(next, before, compare);
        next.splice(next[at] === before ? at : next.indexOf(before), 1);
        if (after === undefined && wasFull) needsRerun = true;
      }
      if (after !== undefined) {
        const at = insertionIndex(next, after, compare);
        if (before !== undefined && wasFull && at >= next.length) needsRerun = true;
        next.splice(at, 0, after);
      }
    }
    if (next === undefined) return false;
    if (needsRerun) next = runQuery(view, this.q);
    else if (limit !== undefined && next.length > limit) next.length = limit;
    if (sameDocs(next, this.#result)) return false;
    this.#result = next;
    this.#ids = new Map(next.map((d) => [d._id, d]));
    return true;
  }
}

function sameDocs(a: readonly Doc[], b: readonly Doc[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
