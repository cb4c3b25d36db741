import { ALL_COLLECTIONS, matchesFilter, parseDocKey, type DocKey, type Subscription } from '@atoll/protocol';
import type { Doc, Store } from '@atoll/store';

/**
 * Whether a remote's subscriptions select a document, evaluated on the shipping side against
 * its own copy: the current value, or for a tombstone the value it had while alive (so deletes
 * reach those who had the document). `before` is the value prior to the commit being shipped,
 * when known: the change that makes a document leave a subscription is still shipped, so the
 * receiver does not keep a stale match. A document the shipper does not hold at all cannot be
 * evaluated; a filtered subscription on its collection then counts as selecting it.
 */
export function selects(subs: readonly Subscription[], store: Store, key: DocKey, before?: Doc): boolean {
  if (subs.length === 0) return false;
  const { collection, id } = parseDocKey(key);
  let value: Doc | undefined;
  let looked = false;
  for (const sub of subs) {
    if (sub.collection !== ALL_COLLECTIONS && sub.collection !== collection) continue;
    if (sub.where === undefined) return true;
    if (!looked) {
      value = store.selectionValue(collection, id);
      looked = true;
      if (value === undefined && !store.has(collection, id)) return true;
    }
    if (value !== undefined && matchesFilter(sub.where, value)) return true;
    if (before !== undefined && matchesFilter(sub.where, before)) return true;
  }
  return false;
}

/** Keys the store holds that `next` selects and `previous` did not: what a widening back-fills. */
export function newlySelected(store: Store, previous: readonly Subscription[], next: readonly Subscription[]): Set<DocKey> {
  const out = new Set<DocKey>();
  const collections = next.some((s) => s.collection === ALL_COLLECTIONS) ? store.collections() : [...new Set(next.map((s) => s.collection))];
  for (const collection of collections) {
    for (const key of store.keysOf(collection)) {
      if (selects(next, store, key) && !selects(previous, store, key)) out.add(key);
    }
  }
  return out;
}

/** A stable text form of a subscription set, to tell whether it changed. */
export function subscriptionsKey(subs: readonly Subscription[]): string {
  return JSON.stringify([...subs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
}
