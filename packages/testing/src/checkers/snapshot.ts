import { docKey, parseDocKey, type DocKey, type JsonObject, type Subscription, type TxId } from '@atoll/protocol';
import { MemoryStorageAdapter, silentLogger, type Store } from '@atoll/store';
import { openSeededStore } from '../network/determinism.js';
import { toJson, type Network } from '../network/network.js';
import { Random } from '../random.js';

/** A document as one peer holds it. */
export interface DocState {
  /** The live value, or `null` for a tombstone. */
  readonly value: JsonObject | null;
  /** What subscriptions are matched against: the value, or a tombstone's last live value. */
  readonly selection: JsonObject | null;
  /** Automerge heads: equal heads, equal history. */
  readonly heads: readonly string[];
}

/** What one peer holds at the end of a run. */
export interface PeerSnapshot {
  readonly name: string;
  /** A crashed peer that was not restarted holds nothing the checkers can read. */
  readonly up: boolean;
  readonly subscriptions: readonly Subscription[];
  readonly docs: ReadonlyMap<DocKey, DocState>;
  /** For each transaction in the peer's log, the parts (documents) it holds of it. */
  readonly parts: ReadonlyMap<TxId, ReadonlySet<DocKey>>;
}

/** The end state of a network, as the convergence and lost-commit checkers read it. */
export interface NetworkSnapshot {
  readonly peers: readonly PeerSnapshot[];
  /** Links, both ways. */
  readonly links: readonly { readonly a: string; readonly b: string }[];
  /**
   * Every document's final value: the union of every change any live peer holds, merged in one
   * store. What a peer holding everything would hold.
   */
  readonly final: ReadonlyMap<DocKey, DocState>;
}

/** Reads the end state of every live peer, and merges all their changes into the final values. */
export async function snapshot(net: Network): Promise<NetworkSnapshot> {
  const peers: PeerSnapshot[] = [];
  const oracle = await openSeededStore(new Random(`${String(net.seed)}/oracle`), { storage: new MemoryStorageAdapter(), logger: silentLogger, peerId: 'atoll-testing-oracle' });
  try {
    for (const peer of net.peers) {
      if (!peer.up) {
        peers.push({ name: peer.name, up: false, subscriptions: peer.subscriptions, docs: new Map(), parts: new Map() });
        continue;
      }
      const store = peer.store;
      const parts = new Map<TxId, Set<DocKey>>();
      for (let after = 0; ; ) {
        const batch = await store.readLog(after, 1_000);
        if (batch.length === 0) break;
        for (const entry of batch) {
          after = entry.pos;
          let set = parts.get(entry.id);
          if (!set) parts.set(entry.id, (set = new Set()));
          for (const part of entry.parts) set.add(part.key);
          if (entry.parts.length > 0) await oracle.applyChangeset(await store.changesetFor(entry));
        }
      }
      peers.push({ name: peer.name, up: true, subscriptions: peer.subscriptions, docs: await docsOf(store), parts });
    }
    return {
      peers,
      links: net.links.map((l) => ({ a: l.dialer, b: l.listener })),
      final: await docsOf(oracle),
    };
  } finally {
    await oracle.close();
  }
}

async function docsOf(store: Store): Promise<Map<DocKey, DocState>> {
  const docs = new Map<DocKey, DocState>();
  for (const collection of store.collections().sort()) {
    for (const key of store.keysOf(collection).sort()) {
      const { id } = parseDocKey(key);
      const value = await store.get(collection, id);
      const selection = store.selectionValue(collection, id);
      docs.set(docKey(collection, id), { value: value ? toJson(value) : null, selection: selection ? toJson(selection) : null, heads: [...(store.heads(collection, id) ?? [])] });
    }
  }
  return docs;
}
