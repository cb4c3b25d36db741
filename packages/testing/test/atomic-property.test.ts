import { describe, it } from 'vitest';
import { checkProperty, scenarioArbitrary } from '../src/fast-check.js';
import { failures, runScenario, type Expectations, type Scenario } from '../src/index.js';

// Issue 6's proof: atomic peers never show part of a transaction, over seeded random runs with
// partial subscriptions, multi-hop links (chain, star around a relay, mesh) and faults (drops,
// partitions, crash and restart). Seeded from ATOLL_SEED; ATOLL_RUNS raises the run count for
// soak runs (thousands). See docs/testing.md §8.
//
// Widening a subscription is left out on purpose: right after a peer widens, documents it
// already shows are judged against the wider set until the back-fill lands, so a transaction
// it holds whole within the old set shows in part within the new one. Atomic mode cannot close
// that window without hiding data it already shows; it makes the back-fill itself appear in one
// commit (packages/sync/test/atomicity.test.ts) — docs/atomicity.md states the window.
const FILE = 'test/atomic-property.test.ts';

/**
 * What atomic mode guarantees (docs/atomicity.md): no torn observation and no broken bank total.
 * It does not guarantee progress: a part no reachable peer holds keeps its transaction held, so
 * convergence, no-lost-commits and the final counter sum are not required here — they are
 * required, and checked, where every peer can reach every part (full subscriptions).
 */
const ATOMIC: Expectations = { readAtomicity: true, invariants: true, convergence: false, noLostCommits: false, final: false };

async function holds(scenario: Scenario): Promise<void> {
  const { report } = await runScenario(scenario);
  const failed = failures(report, ATOMIC);
  if (failed) throw new Error(failed);
}

describe('atomic mode under partial subscriptions, multi-hop links and faults', () => {
  it('never shows part of a transaction, and the bank total never breaks for an atomic peer', async () => {
    await checkProperty({
      name: 'never shows part of a transaction, and the bank total never breaks for an atomic peer',
      file: FILE,
      runs: 200,
      arbitrary: scenarioArbitrary({ atomicity: 'atomic', subscriptions: 'partial', topologies: ['chain', 'star', 'mesh'], faults: ['drop', 'partition', 'crash'], peers: [3, 5], steps: [6, 20] }),
      property: holds,
    });
  }, 20 * 60_000);
});
