/**
 * `@atoll/testing/fast-check`: fast-check arbitraries of whole scenarios — random topologies,
 * subscriptions, workloads and faults — and a property runner whose failures print the seed
 * and the command that replays them. Needs `fast-check` (a peer dependency).
 *
 * @packageDocumentation
 */
import fc from 'fast-check';
import type { Subscription } from '@atoll/protocol';
import type { Atomicity, Latency } from './network/network.js';
import type { StorageKind } from './network/storage.js';
import { WORKLOADS, topologyLinks, type Scenario, type ScenarioAction, type ScenarioStep, type Topology, type WorkloadName } from './scenario/scenario.js';
import { propertyParameters, replayCommand } from './seeds.js';
import type { Workload } from './workloads/workload.js';

/** Kinds of fault a generated scenario may contain. */
export type FaultKind = 'drop' | 'partition' | 'crash' | 'resubscribe';

/** What {@link scenarioArbitrary} may generate. */
export interface ScenarioConstraints {
  /** Peers, relay included. Default [3, 5]. */
  readonly peers?: readonly [min: number, max: number];
  /** Default: star, chain and mesh. A star's center is a relay subscribed to everything. */
  readonly topologies?: readonly Topology[];
  /** Sets of workloads to run together. Default: each alone, and all three together. */
  readonly workloads?: readonly (readonly WorkloadName[])[];
  /** `full`: every peer selects everything; `partial`: filtered and per-collection subscriptions too. Default `partial`. */
  readonly subscriptions?: 'full' | 'partial';
  /**
   * Default: drop, partition, crash (with restart) and resubscribe (a peer changes its
   * subscriptions mid-run: widening is back-filled). `[]` for a fault-free network.
   */
  readonly faults?: readonly FaultKind[];
  /** Largest virtual time between two steps (ms). Default 20: several operations per link latency, so writes conflict. */
  readonly maxGapMs?: number;
  /** Number of steps (operations and faults). Default [4, 24]. */
  readonly steps?: readonly [min: number, max: number];
  /** Atomicity of every peer. Default `eventual`. */
  readonly atomicity?: Atomicity;
  /** Default `['memory']`. */
  readonly storage?: readonly StorageKind[];
  /** Interleaving probabilities to choose from. Default [0, 0.3, 0.7]. */
  readonly interleave?: readonly number[];
  /** Link latencies to choose from. Default [1, 5], [1, 40] and 10. */
  readonly latencies?: readonly Latency[];
  /** Backpressure windows (bytes) to choose from; `undefined` is the sync layer's default. Default: default and 2 KiB. */
  readonly windows?: readonly (number | undefined)[];
}

const MAX_PEERS = 8;

type RawAction =
  | { kind: 'op'; peer: number; workload: number }
  | { kind: 'drop'; link: number }
  | { kind: 'partition'; sides: boolean[] }
  | { kind: 'heal' }
  | { kind: 'crash'; peer: number }
  | { kind: 'restart'; peer: number }
  | { kind: 'subscribe'; peer: number; picks: number[] };

/**
 * An arbitrary of {@link Scenario}s. Shrinking removes steps and faults, lowers the peer count
 * and simplifies subscriptions, so a failure comes down to a short scenario.
 *
 * @example
 * await checkProperty({
 *   name: 'converges', file: 'test/properties.test.ts', runs: 25,
 *   arbitrary: scenarioArbitrary({ subscriptions: 'partial' }),
 *   property: async (scenario) => { const { report } = await runScenario(scenario); const f = failures(report, { readAtomicity: false }); if (f) throw new Error(f); },
 * });
 */
