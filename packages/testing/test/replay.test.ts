import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkProperty, scenarioArbitrary } from '../src/fast-check.js';
import { replayCommand, runScenario, seedFromEnv, topologyLinks, type Scenario } from '../src/index.js';

const names = ['relay', 'p1', 'p2', 'p3'];
/** A run with every kind of fault, conflicting writes and interleaving. */
function busy(seed: number, storage: 'memory' | 'sqlite' = 'memory'): Scenario {
  const ops = ['bank', 'todo', 'counter'] as const;
  return {
    seed,
    storage,
    topology: 'star',
    interleave: 0.5,
    latency: [1, 30],
    workloads: [...ops],
    peers: names.map((name, i) => ({
      name,
      subscriptions: i === 2 ? [{ id: 'open', collection: 'todos', where: { done: false } }, { id: 'accounts', collection: 'accounts' }] : [{ id: 'all', collection: '*' }],
      label: '',
      atomicity: 'eventual' as const,
      ...(i === 0 ? { relay: true } : {}),
    })),
    links: topologyLinks('star', names),
    steps: [
      ...Array.from({ length: 36 }, (_, i) => ({ at: i * 6, kind: 'op' as const, peer: names[i % 4] as string, workload: ops[i % 3] as (typeof ops)[number] })),
      { at: 40, kind: 'partition' as const, groups: [['relay', 'p1'], ['p2', 'p3']] },
      { at: 70, kind: 'crash' as const, peer: 'p3' },
      { at: 90, kind: 'heal' as const },
      { at: 100, kind: 'drop' as const, a: 'p1', b: 'relay' },
      { at: 120, kind: 'restart' as const, peer: 'p3' },
      { at: 150, kind: 'crash' as const, peer: 'relay' },
      { at: 170, kind: 'restart' as const, peer: 'relay' },
    ].sort((x, y) => x.at - y.at),
  };
}

describe('seeded runs replay', () => {
  it('the same scenario and seed record the same history, step for step', async () => {
    const seed = seedFromEnv(20_240);
    const first = await runScenario(busy(seed));
    const second = await runScenario(busy(seed));
    expect(first.report.history.length).toBeGreaterThan(200);
    expect(second.report.history.records).toEqual(first.report.history.records);
    expect(second.report.digest).toBe(first.report.digest);
    // The run did exercise what it claims to.
    const faults = new Set(first.report.history.ofType('fault').map((f) => f.fault));
    expect([...faults].sort()).toEqual(['crash', 'drop', 'heal', 'link', 'partition', 'restart']);
    expect(first.report.history.ofType('commit').filter((c) => c.source === 'remote').length).toBeGreaterThan(20);
  });

  it('another seed takes another path', async () => {
    const a = await runScenario(busy(1));
    const b = await runScenario(busy(2));
    expect(b.report.digest).not.toBe(a.report.digest);
  });

  it('replays on SQLite storage too', async () => {
    const first = await runScenario(busy(77, 'sqlite'));
    const second = await runScenario(busy(77, 'sqlite'));
    expect(second.report.digest).toBe(first.report.digest);
  });

  it('random scenarios replay (property)', async () => {
    await checkProperty({
      name: 'random scenarios replay (property)',
      file: 'test/replay.test.ts',
      runs: 6,
      arbitrary: scenarioArbitrary({ steps: [5, 20] }),
      property: async (scenario) => {
        const one = await runScenario(scenario);
        const two = await runScenario(scenario);
        if (one.report.digest !== two.report.digest) {
          const i = one.report.history.records.findIndex((r, k) => JSON.stringify(r) !== JSON.stringify(two.report.history.records[k]));
          throw new Error(`histories differ from step ${i + 1}: ${JSON.stringify(one.report.history.records[i])} vs ${JSON.stringify(two.report.history.records[i])}`);
        }
      },
    });
  }, 120_000);

  it('a failure names the seed and the command that replays it', () => {
    expect(replayCommand({ seed: 42, file: 'test/properties.test.ts', name: "converges (it's)" })).toBe(
      `ATOLL_SEED=42 ATOLL_RUNS=1 npx vitest run --project testing packages/testing/test/properties.test.ts -t 'converges (it'\\''s)'`,
    );
    expect(fc.sample(scenarioArbitrary(), { seed: 5, numRuns: 3 })).toEqual(fc.sample(scenarioArbitrary(), { seed: 5, numRuns: 3 }));
  });
});
