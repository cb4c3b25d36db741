/**
 * `@atoll/testing`: runs N Atoll peers in one process over a deterministic simulated network
 * with seeded faults, records everything that happens, and checks convergence, no lost
 * commits and read atomicity. The guide is `docs/testing.md`; fast-check arbitraries live in
 * `@atoll/testing/fast-check`.
 *
 * @packageDocumentation
 */
export { Random, type Seed } from './random.js';
export {
  Network,
  PeerDownError,
  SettleError,
  SimPeer,
  createNetwork,
  type Atomicity,
  type Latency,
  type LinkInfo,
  type LinkOptions,
  type NetworkOptions,
  type PeerOptions,
  type SettleReport,
  type TransactResult,
} from './network/network.js';
export { STAMP_FIELD, stampTransaction, type StampedTransaction } from './network/stamped.js';
export { createSimTransportPair, SimConnection, SimTransport, type SimTransportPairOptions } from './network/transport.js';
export { CrashableStorage, type StorageKind } from './network/storage.js';
export {
  History,
  formatRecord,
  type AckRecord,
  type CommitRecord,
  type ConnectionRecord,
  type DeliveryRecord,
  type FaultRecord,
  type HistoryRecord,
  type NewRecord,
  type NoteRecord,
  type ObserveRecord,
  type SubscriptionsRecord,
  type TxRecord,
  type TxWrite,
} from './history/history.js';
export { snapshot, type DocState, type NetworkSnapshot, type PeerSnapshot } from './checkers/snapshot.js';
export { checkConvergence } from './checkers/convergence.js';
export { checkNoLostCommits } from './checkers/lost-commits.js';
export { checkReadAtomicity, type ReadAtomicityResult, type TornObservation } from './checkers/read-atomicity.js';
export { checkInvariants, type Invariant } from './checkers/invariants.js';
export { viewsOf, type View, type ViewAt } from './checkers/views.js';
export { selectsValue, selectsCollection } from './checkers/selection.js';
export { holdersOf, showsSelected } from './checkers/holders.js';
export { formatViolations, type CheckResult, type Violation } from './checkers/types.js';
export { bankWorkload, type BankOptions } from './workloads/bank.js';
export { todoWorkload, type TodoOptions } from './workloads/todo.js';
export { counterWorkload, type CounterOptions } from './workloads/counter.js';
export type { SubscriptionChoice, Workload } from './workloads/workload.js';
export {
  WORKLOADS,
  failures,
  runScenario,
  topologyLinks,
  type Expectations,
  type RunScenarioOptions,
  type Scenario,
  type ScenarioAction,
  type ScenarioReport,
  type ScenarioStep,
  type Topology,
  type WorkloadName,
} from './scenario/scenario.js';
export { propertyParameters, replayCommand, seedFromEnv, type PropertyParameters, type ReplayTarget } from './seeds.js';