export function scenarioArbitrary(constraints: ScenarioConstraints = {}): fc.Arbitrary<Scenario> {
  const [minPeers, maxPeers] = constraints.peers ?? [3, 5];
  const [minSteps, maxSteps] = constraints.steps ?? [4, 24];
  const faults = constraints.faults ?? ['drop', 'partition', 'crash', 'resubscribe'];
  const workloadSets = constraints.workloads ?? [['bank'], ['todo'], ['counter'], ['bank', 'todo', 'counter']];
  const full = constraints.subscriptions === 'full';
  const actions: fc.WeightedArbitrary<RawAction>[] = [
    { weight: 12, arbitrary: fc.record({ kind: fc.constant('op' as const), peer: fc.nat(MAX_PEERS - 1), workload: fc.nat(7) }) },
  ];
  if (faults.includes('drop')) actions.push({ weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), link: fc.nat(63) }) });
  if (faults.includes('partition')) {
    actions.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('partition' as const), sides: fc.array(fc.boolean(), { minLength: MAX_PEERS, maxLength: MAX_PEERS }) }) });
    actions.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('heal' as const) }) });
  }
  if (faults.includes('crash')) {
    actions.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), peer: fc.nat(MAX_PEERS - 1) }) });
    actions.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), peer: fc.nat(MAX_PEERS - 1) }) });
  }
  if (faults.includes('resubscribe')) {
    actions.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('subscribe' as const), peer: fc.nat(MAX_PEERS - 1), picks: fc.array(fc.nat(15), { minLength: 3, maxLength: 3 }) }) });
  }
  return fc
    .record({
      seed: fc.integer({ min: 0, max: 0x7fffffff }),
      peerCount: fc.integer({ min: minPeers, max: maxPeers }),
      topology: fc.constantFrom(...(constraints.topologies ?? (['star', 'chain', 'mesh'] as const))),
      workloads: fc.constantFrom(...workloadSets),
      choices: fc.array(fc.nat(15), { minLength: MAX_PEERS * 3, maxLength: MAX_PEERS * 3 }),
      storage: fc.constantFrom(...(constraints.storage ?? (['memory'] as const))),
      interleave: fc.constantFrom(...(constraints.interleave ?? [0, 0.3, 0.7])),
      latency: fc.constantFrom(...(constraints.latencies ?? ([[1, 5], [1, 40], 10] as const))),
      windowBytes: fc.constantFrom(...(constraints.windows ?? [undefined, 2_048])),
      steps: fc.array(fc.record({ gap: fc.integer({ min: 0, max: constraints.maxGapMs ?? 20 }), action: fc.oneof(...actions) }), { minLength: minSteps, maxLength: maxSteps }),
    })
    .map((raw): Scenario => {
      const star = raw.topology === 'star';
      const names = Array.from({ length: raw.peerCount }, (_, i) => (star && i === 0 ? 'relay' : `p${i}`));
      const workloads = raw.workloads.map((name) => WORKLOADS[name]());
      const atomicity = constraints.atomicity ?? 'eventual';
      const peers = names.map((name, i) => {
        if (star && i === 0) return { name, subscriptions: [{ id: 'all', collection: '*' }], label: 'all (relay)', atomicity, relay: true };
        const { subscriptions, label } = chooseSubscriptions(workloads, raw.choices.slice(i * 3, i * 3 + 3), full);
        return { name, subscriptions, label, atomicity };
      });
      const links = topologyLinks(raw.topology, names);
      let at = 0;
      const steps: ScenarioStep[] = raw.steps.map(({ gap, action }) => {
        at += gap;
        return { at, ...concrete(action, names, links, raw.workloads, star, (picks) => chooseSubscriptions(workloads, picks, full)) };
      });
      return {
        seed: raw.seed,
        storage: raw.storage,
        topology: raw.topology,
        interleave: raw.interleave,
        latency: raw.latency,
        ...(raw.windowBytes === undefined ? {} : { windowBytes: raw.windowBytes }),
        workloads: raw.workloads,
        peers,
        links,
        steps,
      };
    });
}

function chooseSubscriptions(workloads: readonly Workload[], picks: readonly number[], full: boolean): { subscriptions: Subscription[]; label: string } {
  const subscriptions: Subscription[] = [];
  const labels: string[] = [];
  workloads.forEach((w, i) => {
    // Partial choices come twice as often as full ones: that is where replication is subtle.
    const choices = full ? w.subscriptionChoices.filter((c) => c.full) : [...w.subscriptionChoices, ...w.subscriptionChoices.filter((c) => !c.full)];
    const choice = choices[(picks[i] ?? 0) % choices.length];
    if (!choice) return;
    labels.push(`${w.name}:${choice.label}`);
    for (const sub of choice.subscriptions) subscriptions.push({ ...sub, id: `${w.name}-${sub.id}` });
  });
  return { subscriptions, label: labels.join(' ') };
}

