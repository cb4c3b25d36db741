import { describe, expect, it } from 'vitest';
import { runTransportTests } from '@atoll/sync/testing';
import { Random, SimConnection, createSimTransportPair } from '../src/index.js';
import { Scheduler } from '../src/network/scheduler.js';

// The simulated transport keeps the Transport contract, like every other transport.
runTransportTests('simulated (free-running)', { pair: async () => createSimTransportPair({ latency: [0, 3], seed: 1 }) });

describe('simulated connections', () => {
  /** A connection on a scheduler the test runs by hand. */
  function manual(seed = 1) {
    const scheduler = new Scheduler(new Random(seed));
    const rng = new Random(`${seed}/latency`);
    const connection = new SimConnection({ scheduler }, { label: 'a→b', delayForward: () => rng.float(1, 50), delayBackward: () => rng.float(1, 50) });
    const run = () => {
      for (let next = scheduler.pop(); next; next = scheduler.pop()) next.run();
    };
    return { scheduler, connection, run };
  }

  it('delivers nothing until the network runs the event, and keeps order within a connection whatever the latencies', () => {
    const { connection, run, scheduler } = manual();
    const got: number[] = [];
    connection.listenerEnd.onMessage((m) => got.push(m[0] as number));
    for (let i = 0; i < 50; i++) connection.dialerEnd.send(new Uint8Array([i]));
    expect(got).toEqual([]);
    expect(connection.dialerEnd.bufferedAmount).toBe(50);
    run();
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(connection.dialerEnd.bufferedAmount).toBe(0);
    expect(scheduler.now).toBeGreaterThan(1);
  });

  it('reorders messages across connections, seeded: the same seed, the same order', () => {
    const order = (seed: number) => {
      const scheduler = new Scheduler(new Random(seed));
      const rng = new Random(`${seed}/latency`);
      const delay = () => rng.float(1, 50);
      const links = ['x', 'y', 'z'].map((label) => new SimConnection({ scheduler }, { label, delayForward: delay, delayBackward: delay }));
      const got: string[] = [];
      links.forEach((c, l) => c.listenerEnd.onMessage((m) => got.push(`${'xyz'[l] ?? '?'}${m[0] ?? -1}`)));
      for (let i = 0; i < 5; i++) for (const c of links) c.dialerEnd.send(new Uint8Array([i]));
      for (let next = scheduler.pop(); next; next = scheduler.pop()) next.run();
      return got;
    };
    const first = order(7);
    expect(order(7)).toEqual(first);
    // Across links the order differs from the order of sending…
    expect(first).not.toEqual(['x0', 'y0', 'z0', 'x1', 'y1', 'z1', 'x2', 'y2', 'z2', 'x3', 'y3', 'z3', 'x4', 'y4', 'z4']);
    // …but within each link it never does.
    for (const l of 'xyz') expect(first.filter((m) => m.startsWith(l))).toEqual([0, 1, 2, 3, 4].map((i) => `${l}${i}`));
  });

  it('abort() loses what is in flight both ways and closes both ends with 1006, as a crash does', () => {
    const { connection, run } = manual();
    const got: number[] = [];
    const closes: { code: number; local: boolean }[] = [];
    connection.listenerEnd.onMessage((m) => got.push(m[0] as number));
    connection.listenerEnd.onClose((i) => closes.push(i));
    connection.dialerEnd.onClose((i) => closes.push(i));
    connection.dialerEnd.send(new Uint8Array([1]));
    connection.abort();
    expect(connection.dialerEnd.closed && connection.listenerEnd.closed).toBe(true);
    expect(() => connection.dialerEnd.send(new Uint8Array([2]))).toThrow(/closed/);
    run();
    expect(got).toEqual([]);
    expect(closes).toEqual([
      { code: 1006, reason: '', local: false },
      { code: 1006, reason: '', local: false },
    ]);
  });
});
