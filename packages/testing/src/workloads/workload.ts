import type { Subscription } from '@atoll/protocol';
import type { Invariant } from '../checkers/invariants.js';
import type { NetworkSnapshot } from '../checkers/snapshot.js';
import type { CheckResult } from '../checkers/types.js';
import type { History } from '../history/history.js';
import type { Network, SimPeer } from '../network/network.js';
import type { Random } from '../random.js';

/** A subscription set a peer may choose, named for reports (`full`, `accounts/north`, …). */
export interface SubscriptionChoice {
  readonly label: string;
  readonly subscriptions: readonly Subscription[];
  /** Whether it selects every document of every collection the workload writes. */
  readonly full: boolean;
}

/**
 * A workload: documents and the transactions real apps run on them, each transaction stamped
 * (through {@link Network.transact}) so the checkers can follow it. The network runs its
 * operations at random peers with a seeded mix.
 */
export interface Workload {
  readonly name: string;
  /** Collections it writes; the network observes them on every peer. */
  readonly collections: readonly string[];
  /** Writes the initial documents at `peer`, in one transaction. */
  setup(net: Network, peer: SimPeer, rng: Random): Promise<void>;
  /**
   * Runs one operation at `peer`, chosen with `rng`. Returns the transaction's promise without
   * waiting for the network (it never settles if the peer crashes meanwhile).
   */
  operate(net: Network, peer: SimPeer, rng: Random): Promise<unknown>;
  /** Subscription sets a peer of this workload may have: full, per collection, filtered. */
  readonly subscriptionChoices: readonly SubscriptionChoice[];
  /** Properties every view must have. */
  readonly invariants: readonly Invariant[];
  /** Checks on the end state (after `settle()`). */
  checkFinal?(snap: NetworkSnapshot, history: History): CheckResult[];
}