function concrete(
  action: RawAction,
  names: readonly string[],
  links: readonly { dialer: string; listener: string }[],
  workloads: readonly WorkloadName[],
  star: boolean,
  choose: (picks: readonly number[]) => { subscriptions: Subscription[]; label: string },
): ScenarioAction {
  const peer = (n: number) => names[n % names.length] as string;
  switch (action.kind) {
    case 'op':
      return { kind: 'op', peer: peer(action.peer), workload: workloads[action.workload % workloads.length] as WorkloadName };
    case 'drop': {
      const link = links[action.link % Math.max(1, links.length)];
      return link ? { kind: 'drop', a: link.dialer, b: link.listener } : { kind: 'heal' };
    }
    case 'partition': {
      const a = names.filter((_, i) => action.sides[i] === true);
      const b = names.filter((_, i) => action.sides[i] !== true);
      return { kind: 'partition', groups: [a, b] };
    }
    case 'heal':
      return { kind: 'heal' };
    case 'crash':
      return { kind: 'crash', peer: peer(action.peer) };
    case 'restart':
      return { kind: 'restart', peer: peer(action.peer) };
    case 'subscribe': {
      const name = peer(action.peer);
      if (star && name === names[0]) return { kind: 'heal' }; // the relay keeps its broad subscription
      return { kind: 'subscribe', peer: name, ...choose(action.picks) };
    }
  }
}

/** Options of {@link checkProperty}. */
export interface CheckPropertyOptions<T> {
  /** The test's name, as `vitest -t` matches it. */
  readonly name: string;
  /** The test file, relative to the package (`test/properties.test.ts`), for the replay command. */
  readonly file: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /** Throws (or rejects) when the property does not hold. */
  readonly property: (value: T) => Promise<void>;
  /** Runs without `ATOLL_RUNS`. */
  readonly runs: number;
  /** Vitest project. Default `testing`. */
  readonly project?: string;
}

/**
 * Runs a property with fast-check, seeded from `ATOLL_SEED` (and `ATOLL_PATH`, to jump to a
 * shrunk counterexample), `ATOLL_RUNS` runs (default `runs`). On failure it shrinks the
 * counterexample for at most `ATOLL_SHRINK_MS` (default 30 000; 0 to skip), then throws an
 * error with the smallest failing case found, the seed, and the exact command that replays it.
 *
 * The search runs without shrinking; only once a case fails is it replayed (by its path) and
 * shrunk, under the time budget — a scenario takes a tenth of a second or more, and a full
 * shrink can take hundreds of them.
 */
export async function checkProperty<T>(options: CheckPropertyOptions<T>): Promise<void> {
  const params = propertyParameters(options.runs);
  const property = fc.asyncProperty(options.arbitrary, options.property);
  const found = await fc.check(property, {
    seed: params.seed,
    numRuns: params.numRuns,
    endOnFailure: true,
    ...(params.path === undefined ? {} : { path: params.path }),
  });
  if (!found.failed) return;
  let details = found;
  const budget = Number(process.env['ATOLL_SHRINK_MS'] ?? 30_000);
  if (budget > 0 && found.counterexamplePath) {
    const shrunk = await fc.check(property, { seed: found.seed, path: found.counterexamplePath, numRuns: 1, interruptAfterTimeLimit: budget });
    if (shrunk.failed) details = shrunk;
  }
  const path = details.counterexamplePath ?? undefined;
  const replay = replayCommand({ seed: details.seed, path, file: options.file, name: options.name, project: options.project ?? 'testing' });
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `property "${options.name}" failed after ${found.numRuns} run(s); ${details.numShrinks} shrink(s)${details.interrupted ? ' (shrinking stopped at its time budget, ATOLL_SHRINK_MS)' : ''}\n` +
      `seed: ${details.seed}${path ? `, path: ${path}` : ''}\nreplay: ${replay}\n\n${error}`,
  );
}

export { propertyParameters, replayCommand };
