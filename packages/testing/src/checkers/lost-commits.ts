import type { DocKey, JsonObject } from '@atoll/protocol';
import type { History, TxRecord } from '../history/history.js';
import { holdersOf } from './holders.js';
import { selectsValue } from './selection.js';
import type { NetworkSnapshot, PeerSnapshot } from './snapshot.js';
import { adjacency } from './topology.js';
import { result, type CheckResult, type Violation } from './types.js';

/**
 * **No lost commits.** Every acknowledged workload transaction T (its `transact()` resolved after
 * a commit) must, after `heal()` and `settle()`:
 *
 * 1. still be in its origin's log with every part (a crash must not take back an acknowledged commit);
 * 2. for each document D it wrote, be held (T's part for D is in the log) by every holder P of
 *    D ({@link holdersOf}: roughly, every live peer subscribed to D's final state) that D's
 *    changes can reach from the origin O: along links, through holders of D. When O is not a
 *    holder itself, its first hop counts only toward neighbours whose subscriptions select
 *    every value D ever had (a filter evaluated on O's stale copy may rightly not select them).
 */
export function checkNoLostCommits(snap: NetworkSnapshot, history: History): CheckResult {
  const violations: Violation[] = [];
  const adj = adjacency(snap.links);
  const peers = new Map(snap.peers.map((p) => [p.name, p]));
  const txs = new Map(history.ofType('tx').map((t) => [t.txId, t]));
  const valuesOf = new Map<DocKey, (JsonObject | null)[]>();
  for (const t of txs.values()) {
    for (const w of t.writes) {
      const list = valuesOf.get(w.key) ?? [];
      list.push(w.value);
      valuesOf.set(w.key, list);
    }
  }
  let checked = 0;
  for (const ack of history.ofType('ack')) {
    if (ack.outcome !== 'committed' || ack.txId === undefined) continue;
    const tx = txs.get(ack.txId);
    if (!tx) continue;
    const origin = peers.get(tx.peer);
    if (origin?.up) {
      const held = origin.parts.get(tx.txId);
      const lost = tx.writes.filter((w) => !held?.has(w.key)).map((w) => w.key);
      checked++;
      if (lost.length > 0) {
        violations.push({ checker: 'no-lost-commits', peer: origin.name, txId: tx.txId, step: ack.step, message: `${tx.txId} (${tx.token}) was acknowledged at #${ack.step} but its origin ${origin.name} no longer holds [${lost.join(', ')}]` });
      }
    }
    if (!origin?.up) continue; // a peer left down cannot ship; restart every peer before checking
    for (const w of tx.writes) {
      const holders = holdersOf(snap, w.key);
      const holds = (p: PeerSnapshot) => holders.has(p.name);
      const alwaysSelects = (p: PeerSnapshot) => (valuesOf.get(w.key) ?? [w.value]).every((v) => selectsValue(p.subscriptions, w.key, v));
      for (const { peer, path } of reachable(tx, origin, peers, adj, holds, alwaysSelects)) {
        checked++;
        if (peer.parts.get(tx.txId)?.has(w.key)) continue;
        violations.push({
          checker: 'no-lost-commits',
          peer: peer.name,
          key: w.key,
          txId: tx.txId,
          step: ack.step,
          message: `${tx.txId} (${tx.token}, acknowledged at #${ack.step}) wrote ${w.key}, which ${peer.name} subscribes to, but ${peer.name} never received that part (path ${path.join('→')})`,
        });
      }
    }
  }
  return result('no-lost-commits', checked, violations);
}

/** Peers a write must reach: breadth-first from the origin through peers that hold the document. */
function reachable(
  tx: TxRecord,
  origin: PeerSnapshot | undefined,
  peers: ReadonlyMap<string, PeerSnapshot>,
  adj: ReadonlyMap<string, ReadonlySet<string>>,
  holds: (p: PeerSnapshot) => boolean,
  alwaysSelects: (p: PeerSnapshot) => boolean,
): { peer: PeerSnapshot; path: string[] }[] {
  const out: { peer: PeerSnapshot; path: string[] }[] = [];
  const originHolds = origin !== undefined && holds(origin);
  const seen = new Set<string>([tx.peer]);
  const queue: { name: string; path: string[] }[] = [{ name: tx.peer, path: [tx.peer] }];
  while (queue.length > 0) {
    const { name, path } = queue.shift() as { name: string; path: string[] };
    for (const next of [...(adj.get(name) ?? [])].sort()) {
      if (seen.has(next)) continue;
      const peer = peers.get(next);
      if (!peer || !holds(peer)) continue;
      if (name === tx.peer && !originHolds && !alwaysSelects(peer)) continue;
      seen.add(next);
      out.push({ peer, path: [...path, next] });
      queue.push({ name: next, path: [...path, next] });
    }
  }
  return out;
}
