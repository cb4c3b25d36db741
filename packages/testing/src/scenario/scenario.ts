import { ValidationError, type Subscription } from '@atoll/protocol';
import { checkConvergence } from '../checkers/convergence.js';
import { checkInvariants } from '../checkers/invariants.js';
import { checkNoLostCommits } from '../checkers/lost-commits.js';
import { checkReadAtomicity, type TornObservation } from '../checkers/read-atomicity.js';
import { snapshot } from '../checkers/snapshot.js';
import { formatViolations, type CheckResult } from '../checkers/types.js';
import type { History } from '../history/history.js';
import { createNetwork, type Atomicity, type Latency, type Network } from '../network/network.js';
import type { StorageKind } from '../network/storage.js';
import { Random } from '../random.js';
import { bankWorkload } from '../workloads/bank.js';
import { counterWorkload } from '../workloads/counter.js';
import { todoWorkload } from '../workloads/todo.js';
import type { Workload } from '../workloads/workload.js';

/** The workloads that ship with the harness, by name. */
export const WORKLOADS = {
  bank: () => bankWorkload(),
  todo: () => todoWorkload(),
  counter: () => counterWorkload(),
} as const satisfies Record<string, () => Workload>;

/** A shipped workload's name. */
export type WorkloadName = keyof typeof WORKLOADS;

/** How the peers of a scenario are linked. */
export type Topology = 'star' | 'chain' | 'mesh';

/** One thing a scenario does at a virtual time. */
export type ScenarioAction =
  | { readonly kind: 'op'; readonly peer: string; readonly workload: WorkloadName }
  | { readonly kind: 'partition'; readonly groups: readonly (readonly string[])[] }
  | { readonly kind: 'heal' }
  | { readonly kind: 'drop'; readonly a: string; readonly b: string }
  | { readonly kind: 'crash'; readonly peer: string }
  | { readonly kind: 'restart'; readonly peer: string }
  | { readonly kind: 'subscribe'; readonly peer: string; readonly subscriptions: readonly Subscription[]; readonly label: string };

/** A scenario step: an action at a virtual time (ms). */
export type ScenarioStep = ScenarioAction & { readonly at: number };

/**
 * A whole run, as plain data: who the peers are, how they are linked, what runs and which
 * faults happen when. The same scenario (and seed) replays the same run; print it with
 * `JSON.stringify` and run it again with {@link runScenario}.
 */
export interface Scenario {
  /** Seed of the network: latencies, interleavings, tie-breaks, backoff, and the workloads' choices. */
  readonly seed: number;
  readonly storage: StorageKind;
  readonly topology: Topology;
  /** Probability of running the next event with only a few microtask turns in between. */
  readonly interleave: number;
  readonly latency: Latency;
  /** Backpressure window of every peer's connections, in bytes; absent: the sync layer's default. */
  readonly windowBytes?: number;
  readonly workloads: readonly WorkloadName[];
  readonly peers: readonly {
    readonly name: string;
    readonly subscriptions: readonly Subscription[];
    /** For reports: which choice the subscriptions are. */
    readonly label: string;
    readonly atomicity: Atomicity;
    readonly relay?: boolean;
  }[];
  readonly links: readonly { readonly dialer: string; readonly listener: string }[];
  readonly steps: readonly ScenarioStep[];
}

/** What {@link runScenario} found. */
export interface ScenarioReport {
  readonly scenario: Scenario;
  readonly history: History;
  /** Every checker's result: convergence, no-lost-commits, read-atomicity, workload invariants and final checks. */
  readonly results: readonly CheckResult[];
  /** Torn observations found (read atomicity), whether or not they count as failures here. */
  readonly tears: readonly TornObservation[];
  /** SHA-256 of the history: equal for replays. */
  readonly digest: string;
  /** Virtual time at the end, and events run. */
  readonly time: number;
  readonly steps: number;
  /** Real time the run took. */
  readonly elapsedMs: number;
}

/** Options of {@link runScenario}. */
export interface RunScenarioOptions {
  /** Called with the network before anything runs (to add recording, say). */
  readonly onNetwork?: (net: Network) => void;
  /** Keep the network open (the caller closes it). Default false. */
  readonly keepOpen?: boolean;
  /** Passed to `settle()`. */
  readonly maxSteps?: number;
}

/**
 * Runs a scenario from start to end: creates the network, runs each workload's setup at the
 * first peer, plays the steps in virtual time, then heals every partition, restarts every
 * crashed peer, settles, and runs every checker over the history and the end state.
 *
 * It does not decide what must pass — callers do (see {@link failures}): read atomicity, for
 * one, is expected to fail for `eventual` peers behind partial subscribers.
 *
 * @example
 * const report = await runScenario(scenario);
 * const broken = failures(report, { readAtomicity: false });
 * if (broken) throw new Error(broken);
 */
