import {
  DEFAULTS,
  ErrorKind,
  PeerRole,
  ProtocolError,
  SubscriptionSchema,
  ValidationError,
  type DeliveryMessage,
  type DocKey,
  type ErrorKind as ErrorKindType,
  type HelloMessage,
  type MessageType,
  type Subscription,
  type TxId,
} from '@atoll/protocol';
import { consoleLogger, type CommitEvent, type Logger, type Store } from '@atoll/store';
import { AtomicityManager, type Atomicity, type PendingTransaction, type ReceiveOutcome, type ReceivedDelivery, type SyncState, type TornTransaction } from './atomicity.js';
import { Connection, OPEN_POLICY, type PeerPolicy, type Shipment } from './connection.js';
import { Dialer, type DialOptions } from './dialer.js';
import { Emitter } from './events.js';
import type { CloseInfo, Transport } from './transport/transport.js';

/** Options of {@link SyncPeer}. */
export interface SyncPeerOptions {
  /** The store this peer replicates. */
  readonly store: Store;
  /** What this peer wants to receive. Default: nothing (a peer that only sends). */
  readonly subscriptions?: readonly Subscription[];
  /**
   * `eventual` (default) applies whatever part of a transaction arrives and reports the tear;
   * `atomic` never shows part of a transaction within its subscriptions: it holds a partial
   * delivery invisible and asks connected peers for the rest. See docs/atomicity.md.
   */
  readonly atomicity?: Atomicity;
  /** How this peer announces itself. Default `peer`. */
  readonly role?: PeerRole;
  /** Credentials sent in `hello` when this peer dials. */
  readonly token?: string;
  /**
   * Decides, for each peer that dials in, what it may read and write; throw a
   * `ProtocolError` of kind `auth` to refuse it. Default: everyone may do everything.
   */
  readonly authenticate?: (hello: HelloMessage) => PeerPolicy | Promise<PeerPolicy>;
  readonly logger?: Logger;
  /** Unacknowledged delivery bytes kept in flight per connection. Default 4 MiB. */
  readonly windowBytes?: number;
  /** Largest frame this peer accepts. Default 16 MiB. */
  readonly maxMessageBytes?: number;
  /** Ping after this long without receiving anything. Default 15 s. */
  readonly keepAliveMs?: number;
  /** Close after this long without receiving anything. Default 45 s. */
  readonly idleTimeoutMs?: number;
  /** Close a connection whose handshake has not completed by then. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
}

/** Events a {@link SyncPeer} reports, for apps, metrics and tests. */
export interface SyncPeerEvents extends Record<string, unknown> {
  open: { connection: Connection };
  close: { connection: Connection; info: CloseInfo };
  'message-sent': { connection: Connection; type: MessageType; bytes: number };
  'message-received': { connection: Connection; type: MessageType; bytes: number };
  'delivery-sent': { connection: Connection; bytes: number; txId: TxId };
  /**
   * A delivery was processed: `status` is the store's (`applied`, `partial`, `held`, `duplicate`),
   * `forbidden`, `invalid` or `empty`; `origin` is the peer it came from (not the transaction's
   * origin); `delivery` is the message itself, with its manifest and omitted parts.
   */
  'delivery-received': { connection: Connection; bytes: number; status: string; applyMs: number; txId: TxId; origin: string; delivery: DeliveryMessage };
  'caught-up': { connection: Connection; pos: number };
  unavailable: { connection: Connection; txId: TxId; keys: readonly DocKey[] };
  /** This peer now holds a transaction only partly within its subscriptions. */
  torn: TornTransaction;
  error: { connection: Connection; direction: 'sent' | 'received'; kind: ErrorKindType; message: string };
}

interface ResolvedOptions {
  readonly role: PeerRole;
  readonly token: string | undefined;
  readonly windowBytes: number;
  readonly maxMessageBytes: number;
  readonly keepAliveMs: number;
  readonly idleTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
}

/** What connections need from their peer. */
export interface PeerInternals {
  readonly store: Store;
  readonly options: ResolvedOptions;
  readonly events: Emitter<SyncPeerEvents>;
  readonly logger: Logger;
  subscriptions(): readonly Subscription[];
  authenticate(hello: HelloMessage): Promise<PeerPolicy>;
  /** Applies received deliveries with parts, in order; resolves with how each went. */
  receive(items: readonly ReceivedDelivery[], from: Connection): Promise<{ outcomes: ReceiveOutcome[]; persisted: SyncState | undefined }>;
  /** The remote says everything up to a point was sent (a back-fill is complete). */
  caughtUp(from: Connection): Promise<void>;
  /** Sees a delivery that carried no parts (only a manifest). */
  observeDelivery(delivery: DeliveryMessage, from: Connection): void;
  /** The commit event of a recent log position, when still cached. */
  recent(pos: number): CommitEvent | undefined;
  /** Deliveries recently encoded, by log position and decisions, shared by every connection. */
  readonly shipments: ShipmentCache;
}

/** A small map that forgets its oldest entries (insertion order) beyond a count and a byte budget. */
export class ShipmentCache {
  readonly #map = new Map<string, Shipment>();
  readonly #capacity: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(capacity: number, maxBytes: number) {
    this.#capacity = capacity;
    this.#maxBytes = maxBytes;
  }

