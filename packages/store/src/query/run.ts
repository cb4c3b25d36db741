import { comparatorFor, matchesFilter, validateQuery, type Query } from '@atoll/protocol';
import type { Doc } from '../document/json.js';
import type { ReadView } from '../state/committed.js';

/** A validated query with its comparator, ready to run many times. */
export interface PreparedQuery {
  readonly query: Query;
  /** Orders results: by `orderBy`, then by `_id`, so every peer lists documents alike. */
  readonly compare: (a: Doc, b: Doc) => number;
  readonly matches: (doc: Doc) => boolean;
}

/** Validates a query (throws `ValidationError`) and prepares it. */
export function prepareQuery(query: Query): PreparedQuery {
  validateQuery(query);
  const byOrder = comparatorFor(query.orderBy);
  const byId = (a: Doc, b: Doc) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0);
  const compare = byOrder ? (a: Doc, b: Doc) => byOrder(a, b) || byId(a, b) : byId;
  const where = query.where;
  return { query, compare, matches: where === undefined ? () => true : (doc) => matchesFilter(where, doc) };
}

/** Runs a prepared query over a view. */
export function runQuery(view: ReadView, q: PreparedQuery): Doc[] {
  const out: Doc[] = [];
  for (const state of view.scan(q.query.collection)) {
    if (state.doc !== undefined && q.matches(state.doc)) out.push(state.doc);
  }
  out.sort(q.compare);
  const limit = q.query.limit;
  return limit !== undefined && out.length > limit ? out.slice(0, limit) : out;
}

/** Index at which `doc` belongs in the sorted `list`. */
export function insertionIndex(list: readonly Doc[], doc: Doc, compare: (a: Doc, b: Doc) => number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(list[mid] as Doc, doc) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