export async function runScenario(scenario: Scenario, options: RunScenarioOptions = {}): Promise<{ report: ScenarioReport; net: Network }> {
  const started = performance.now();
  const workloads = scenario.workloads.map((name) => {
    const make = WORKLOADS[name] as (() => Workload) | undefined;
    if (!make) throw new ValidationError(`unknown workload ${JSON.stringify(name)}: use ${Object.keys(WORKLOADS).join(', ')}`, 'workloads');
    return make();
  });
  const byName = new Map(workloads.map((w) => [w.name, w]));
  const net = createNetwork({
    seed: scenario.seed,
    storage: scenario.storage,
    interleave: scenario.interleave,
    latency: scenario.latency,
    collections: [...new Set(workloads.flatMap((w) => w.collections))],
  });
  options.onNetwork?.(net);
  const rng = new Random(scenario.seed).fork('workload');
  try {
    for (const p of scenario.peers) {
      await net.addPeer(p.name, {
        subscriptions: p.subscriptions,
        atomicity: p.atomicity,
        ...(p.relay ? { role: 'relay' as const } : {}),
        ...(scenario.windowBytes === undefined ? {} : { windowBytes: scenario.windowBytes }),
      });
    }
    for (const l of scenario.links) net.link(l.dialer, l.listener);
    const first = scenario.peers[0];
    if (!first) throw new ValidationError('a scenario needs at least one peer', 'peers');
    for (const w of workloads) await w.setup(net, net.peer(first.name), rng.fork(`setup/${w.name}`));
    let last = 0;
    for (const step of scenario.steps) {
      const at = Math.max(step.at, last);
      last = at;
      net.schedule(at - net.now, describeAction(step), () => perform(net, step, byName, rng));
    }
    await net.run(Math.max(0, last - net.now));
    net.heal();
    for (const peer of net.peers) if (!peer.up) await net.restart(peer);
    const settled = await net.settle(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps });
    const snap = await snapshot(net);
    const atomicity = checkReadAtomicity(net.history);
    const results: CheckResult[] = [
      checkConvergence(snap),
      checkNoLostCommits(snap, net.history),
      atomicity,
      ...checkInvariants(net.history, workloads.flatMap((w) => w.invariants)),
      ...workloads.flatMap((w) => w.checkFinal?.(snap, net.history) ?? []),
    ];
    const report: ScenarioReport = {
      scenario,
      history: net.history,
      results,
      tears: atomicity.tears,
      digest: net.history.digest(),
      time: settled.time,
      steps: net.steps,
      elapsedMs: performance.now() - started,
    };
    return { report, net };
  } finally {
    if (!options.keepOpen) await net.close();
  }
}

/** Which checkers must pass, for {@link failures}. All default to true. */
export interface Expectations {
  readonly convergence?: boolean;
  readonly noLostCommits?: boolean;
  readonly readAtomicity?: boolean;
  /** Workload invariants (such as `bank-total`). */
  readonly invariants?: boolean;
  /** Workload end-state checks (such as `counter-sum`). */
  readonly final?: boolean;
}

/**
 * The failures of a report that matter under `expect`, as one readable message with the
 * scenario and the end of the history — or `undefined` if everything expected holds.
 */
export function failures(report: ScenarioReport, expect: Expectations = {}): string | undefined {
  const wanted = (r: CheckResult): boolean => {
    switch (r.checker) {
      case 'convergence':
        return expect.convergence ?? true;
      case 'no-lost-commits':
        return expect.noLostCommits ?? true;
      case 'read-atomicity':
        return expect.readAtomicity ?? true;
      case 'counter-sum':
        return expect.final ?? true;
      default:
        return expect.invariants ?? true;
    }
  };
  const failed = report.results.filter((r) => !r.ok && wanted(r));
  if (failed.length === 0) return undefined;
  return `${failed.map((r) => r.checker).join(', ')} failed:\n${formatViolations(failed)}\nscenario: ${JSON.stringify(report.scenario)}\nlast history records:\n${report.history.tail(25)}`;
}

function perform(net: Network, step: ScenarioStep, workloads: ReadonlyMap<string, Workload>, rng: Random): void | Promise<unknown> {
  switch (step.kind) {
    case 'op': {
      const peer = net.peer(step.peer);
      const workload = workloads.get(step.workload);
      if (!peer.up || !workload) return;
      // Not awaited: the transaction runs while the network goes on (and never ends if its peer crashes).
      workload.operate(net, peer, rng.fork(`op/${net.steps}/${step.peer}`)).catch(() => {});
      return;
    }
    case 'partition':
      net.partition(step.groups);
      return;
    case 'heal':
      net.heal();
      return;
    case 'drop':
      net.drop(step.a, step.b);
      return;
    case 'crash':
      net.crash(step.peer);
      return;
    case 'restart':
      return net.restart(step.peer);
    case 'subscribe':
      if (net.peer(step.peer).up) net.setSubscriptions(step.peer, step.subscriptions);
      return;
  }
}

function describeAction(step: ScenarioStep): string {
  switch (step.kind) {
    case 'op':
      return `op ${step.workload} at ${step.peer}`;
    case 'partition':
      return `partition ${step.groups.map((g) => `[${g.join(' ')}]`).join(' ')}`;
    case 'heal':
      return 'heal';
    case 'drop':
      return `drop ${step.a}↔${step.b}`;
    case 'crash':
      return `crash ${step.peer}`;
    case 'restart':
      return `restart ${step.peer}`;
    case 'subscribe':
      return `subscribe ${step.peer} to ${step.label}`;
  }
}

/** The links of a topology over peers named in order (a star's center is the first). */
export function topologyLinks(topology: Topology, names: readonly string[]): { dialer: string; listener: string }[] {
  const links: { dialer: string; listener: string }[] = [];
  switch (topology) {
    case 'star':
      for (const name of names.slice(1)) links.push({ dialer: name, listener: names[0] as string });
      break;
    case 'chain':
      for (let i = 1; i < names.length; i++) links.push({ dialer: names[i] as string, listener: names[i - 1] as string });
      break;
    case 'mesh':
      for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) links.push({ dialer: names[j] as string, listener: names[i] as string });
      break;
  }
  return links;
}
