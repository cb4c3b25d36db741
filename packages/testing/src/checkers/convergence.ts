import { jsonEqual, type DocKey } from '@atoll/protocol';
import { canonical } from './canonical.js';
import { holdersOf } from './holders.js';
import type { DocState, NetworkSnapshot } from './snapshot.js';
import { adjacency, components } from './topology.js';
import { result, type CheckResult, type Violation } from './types.js';

/**
 * **Convergence.** For every document D, its *holders* ({@link holdersOf}) are the live peers
 * that must hold its final state. Changes to D travel only through peers that hold D, so the
 * holders split into groups connected by links among themselves; within each group every peer
 * must hold D the same way: when D ends alive, with the same value and the same Automerge heads
 * (the same history); when it ends deleted, as a tombstone. Run it after `heal()` and `settle()`.
 */
export function checkConvergence(snap: NetworkSnapshot): CheckResult {
  const violations: Violation[] = [];
  const adj = adjacency(snap.links);
  let checked = 0;
  for (const [key, final] of snap.final) {
    for (const group of components(holdersOf(snap, key), adj)) {
      if (group.length < 2) continue;
      checked++;
      const byValue = new Map<string, { state: DocState | undefined; peers: string[] }>();
      for (const name of group) {
        const state = snap.peers.find((p) => p.name === name)?.docs.get(key);
        const id = state === undefined ? 'absent' : final.value === null ? (state.value === null ? 'tombstone' : canonical(state.value)) : canonical([state.value, [...state.heads].sort()]);
        const entry = byValue.get(id) ?? { state, peers: [] };
        entry.peers.push(name);
        byValue.set(id, entry);
      }
      if (byValue.size > 1) violations.push({ checker: 'convergence', key, message: describe(key, [...byValue.values()]) });
    }
  }
  return result('convergence', checked, violations);
}

function describe(key: DocKey, variants: { state: DocState | undefined; peers: string[] }[]): string {
  const sameValues = variants.every((v) => v.state !== undefined && jsonEqual(v.state.value, variants[0]?.state?.value ?? null));
  const parts = variants.map((v) => `${v.peers.join(', ')} hold ${v.state === undefined ? 'nothing' : v.state.value === null ? 'a tombstone' : JSON.stringify(v.state.value)}${sameValues ? ` (heads ${v.state?.heads.map((h) => h.slice(0, 8)).join(',')})` : ''}`);
  return `${key} differs between peers that must hold it and are linked: ${parts.join('; ')}`;
}
