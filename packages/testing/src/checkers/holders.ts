import { parseDocKey, type DocKey } from '@atoll/protocol';
import { selectsCollection, selectsValue } from './selection.js';
import type { NetworkSnapshot, PeerSnapshot } from './snapshot.js';

/**
 * The live peers that must hold the final state of a document — its *holders*:
 *
 * - when the document ends alive: every peer whose subscriptions select its final value
 *   (a filter that matches it now must have been given its whole history);
 * - when it ends deleted: every peer subscribed to its whole collection (no filter);
 * - and, either way, every peer that still shows the document alive and selected by its own
 *   subscriptions: it presents the document as part of what it subscribes to, so it must be
 *   up to date (had it received the change that made the document leave its filter, or the
 *   delete, it would not show it).
 *
 * Every part of this rule is independent of the order in which peers applied changes (a
 * tombstone's "last live value" is not, so it is not used).
 */
export function holdersOf(snap: NetworkSnapshot, key: DocKey): Set<string> {
  const final = snap.final.get(key);
  const { collection } = parseDocKey(key);
  const out = new Set<string>();
  for (const peer of snap.peers) {
    if (!peer.up) continue;
    if (final?.value ? selectsValue(peer.subscriptions, key, final.value) : selectsCollection(peer.subscriptions, collection)) out.add(peer.name);
    else if (showsSelected(peer, key)) out.add(peer.name);
  }
  return out;
}

/** Whether a peer shows the document alive and selected by its own subscriptions. */
export function showsSelected(peer: PeerSnapshot, key: DocKey): boolean {
  const own = peer.docs.get(key)?.value;
  return own !== null && own !== undefined && selectsValue(peer.subscriptions, key, own);
}
