import { unreachable } from '@atoll/protocol';
import type { Logger } from '@atoll/store';
import type { ConnectionStatus } from './status.js';

/**
 * What the tabs of a profile tell each other over their BroadcastChannel. Tabs running
 * different versions of an app share the channel, so receivers check every message, ignore
 * unknown types and fields, and never act on a malformed one.
 */
export type ChannelMessage =
  /** A tab committed (locally, or the leader applied a remote transaction) at log position `pos`. */
  | { readonly type: 'commit'; readonly pos: number }
  /** The leader's view of the relay connection, for the followers' status. */
  | { readonly type: 'sync-status'; readonly connection: ConnectionStatus; readonly lastSyncAt: number | undefined; readonly lastError: string | undefined }
  /** A tab that just opened asks the leader for its `sync-status`. */
  | { readonly type: 'sync-status-request' };

const CONNECTION_STATUSES: ReadonlySet<string> = new Set<ConnectionStatus>(['connecting', 'open', 'waiting', 'failed', 'stopped', 'no-relay', 'unknown']);

/** Checks a received message; undefined for anything this version does not understand. */
export function parseChannelMessage(data: unknown): ChannelMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const msg = data as Record<string, unknown>;
  const type = msg['type'];
  switch (type) {
    case 'commit': {
      const pos = msg['pos'];
      return Number.isSafeInteger(pos) && (pos as number) > 0 ? { type, pos: pos as number } : undefined;
    }
    case 'sync-status': {
      const { connection, lastSyncAt, lastError } = msg;
      if (typeof connection !== 'string' || !CONNECTION_STATUSES.has(connection)) return undefined;
      if (lastSyncAt !== undefined && typeof lastSyncAt !== 'number') return undefined;
      if (lastError !== undefined && typeof lastError !== 'string') return undefined;
      return { type, connection: connection as ConnectionStatus, lastSyncAt, lastError };
    }
    case 'sync-status-request':
      return { type };
    default:
      return undefined;
  }
}

/** Handlers for what arrives on a {@link ProfileChannel}. */
export interface ChannelHandlers {
  commit(pos: number): void;
  syncStatus(status: Extract<ChannelMessage, { type: 'sync-status' }>): void;
  syncStatusRequest(): void;
}

/**
 * The BroadcastChannel of a profile (`atoll:${name}`). A channel object never receives its own
 * messages, so several peers in one page reach each other as separate tabs would.
 */
export class ProfileChannel {
  readonly #channel: BroadcastChannel;
  readonly #logger: Logger;
  #closed = false;

  constructor(channelName: string, handlers: ChannelHandlers, logger: Logger) {
    this.#channel = new BroadcastChannel(channelName);
    this.#logger = logger;
    this.#channel.onmessage = (event: MessageEvent<unknown>) => {
      const msg = parseChannelMessage(event.data);
      if (msg === undefined) return;
      try {
        switch (msg.type) {
          case 'commit':
            handlers.commit(msg.pos);
            return;
          case 'sync-status':
            handlers.syncStatus(msg);
            return;
          case 'sync-status-request':
            handlers.syncStatusRequest();
            return;
          default:
            unreachable(msg);
        }
      } catch (err) {
        this.#logger.error(`handling a '${msg.type}' message from another tab threw`, { error: err });
      }
    };
  }

  post(msg: ChannelMessage): void {
    if (this.#closed) return;
    this.#channel.postMessage(msg);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#channel.onmessage = null;
    this.#channel.close();
  }
}
