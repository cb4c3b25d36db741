import { ALL_COLLECTIONS, matchesFilter, parseDocKey, type DocKey, type Subscription } from '@atoll/protocol';
import type { Doc, Store } from '@atoll/store';

/**
 * Whether a remote's subscriptions select a document, evaluated on the shipping side against
 * its own current copy. (The connection also ships the change that takes a document out of a
 * subscription, judged by the value before it.) A tombstone is selected by every subscription on its collection: whoever may
 * hold the document must get the delete (one that never held it asks for the history it lacks
 * and ends with the tombstone, which shows nothing). A document the shipper does not hold at
 * all cannot be evaluated; a filtered subscription on its collection then counts as selecting it.
 */
export function selects(subs: readonly Subscription[], store: Store, key: DocKey): boolean {
  if (subs.length === 0) return false;
  const { collection, id } = parseDocKey(key);
  let value: Doc | undefined;
  let looked = false;
  for (const sub of subs) {
    if (sub.collection !== ALL_COLLECTIONS && sub.collection !== collection) continue;
    if (sub.where === undefined) return true;
    if (!looked) {
      looked = true;
      if (!store.has(collection, id)) return true;
      value = store.selectionValue(collection, id);
      if (value === undefined) return true;
    }
    if (value !== undefined && matchesFilter(sub.where, value)) return true;
  }
  return false;
}

/** Whether the subscriptions select a document whose value is `value` (no store lookup). */
export function selectsValue(subs: readonly Subscription[], collection: string, value: Doc): boolean {
  return subs.some((sub) => (sub.collection === ALL_COLLECTIONS || sub.collection === collection) && (sub.where === undefined || matchesFilter(sub.where, value)));
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

/**
 * The collections where `next` has a filtered subscription that `previous` lacks (`null`: every
 * collection): where a document may have matched the new filter at some point of history though
 * it matches no longer.
 */
export function widenedByFilter(previous: readonly Subscription[], next: readonly Subscription[]): Set<string> | null {
  const before = new Set(previous.map((s) => subscriptionsKey([s])));
  const out = new Set<string>();
  for (const sub of next) {
    if (sub.where === undefined || before.has(subscriptionsKey([sub]))) continue;
    if (sub.collection === ALL_COLLECTIONS) return null;
    out.add(sub.collection);
  }
  return out;
}

/** A stable text form of a subscription set, to tell whether it changed. */
export function subscriptionsKey(subs: readonly Subscription[]): string {
  return JSON.stringify([...subs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
}
