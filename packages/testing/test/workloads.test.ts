import { describe, expect, it } from 'vitest';
import { WORKLOADS, failures, runScenario, topologyLinks, type WorkloadName } from '../src/index.js';

const names = ['relay', 'a', 'b'];

describe('shipped workloads', () => {
  for (const workload of Object.keys(WORKLOADS) as WorkloadName[]) {
    it(`${workload}: runs at random peers with a seeded mix and passes every checker with full subscriptions`, async () => {
      const { report } = await runScenario({
        seed: 11,
        storage: 'memory',
        topology: 'star',
        interleave: 0.3,
        latency: [1, 10],
        workloads: [workload],
        peers: names.map((name, i) => ({ name, subscriptions: [{ id: 'all', collection: '*' }], label: 'all', atomicity: 'eventual' as const, ...(i === 0 ? { relay: true } : {}) })),
        links: topologyLinks('star', names),
        steps: Array.from({ length: 24 }, (_, i) => ({ at: i * 5, kind: 'op' as const, peer: names[i % 3] as string, workload })),
      });
      expect(failures(report)).toBeUndefined();
      const acks = report.history.ofType('ack');
      expect(acks.filter((a) => a.outcome === 'committed').length).toBeGreaterThan(12);
      expect(acks.filter((a) => a.outcome === 'failed')).toEqual([]);
      // Every committed workload transaction stamped what it wrote.
      for (const tx of report.history.ofType('tx')) for (const w of tx.writes) if (!w.deleted) expect(w.value?.['_tx']).toBe(tx.token);
    });
  }

  it('the todo workload exercises every kind of operation, deletes included', async () => {
    const { report } = await runScenario({
      seed: 12,
      storage: 'memory',
      topology: 'mesh',
      interleave: 0,
      latency: 5,
      workloads: ['todo'],
      peers: ['a', 'b'].map((name) => ({ name, subscriptions: [{ id: 'all', collection: '*' }], label: 'all', atomicity: 'eventual' as const })),
      links: [{ dialer: 'b', listener: 'a' }],
      steps: Array.from({ length: 60 }, (_, i) => ({ at: i * 3, kind: 'op' as const, peer: i % 2 ? 'a' : 'b', workload: 'todo' as const })),
    });
    const hints = new Set(report.history.ofType('tx').map((t) => t.hint));
    expect([...hints].sort()).toEqual(['add todo', 'clear completed', 'complete all', 'create lists', 'rename todo', 'toggle todo']);
    expect(report.history.ofType('tx').some((t) => t.writes.some((w) => w.deleted))).toBe(true);
    expect(failures(report)).toBeUndefined();
  });
});
