import { describe, it } from 'vitest';
import { checkProperty, scenarioArbitrary } from '../src/fast-check.js';
import { failures, runScenario, type Expectations, type Scenario } from '../src/index.js';

// Seeded from ATOLL_SEED (a fresh seed otherwise, printed on failure), ATOLL_RUNS runs each
// (the numbers below otherwise), ATOLL_PATH to jump to a shrunk counterexample. See docs/testing.md.
const FILE = 'test/properties.test.ts';
const MINUTES = 60_000;

/** Runs a scenario and throws the failures that `expect` says must not happen. */
async function holds(scenario: Scenario, expect: Expectations): Promise<void> {
  const { report } = await runScenario(scenario);
  const failed = failures(report, expect);
  if (failed) throw new Error(failed);
}

/**
 * With the `resubscribe` fault, the partial-subscription properties found a bug whose cause is
 * not established (crashes and a re-subscription on a chain left a peer without writes it
 * selects; the replay no longer fails since the sync layer's schedule changed: docs/testing.md,
 * "Open bugs", and test/open-bugs.test.ts), so they leave it out until it is understood; widening
 * itself is covered by packages/sync's tests and found-bugs G and H.
 */
const FAULTS_WITHOUT_WIDENING = ['drop', 'partition', 'crash'] as const;

/** In `eventual` mode, partial subscriptions may tear transactions (DESIGN §6): not a failure here. */
const EVENTUAL_PARTIAL: Expectations = { readAtomicity: false, invariants: false };

describe('properties of a mesh of peers (fast-check)', () => {
  it('converges and loses no acknowledged commit: random workloads, subscriptions, faults and topologies', async () => {
    await checkProperty({
      name: 'converges and loses no acknowledged commit: random workloads, subscriptions, faults and topologies',
      file: FILE,
      runs: 40,
      arbitrary: scenarioArbitrary({ subscriptions: 'partial', faults: FAULTS_WITHOUT_WIDENING, steps: [6, 30] }),
      property: (scenario) => holds(scenario, EVENTUAL_PARTIAL),
    });
  }, 10 * MINUTES);

  it('todo lists under filters on a field that changes converge and lose nothing', async () => {
    await checkProperty({
      name: 'todo lists under filters on a field that changes converge and lose nothing',
      file: FILE,
      runs: 40,
      arbitrary: scenarioArbitrary({ subscriptions: 'partial', workloads: [['todo']], faults: FAULTS_WITHOUT_WIDENING, steps: [15, 40] }),
      property: (scenario) => holds(scenario, EVENTUAL_PARTIAL),
    });
  }, 10 * MINUTES);

  it('full subscriptions: no torn reads, the bank total always holds, everything converges', async () => {
    await checkProperty({
      name: 'full subscriptions: no torn reads, the bank total always holds, everything converges',
      file: FILE,
      runs: 60,
      arbitrary: scenarioArbitrary({ subscriptions: 'full', steps: [6, 30] }),
      property: (scenario) => holds(scenario, {}),
    });
  }, 10 * MINUTES);

  it('on SQLite storage, crashes and restarts lose no acknowledged commit', async () => {
    await checkProperty({
      name: 'on SQLite storage, crashes and restarts lose no acknowledged commit',
      file: FILE,
      runs: 6,
      arbitrary: scenarioArbitrary({ subscriptions: 'full', storage: ['sqlite'], faults: ['crash', 'drop'], steps: [8, 20] }),
      property: (scenario) => holds(scenario, {}),
    });
  }, 10 * MINUTES);
});
