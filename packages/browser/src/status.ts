import type { DialerStatus } from '@atoll/sync';
import type { TabRole } from './leader.js';

/**
 * The profile's relay connection: a dialer status (`connecting`, `open`, `waiting` between
 * attempts, `failed` — refused for good, e.g. a wrong token — or `stopped`), `no-relay` when the
 * peer was opened without one, or `unknown` in a follower tab that has not yet heard from the
 * leader.
 */
export type ConnectionStatus = DialerStatus | 'no-relay' | 'unknown';

/** What a browser peer reports about itself; see {@link BrowserPeer.status}. */
export interface BrowserPeerStatus {
  /** `navigator.onLine`: whether the browser believes it has a network. */
  readonly online: boolean;
  /** `leader` (this tab holds the relay connection), `follower`, or `closed`. */
  readonly role: TabRole;
  /**
   * The profile's relay connection. In the leader, its own; in a follower, the leader's as
   * last announced over the BroadcastChannel.
   */
  readonly connection: ConnectionStatus;
  /**
   * When (ms since the epoch) the relay last confirmed progress: it had sent everything it had
   * for this profile (`caught-up`), or it acknowledged durable receipt of what this profile sent
   * (`ack`). Undefined until the first time. While `connection` is `open`, the profile is kept
   * up to date live, whatever this says.
   */
  readonly lastSyncAt: number | undefined;
  /** Why the last connection attempt failed, while the connection is not open. */
  readonly lastError: string | undefined;
}

/** Whether two statuses differ enough to tell listeners: any field but `lastSyncAt`, or that by a second or more. */
export function statusChanged(before: BrowserPeerStatus, after: BrowserPeerStatus): boolean {
  if (before.online !== after.online || before.role !== after.role || before.connection !== after.connection || before.lastError !== after.lastError) return true;
  if (before.lastSyncAt === after.lastSyncAt) return false;
  if (before.lastSyncAt === undefined || after.lastSyncAt === undefined) return true;
  return Math.abs(after.lastSyncAt - before.lastSyncAt) >= 1_000;
}
