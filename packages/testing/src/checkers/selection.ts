import { ALL_COLLECTIONS, matchesFilter, parseDocKey, type DocKey, type JsonObject, type Subscription } from '@atoll/protocol';

/**
 * Whether a subscription set selects a document with the given value (for a tombstone: its last
 * live value, as replication evaluates it). `null` — no value known — is selected only by a
 * subscription without a filter. The same rule as `selects` in `@atoll/sync`, on a value.
 */
export function selectsValue(subs: readonly Subscription[], key: DocKey, value: JsonObject | null): boolean {
  const { collection, id } = parseDocKey(key);
  for (const sub of subs) {
    if (sub.collection !== ALL_COLLECTIONS && sub.collection !== collection) continue;
    if (sub.where === undefined) return true;
    if (value !== null && matchesFilter(sub.where, { ...value, _id: id })) return true;
  }
  return false;
}

/** Whether a subscription set selects every document of a collection, whatever its value. */
export function selectsCollection(subs: readonly Subscription[], collection: string): boolean {
  return subs.some((s) => (s.collection === ALL_COLLECTIONS || s.collection === collection) && s.where === undefined);
}