  get(key: string): Shipment | undefined {
    return this.#map.get(key);
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }

  set(key: string, value: Shipment): void {
    if (value.bytes.byteLength > this.#maxBytes / 4 || this.#map.has(key)) return;
    this.#map.set(key, value);
    this.#bytes += value.bytes.byteLength;
    while (this.#map.size > this.#capacity || this.#bytes > this.#maxBytes) {
      const [oldest, shipment] = this.#map.entries().next().value as [string, Shipment];
      this.#map.delete(oldest);
      this.#bytes -= shipment.bytes.byteLength;
    }
  }
}

const RECENT_COMMITS = 1_024;

/**
 * Replicates a store with other peers over any {@link Transport}: ships what their
 * subscriptions select, applies what they ship, one delivery as one local commit.
 *
 * @example
 * const peer = new SyncPeer({ store, subscriptions: [{ id: 'todos', collection: 'todos' }] });
 * peer.dial(() => connectWebSocket('ws://127.0.0.1:8787/sync'));
 */
export class SyncPeer {
  readonly store: Store;
  readonly events = new Emitter<SyncPeerEvents>();
  readonly #options: ResolvedOptions;
  readonly #logger: Logger;
  readonly #authenticate: (hello: HelloMessage) => PeerPolicy | Promise<PeerPolicy>;
  readonly #connections = new Set<Connection>();
  readonly #dialers = new Set<Dialer>();
  readonly #recent = new Map<number, CommitEvent>();
  readonly #stopCommits: () => void;
  readonly #internals: PeerInternals;
  readonly #atomicity: AtomicityManager;
  #subscriptions: readonly Subscription[];
  #closed = false;

  constructor(options: SyncPeerOptions) {
    this.store = options.store;
    this.#logger = options.logger ?? consoleLogger;
    this.#authenticate = options.authenticate ?? (() => OPEN_POLICY);
    this.#subscriptions = checkSubscriptions(options.subscriptions ?? []);
    this.#options = {
      role: options.role ?? PeerRole.Peer,
      token: options.token,
      windowBytes: options.windowBytes ?? DEFAULTS.windowBytes,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
      keepAliveMs: options.keepAliveMs ?? DEFAULTS.keepAliveMs,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
    };
    this.#atomicity = new AtomicityManager({
      store: this.store,
      mode: options.atomicity ?? 'eventual',
      subscriptions: () => this.#subscriptions,
      want: (txId, keys) => {
        for (const c of this.#connections) c.want(txId, keys);
      },
      onTorn: (torn) => this.events.emit('torn', torn),
    });
    // A connection opening may make this instance the one that replicates (a new leader tab):
    // take up the held work as stored, then ask for what is missing.
    this.events.on('open', () => {
      void this.#atomicity.reload().then(
        () => this.#atomicity.rewant(),
        () => {},
      );
    });
    this.events.on('close', ({ connection }) => this.#atomicity.dropBackfill(connection));
    this.events.on('unavailable', ({ connection, txId }) => {
      if (connection.remote) this.#atomicity.unavailable(txId, connection.remote.peerId);
    });
    this.#internals = {
      store: this.store,
      options: this.#options,
      events: this.events,
      logger: this.#logger,
      subscriptions: () => this.#subscriptions,
      authenticate: async (hello) => this.#authenticate(hello),
      receive: (items, from) => this.#atomicity.receive(items, from.remote?.peerId, from),
      caughtUp: (from) => this.#atomicity.backfillComplete(from),
      observeDelivery: () => {},
      recent: (pos) => this.#recent.get(pos),
      shipments: new ShipmentCache(256, 8 * 1024 * 1024),
    };
    const announced = (event: CommitEvent): void => {
      this.#recent.set(event.position, event);
      if (this.#recent.size > RECENT_COMMITS) this.#recent.delete(this.#recent.keys().next().value as number);
      for (const c of this.#connections) c.wake();
    };
    // Remote applies are forwarded once queued, before they are durable (a relay's fsync is off
    // the path of what it forwards); if the write fails, what was forwarded past the durable
    // position is void: forget it, and close the connections it went out on.
    const stops = [
      this.store.onCommit(announced),
      this.store.onQueued(announced),
      this.store.onWriteFailed((durable) => {
        for (const pos of [...this.#recent.keys()]) if (pos > durable) this.#recent.delete(pos);
        this.#internals.shipments.clear();
        for (const c of this.#connections) c.rewound(durable);
      }),
    ];
    this.#stopCommits = () => {
      for (const stop of stops) stop();
    };
  }

  /** The open and opening connections. */
  get connections(): readonly Connection[] {
    return [...this.#connections];
  }

  /** `eventual` or `atomic`. */
  get atomicity(): Atomicity {
    return this.#atomicity.mode;
  }

  /**
   * Transactions this peer holds only partly within its subscriptions, with which parts are
   * missing and why (`not-subscribed` never counts: those are outside the subscriptions).
   */
  async torn(): Promise<TornTransaction[]> {
    await this.#atomicity.load();
    return this.#atomicity.torn();
  }

  /** Work held back, invisible: partial transactions (atomic mode) and parts waiting for Automerge dependencies. */
  async pending(): Promise<PendingTransaction[]> {
    await this.#atomicity.load();
    return this.#atomicity.pending();
  }

  /**
   * Stops waiting for the rest of a held transaction: applies the parts present and reports it
   * as torn. Resolves false when nothing is held under that id.
   */
  release(txId: TxId): Promise<boolean> {
    return this.#atomicity.release(txId);
  }

  /** The current subscription set. */
  get subscriptions(): readonly Subscription[] {
    return this.#subscriptions;
  }

  /**
   * Replaces the subscription set and tells every connected peer; a wider set is back-filled
   * with the history of the documents it now selects.
   */
  setSubscriptions(subs: readonly Subscription[]): void {
    this.#subscriptions = checkSubscriptions(subs);
    for (const c of this.#connections) c.sendSubscriptions(this.#subscriptions);
  }

  /**
   * Runs the protocol over an open transport: as the dialing side (it sends `hello`) or the
   * listening side (it answers `hello`).
   */
  connect(transport: Transport, side: 'dialer' | 'listener' = 'dialer'): Connection {
    if (this.#closed) {
      transport.close(1001, 'peer is closing');
      throw new ProtocolError(ErrorKind.Protocol, 'the sync peer is closed', { fatal: true });
    }
    const connection = new Connection(this.#internals, transport, side);
    this.#connections.add(connection);
    void connection.closedInfo.then(() => this.#connections.delete(connection));
    return connection;
  }

  /** `connect(transport, 'listener')`: for a server accepting a peer. */
  accept(transport: Transport): Connection {
    return this.connect(transport, 'listener');
  }

  /**
   * Keeps a connection to a remote up: dials, and after any close dials again with
   * exponential backoff and jitter, resuming from the persisted cursor.
   */
  dial(open: () => Promise<Transport>, options: DialOptions = {}): Dialer {
    const dialer = new Dialer((transport) => this.connect(transport, 'dialer'), open, options, this.#logger);
    this.#dialers.add(dialer);
    void dialer.stopped.then(() => this.#dialers.delete(dialer));
    dialer.start();
    return dialer;
  }

  /** Stops dialing, closes every connection, and waits for them. The store stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const d of this.#dialers) d.stop();
    const closing = [...this.#connections].map((c) => {
      c.close(1001, 'peer is closing');
      return c.closedInfo;
    });
    await Promise.all(closing);
    this.#stopCommits();
  }

}

function checkSubscriptions(subs: readonly Subscription[]): Subscription[] {
  const ids = new Set<string>();
  return subs.map((sub, i) => {
    const parsed = SubscriptionSchema.safeParse(sub);
    if (!parsed.success) throw new ValidationError(`invalid subscription: ${parsed.error.issues[0]?.message ?? 'malformed'}`, `subscriptions.${i}`);
    if (ids.has(sub.id)) throw new ValidationError(`duplicate subscription id ${JSON.stringify(sub.id)}`, `subscriptions.${i}.id`);
    ids.add(sub.id);
    return parsed.data;
  });
}
