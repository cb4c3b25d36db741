import {
  ErrorKind,
  PROTOCOL_VERSION,
  ProtocolError,
  SUPPORTED_PROTOCOL_VERSIONS,
  buildDelivery,
  checkReceive,
  checkSend,
  checkWelcomeVersion,
  closedState,
  decodeMessage,
  encodeMessage,
  initialConnectionState,
  negotiateVersion,
  parseDocKey,
  toErrorMessage,
  unreachable,
  type Changeset,
  type ConnectionSide,
  type ConnectionState,
  type DeliveryMessage,
  type DeliveryVia,
  type DocKey,
  type ErrorMessage,
  type HelloMessage,
  type LogId,
  type Message,
  type PeerId,
  type PeerRole,
  type ShipDecision,
  type Subscription,
  type TxId,
} from '@atoll/protocol';
import { InvalidChangesetError, type Doc, type LogEntry } from '@atoll/store';
import type { ReceivedDelivery, SyncState } from './atomicity.js';
import type { PeerInternals } from './peer.js';
import { newlySelected, selects, selectsValue, subscriptionsKey, widenedByFilter } from './subscriptions.js';
import type { CloseInfo, Transport } from './transport/transport.js';

/** What a connection knows of the peer at its other end, once the handshake is done. */
export interface RemotePeer {
  readonly peerId: PeerId;
  readonly role: PeerRole;
  readonly logId: LogId;
  readonly maxBytes: number;
}

/** What a remote peer may read and write, decided when it authenticates. */
export interface PeerPolicy {
  /** May the remote receive this document (and see its key in manifests)? */
  canRead(key: DocKey): boolean;
  /** May the remote write it? A changeset that writes one it may not is rejected whole. */
  canWrite(key: DocKey): boolean;
}

/** Allows everything. */
export const OPEN_POLICY: PeerPolicy = { canRead: () => true, canWrite: () => true };

/** The cursor a peer keeps per remote: how far into the remote's log it holds everything it selects. */
interface Cursor {
  readonly logId: string;
  readonly pos: number;
  /** The subscription set the cursor was reached with: a different set starts over from 0. */
  readonly subs: string;
  /**
   * Transactions received from the remote before it had made them durable, and not confirmed
   * durable since: a remote that crashed may have lost them, and this peer — which never sends
   * a remote what came from it — ships them back on the next connection, ahead of its own
   * transactions that depend on them.
   */
  readonly unconfirmed?: readonly TxId[];
}

interface Backfill {
  readonly keys: Set<DocKey>;
  /**
   * Collections where the remote's new subscriptions may select documents that match them no
   * longer (a widening to a filter): a document the remote selected at any point of this
   * peer's history there is shipped too, so that the remote gets the change that took it out —
   * it may hold a stale copy from a peer that stopped following it. `null` for any collection.
   */
  readonly widened: ReadonlySet<string> | null;
  readonly upTo: number;
  readonly subscribes: number;
  next: number;
}

/** A back-fill of given documents only. */
const NONE: ReadonlySet<string> = new Set();

/** Bounds on work waiting to be applied per connection (far above any honest sender's window). */
const MAX_QUEUED_BYTES = 256 * 1024 * 1024;
const MAX_QUEUED_JOBS = 100_000;

/**
 * Deliveries applied together in one commit when they are queued back to back (a catch-up
 * streams a window of them): one storage write and one ack for the lot.
 */
const MAX_BATCH_DELIVERIES = 256;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** Log entries read from storage at a time when they are no longer in the recent-commit cache. */
const READ_AHEAD = 256;

/**
 * A cursor move that no apply carried (a `caught-up` over skipped entries, a rejected delivery)
 * is persisted on its own at most this often, and when the connection closes: losing it costs
 * a rescan of those entries after a crash, never data.
 */
const CURSOR_SAVE_DELAY_MS = 1_000;

/** A delivery built for a remote, and its encoded bytes. */
export interface Shipment {
  readonly delivery: DeliveryMessage;
  readonly bytes: Uint8Array;
}

/** Work received from the remote that must be done in order. */
type Inbound =
  | { readonly kind: 'delivery'; readonly msg: DeliveryMessage; readonly size: number }
  | { readonly kind: 'caught-up'; readonly pos: number; readonly subscribes: number }
  | { readonly kind: 'save-cursor' };

const CLOSE_CODES: Partial<Record<string, number>> = {
  auth: 4401,
  forbidden: 4403,
  version: 4426,
  'rate-limited': 4429,
  'too-large': 1009,
  malformed: 4400,
  protocol: 4400,
  internal: 1011,
};

/**
 * One connection to one remote peer, from handshake to close. Both sides replicate both ways:
 * each sends its subscriptions and a `sync` from its cursor, and ships what the other's
 * subscriptions select. See docs/protocol.md for the message flow.
 */
export class Connection {
  readonly side: ConnectionSide;
  #state: ConnectionState;
  #remote: RemotePeer | undefined;
  #policy: PeerPolicy = OPEN_POLICY;
  readonly #peer: PeerInternals;
  readonly #transport: Transport;
  #closed = false;
  readonly #closedPromise: Promise<CloseInfo>;
  #resolveClosed!: (info: CloseInfo) => void;
  #opened = false;
  readonly #openedPromise: Promise<void>;
  #resolveOpened!: () => void;
  #rejectOpened!: (err: Error) => void;
  #lastReceived = Date.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #nonce = 0;
  // Outbound: what this side ships to the remote.
  #remoteSubs: Subscription[] = [];
  #subscribesReceived = 0;
  #subscribesCovered = 0;
  #nextPos = 1;
  #lastCaughtUp = -1;
  #streaming = false;
  #pumping = false;
  #pumpAgain = false;
  readonly #inflight: number[] = [];
  #inflightBytes = 0;
  #acked = 0;
  readonly #backfills: Backfill[] = [];
  // Inbound: what this side receives and applies.
  readonly #inbound: Inbound[] = [];
  /** The run of the inbound queue in progress (resolved when idle). */
  #applying: Promise<void> = Promise.resolve();
  #draining = false;
  #processed = 0;
  #cursorPos = 0;
  /**
   * How far the remote's log is known durable (protocol version 2: its deliveries may run
   * ahead of it). The persisted cursor never passes it: a remote that crashed before its write
   * could reuse the later positions.
   */
  #remoteDurable = 0;
  /** The negotiated protocol version. */
  #version = 1;
  /** `log` deliveries applied before the remote had made them durable, in position order. */
  #unconfirmed: { readonly pos: number; readonly txId: TxId }[] = [];
  /** Transactions from the remote that it may have lost (an earlier connection's `unconfirmed`): shipped back to it. */
  #echo = new Set<TxId>();
  /** Whether `#echo` was read from the persisted cursor (nothing is shipped before). */
  #echoKnown = false;
  /** Set when the cursor in memory must not be saved on close (see `rewound`). */
  #keepCursor = false;
  /** The subscription set the cursor was reached with, as persisted with it. */
  #cursorSubs = '';
  /** Whether the cursor in memory is ahead of the persisted one. */
  #cursorDirty = false;
  #cursorTimer: ReturnType<typeof setTimeout> | undefined;
  #subsSent: string[] = [];
  #queuedBytes = 0;
  #queuedJobs = 0;
  /** Transactions whose missing dependencies were already asked for on this connection. */
  readonly #wantedDeps = new Set<TxId>();

  constructor(peer: PeerInternals, transport: Transport, side: ConnectionSide) {
    this.#peer = peer;
    this.#transport = transport;
    this.side = side;
    this.#state = initialConnectionState(side);
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#openedPromise = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.#openedPromise.catch(() => {});
    transport.onMessage((bytes) => this.#receive(bytes));
    transport.onClose((info) => this.#onTransportClosed(info));
    const { keepAliveMs, idleTimeoutMs, handshakeTimeoutMs } = peer.options;
    const started = Date.now();
    this.#timer = setInterval(() => this.#tick(started, keepAliveMs, idleTimeoutMs, handshakeTimeoutMs), Math.max(10, Math.min(keepAliveMs, idleTimeoutMs, handshakeTimeoutMs) / 4));
    (this.#timer as { unref?: () => void }).unref?.();
    if (side === 'dialer') {
      const hello: HelloMessage = {
        type: 'hello',
        versions: [...SUPPORTED_PROTOCOL_VERSIONS],
        peerId: peer.store.peerId,
        role: peer.options.role,
        logId: peer.store.logId as LogId,
        maxBytes: peer.options.maxMessageBytes,
      };
      if (peer.options.token !== undefined) hello.token = peer.options.token;
      this.#send(hello);
    }
  }

  /** The peer at the other end, once the handshake is done. */
  get remote(): RemotePeer | undefined {
    return this.#remote;
  }

  /** Resolves once the handshake is done; rejects if the connection closes before. */
  get opened(): Promise<void> {
    return this.#openedPromise;
  }

  /** Resolves when the connection has closed, with why. */
  get closedInfo(): Promise<CloseInfo> {
    return this.#closedPromise;
  }

  get isOpen(): boolean {
    return this.#opened && !this.#closed;
  }

  /** The longest `retryAfterMs` the remote asked for (a reconnect waits at least this long). */
  retryAfterMs = 0;

  /** Unacknowledged delivery bytes in flight to the remote (bounded by the window). */
  get inflightBytes(): number {
    return this.#inflightBytes;
  }

  /** Closes the connection. */
  close(code = 1000, reason = 'closed'): void {
    if (this.#closed) return;
    this.#transport.close(code, reason);
    this.#onTransportClosed({ code, reason, local: true });
  }

  /** Sends the local subscription set (the peer calls this when it changes). */
  sendSubscriptions(subs: readonly Subscription[]): void {
    if (!this.isOpen) return;
    this.#subsSent.push(subscriptionsKey(subs));
    this.#send({ type: 'subscribe', subs: [...subs] });
  }

  /** A commit was made locally or applied: ship it if the remote selects it. */
  wake(): void {
    if (this.#streaming) void this.#pump();
  }

  /**
   * Whether this connection ships queued remote applies before they are durable: the remote
   * speaks protocol version 2 (it caps its cursor at `delivery.durable`), and its subscriptions
   * have no filter, so what they select does not depend on values not committed yet.
   */
  get #shipsEarly(): boolean {
    return this.#version >= 2 && !this.#filtered;
  }

  /**
   * The store failed a write: every position past `durable` is void and will be reused. A
   * remote that was sent some of them must start over from its cursor (which never passed
   * `durable`), so the connection closes.
   */
  rewound(durable: number): void {
    if (this.#nextPos - 1 <= durable) return;
    // Nor is the cursor into the remote's log saved: it may have moved over the remote's echoes
    // of the lost entries (skipped as coming from here), which this peer no longer holds.
    this.#keepCursor = true;
    this.close(1011, 'the entries forwarded to this peer failed to be written');
  }

  /** Asks the remote for parts of a transaction. */
  want(txId: TxId, keys: readonly DocKey[]): void {
    if (this.isOpen && keys.length > 0) this.#send({ type: 'want', txId, keys: [...keys] });
  }

  // ---- receiving -----------------------------------------------------------------------

  #receive(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#lastReceived = Date.now();
    let msg: Message;
    try {
      msg = decodeMessage(bytes, { maxBytes: this.#peer.options.maxMessageBytes });
      this.#state = checkReceive(this.#state, msg);
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.#peer.events.emit('message-received', { connection: this, type: msg.type, bytes: bytes.byteLength });
    try {
      this.#handle(msg, bytes.byteLength);
    } catch (err) {
      this.#fail(err);
    }
  }

  #handle(msg: Message, size: number): void {
    switch (msg.type) {
      case 'hello':
        void this.#accept(msg);
        return;
      case 'welcome':
        this.#open({ peerId: msg.peerId, role: msg.role, logId: msg.logId, maxBytes: msg.maxBytes }, checkWelcomeVersion(msg.version));
        return;
      case 'error':
        if (msg.retryAfterMs !== undefined) this.retryAfterMs = Math.max(this.retryAfterMs, msg.retryAfterMs);
        this.#peer.events.emit('error', { connection: this, direction: 'received', kind: msg.kind, message: msg.message });
        if (msg.fatal) this.close(CLOSE_CODES[msg.kind] ?? 4400, `peer reported ${msg.kind}`);
        return;
      case 'subscribe':
        this.#onSubscribe(msg.subs);
        return;
      case 'sync':
        // A cursor past our head cannot be into this log as it is (a restored backup, say):
        // send all of it rather than skip what is written at those positions later.
        this.#nextPos = msg.since > this.#peer.store.position ? 1 : msg.since + 1;
        this.#streaming = true;
        void this.#pump();
        return;
      case 'caught-up':
        this.#learnDurable(msg.pos);
        this.#enqueue({ kind: 'caught-up', pos: msg.pos, subscribes: msg.subscribes });
        return;
      case 'delivery':
        this.#learnDurable(msg.durable ?? msg.pos);
        // The remote still holds it (or holds it again): no need to ship it back.
        if (msg.durable === undefined && this.#echo.size > 0) this.#echo.delete(msg.tx.id);
        this.#enqueue({ kind: 'delivery', msg, size }, size);
        return;
      case 'ack':
        while (this.#acked < msg.deliveries) {
          this.#inflightBytes -= this.#inflight.shift() ?? 0;
          this.#acked++;
        }
        void this.#pump();
        return;
      case 'want':
        void this.#onWant(msg.txId, msg.keys).catch((err: unknown) => this.#fail(err));
        return;
      case 'unavailable':
        this.#peer.events.emit('unavailable', { connection: this, txId: msg.txId, keys: msg.keys });
        return;
      case 'ping':
        this.#send({ type: 'pong', nonce: msg.nonce });
        return;
      case 'pong':
        return;
      default:
        unreachable(msg);
    }
  }

  async #accept(hello: HelloMessage): Promise<void> {
    try {
      const version = negotiateVersion(hello.versions);
      this.#policy = await this.#peer.authenticate(hello);
      if (this.#closed) return;
      this.#send({
        type: 'welcome',
        version,
        peerId: this.#peer.store.peerId,
        role: this.#peer.options.role,
        logId: this.#peer.store.logId as LogId,
        maxBytes: this.#peer.options.maxMessageBytes,
      });
      this.#open({ peerId: hello.peerId, role: hello.role, logId: hello.logId, maxBytes: hello.maxBytes }, version);
    } catch (err) {
      this.#fail(err);
    }
  }

  #open(remote: RemotePeer, version: number): void {
    if (remote.peerId === this.#peer.store.peerId) {
      this.#fail(new ProtocolError(ErrorKind.Protocol, 'connected to itself (same peer id on both ends)', { fatal: true }));
      return;
    }
    this.#remote = remote;
    this.#opened = true;
    this.#version = version;
    this.#resolveOpened();
    this.#peer.events.emit('open', { connection: this });
    void this.#startSync().catch((err: unknown) => this.#fail(err));
  }

  /**
   * Subscribes and asks for the remote's log from the cursor. A cursor holds only for the
   * remote's log incarnation and for the subscription set it was reached with: when the set
   * changed since, the old set goes first, then `sync`, then the current set, so the remote
   * back-fills just the documents the new set adds.
   */
  async #startSync(): Promise<void> {
    const remote = this.#remote as RemotePeer;
    const cursor = await this.#peer.store.readSyncState<Cursor>(`cursor/${remote.peerId}`);
    if (!this.isOpen) return;
    const current = this.#peer.subscriptions();
    const valid = cursor !== undefined && cursor.logId === remote.logId && cursor.subs !== '';
    if (cursor?.unconfirmed) this.#echo = new Set(cursor.unconfirmed);
    // Shipping waited for this: what goes back to the remote comes before what was built on it.
    this.#echoKnown = true;
    if (this.#streaming) void this.#pump();
    this.#cursorSubs = valid ? cursor.subs : '';
    if (valid && cursor.subs !== subscriptionsKey(current)) {
      this.sendSubscriptions(JSON.parse(cursor.subs) as Subscription[]);
      this.#cursorPos = cursor.pos;
      this.#remoteDurable = Math.max(this.#remoteDurable, cursor.pos);
      this.#send({ type: 'sync', since: cursor.pos });
      this.sendSubscriptions(current);
      return;
    }
    this.sendSubscriptions(current);
    this.#cursorPos = valid ? cursor.pos : 0;
    this.#remoteDurable = Math.max(this.#remoteDurable, this.#cursorPos);
    this.#send({ type: 'sync', since: this.#cursorPos });
  }

  #onSubscribe(subs: Subscription[]): void {
    const previous = this.#remoteSubs;
    this.#remoteSubs = subs;
    this.#subscribesReceived++;
    if (this.#subscribesReceived === 1 && !this.#streaming) {
      // The first set comes with the sync that follows: the catch-up covers it.
      this.#subscribesCovered = 1;
      return;
    }
    const keys = newlySelected(this.#peer.store, previous, subs);
    const widened = widenedByFilter(previous, subs);
    if (keys.size === 0 && widened?.size === 0) this.#subscribesCovered = this.#subscribesReceived;
    else this.#backfills.push({ keys, widened, upTo: this.#peer.store.position, subscribes: this.#subscribesReceived, next: 1 });
    void this.#pump();
  }

  /**
   * Queues work that must follow the deliveries before it. The queue is bounded: a remote that
   * ignores its window (acknowledgements) could otherwise make it grow without end.
   */
  #enqueue(item: Inbound, bytes = 0): void {
    this.#queuedBytes += bytes;
    this.#queuedJobs++;
    if (this.#queuedBytes > MAX_QUEUED_BYTES || this.#queuedJobs > MAX_QUEUED_JOBS) {
      this.#fail(new ProtocolError(ErrorKind.RateLimited, `more than ${MAX_QUEUED_JOBS} messages or ${MAX_QUEUED_BYTES} bytes wait to be applied: the peer ignores its window`, { fatal: true }));
      return;
    }
    this.#inbound.push(item);
    if (!this.#draining) {
      this.#draining = true;
      this.#applying = this.#drain();
    }
  }

  /**
   * Works through the inbound queue in order. Deliveries queued back to back are applied as
   * one batch: what arrived while the previous batch was being written goes into the next one,
   * so a busy connection costs one storage write per batch, an idle one none of the waiting.
   */
  async #drain(): Promise<void> {
    try {
      while (this.#inbound.length > 0) {
        let count = 0;
        let bytes = 0;
        for (const item of this.#inbound) {
          if (item.kind !== 'delivery' || count >= MAX_BATCH_DELIVERIES || (count > 0 && bytes + item.size > MAX_BATCH_BYTES)) break;
          count++;
          bytes += item.size;
        }
        const taken = this.#inbound.splice(0, Math.max(1, count));
        try {
          if (this.#closed) continue;
          const first = taken[0] as Inbound;
          if (first.kind === 'delivery') await this.#onDeliveries(taken as Extract<Inbound, { kind: 'delivery' }>[]);
          else if (first.kind === 'caught-up') await this.#onCaughtUp(first.pos, first.subscribes);
          else if (this.#cursorDirty) await this.#saveCursor();
        } catch (err) {
          this.#fail(err);
        } finally {
          this.#queuedJobs -= taken.length;
          this.#queuedBytes -= taken.reduce((sum, item) => sum + (item.kind === 'delivery' ? item.size : 0), 0);
        }
      }
    } finally {
      this.#draining = false;
    }
    // A `caught-up` over entries this remote sent us waits until its deliveries are applied
    // (see #pump): now they are.
    if (this.#streaming && !this.#closed) void this.#pump();
  }

  #learnDurable(pos: number): void {
    if (pos > this.#remoteDurable) this.#remoteDurable = pos;
  }

  /**
   * The cursor to persist with an apply that brings it to `pos`: no further than the remote's
   * durable log, with the transactions it may yet lose (see `Cursor.unconfirmed`).
   */
  #cursorState(pos: number): SyncState {
    const remote = this.#remote as RemotePeer;
    const durable = this.#remoteDurable;
    if (this.#unconfirmed.length > 0 && (this.#unconfirmed[0] as { pos: number }).pos <= durable) this.#unconfirmed = this.#unconfirmed.filter((u) => u.pos > durable);
    const unconfirmed = [...this.#echo, ...this.#unconfirmed.map((u) => u.txId)];
    const value: Cursor = { logId: remote.logId, pos: Math.min(pos, durable), subs: this.#cursorSubs, ...(unconfirmed.length > 0 ? { unconfirmed } : {}) };
    return { name: `cursor/${remote.peerId}`, value };
  }

  /**
   * Applies a batch of deliveries: each is still one transaction that no reader sees in part,
   * but consecutive ones share a storage write, which carries the cursor they reach. Events go
   * out per delivery, and one ack covers them all.
   */
  async #onDeliveries(items: readonly Extract<Inbound, { kind: 'delivery' }>[]): Promise<void> {
    const remote = this.#remote as RemotePeer;
    const started = performance.now();
    const statuses: string[] = [];
    const received: ReceivedDelivery[] = [];
    const receivedAt: number[] = [];
    let pos = this.#cursorPos;
    for (const [index, { msg }] of items.entries()) {
      if (msg.via === 'log') pos = msg.pos;
      if (msg.via === 'log' && msg.durable !== undefined && msg.pos > this.#remoteDurable) this.#unconfirmed.push({ pos: msg.pos, txId: msg.tx.id });
      statuses.push('empty');
      const forbidden = msg.parts.find((p) => !this.#policy.canWrite(p.key));
      if (forbidden) {
        statuses[index] = 'forbidden';
        this.#sendError(new ProtocolError(ErrorKind.Forbidden, `transaction ${msg.tx.id} writes ${forbidden.key}, outside this peer's write permissions: it was rejected whole`, { fatal: false }), msg.tx.id);
      } else if (msg.parts.length > 0) {
        const changeset: Changeset = { ...msg.tx, parts: msg.parts, manifest: msg.manifest };
        received.push({ changeset, delivery: msg, syncState: this.#cursorState(pos) });
        receivedAt.push(index);
      } else {
        this.#peer.observeDelivery(msg, this);
      }
    }
    if (received.length > 0) {
      const { outcomes, persisted } = await this.#peer.receive(received, this);
      // A part held for a dependency that came later in the same batch was released before the
      // call returned: nothing to ask for then.
      let held: Set<TxId> | undefined;
      const stillHeld = (): Set<TxId> => (held ??= new Set(this.#peer.store.held().map((h) => h.changeset.id)));
      for (const [k, outcome] of outcomes.entries()) {
        const index = receivedAt[k] as number;
        const msg = (received[k] as ReceivedDelivery).delivery;
        if (outcome instanceof InvalidChangesetError) {
          statuses[index] = 'invalid';
          this.#sendError(new ProtocolError(ErrorKind.InvalidChange, outcome.message, { fatal: false }), msg.tx.id);
          continue;
        }
        statuses[index] = outcome.status;
        // Parts held for missing Automerge dependencies: the document's earlier history never
        // reached this peer (it started to match, or another peer forwarded only part of it).
        // Ask the sender for it.
        // Once per transaction per connection: when the answer cannot satisfy the dependencies
        // (they sit in a transaction held elsewhere), asking again would loop.
        if (outcome.held.length > 0 && !this.#closed && !this.#wantedDeps.has(msg.tx.id) && stillHeld().has(msg.tx.id)) {
          this.#wantedDeps.add(msg.tx.id);
          this.want(msg.tx.id, outcome.held);
        }
      }
      const saved = (persisted?.value as Cursor | undefined)?.pos;
      this.#cursorPos = pos;
      this.#cursorDirty = saved !== pos;
    } else {
      this.#cursorPos = pos;
      this.#cursorDirty = true;
    }
    // Whatever was applied is durable (and the cursor with it) even if the connection closed meanwhile.
    if (this.#closed) return;
    if (this.#cursorDirty) this.#scheduleCursorSave();
    this.#processed += items.length;
    this.#send({ type: 'ack', pos: this.#cursorPos, deliveries: this.#processed });
    const applyMs = performance.now() - started;
    for (const [index, { msg, size }] of items.entries()) {
      this.#peer.events.emit('delivery-received', { connection: this, bytes: size, status: statuses[index] as string, applyMs, txId: msg.tx.id, origin: remote.peerId, delivery: msg });
    }
  }

  async #onCaughtUp(pos: number, subscribes: number): Promise<void> {
    if (this.#closed) return;
    await this.#peer.caughtUp(this);
    if (pos > this.#cursorPos) {
      this.#cursorPos = pos;
      this.#cursorDirty = true;
    }
    // The cursor goes with the newest subscription set the remote has finished back-filling.
    // A newly covered set is persisted at once (rare, and it spares a second back-fill); a
    // position alone waits for the next apply or the debounced save.
    const subs = subscribes > 0 ? this.#subsSent[subscribes - 1] : undefined;
    if (subs !== undefined && subs !== this.#cursorSubs) {
      this.#cursorSubs = subs;
      await this.#saveCursor();
    } else if (this.#cursorDirty) {
      this.#scheduleCursorSave();
    }
    this.#peer.events.emit('caught-up', { connection: this, pos });
  }

  #scheduleCursorSave(): void {
    if (this.#cursorTimer !== undefined || this.#closed) return;
    this.#cursorTimer = setTimeout(() => {
      this.#cursorTimer = undefined;
      if (!this.#closed && this.#cursorDirty) this.#enqueue({ kind: 'save-cursor' });
    }, CURSOR_SAVE_DELAY_MS);
    (this.#cursorTimer as { unref?: () => void }).unref?.();
  }

  async #saveCursor(): Promise<void> {
    const state = this.#cursorState(this.#cursorPos);
    // Still dirty while the remote's durable log is behind the cursor: its next delivery or
    // `caught-up` schedules the save again.
    this.#cursorDirty = (state.value as Cursor).pos !== this.#cursorPos;
    await this.#peer.store.writeSyncState(state.name, state.value);
  }

  /**
   * Answers a `want`: the wanted parts of the transaction, preceded by the earlier history of
   * those documents (so a peer that lacked their dependencies can apply them), or
   * `unavailable` when this peer holds none of them.
   */
  async #onWant(txId: TxId, keys: readonly DocKey[]): Promise<void> {
    const wanted = new Set(keys);
    const store = this.#peer.store;
    const entries = await store.entriesFor(txId);
    const last = Math.max(0, ...entries.filter((e) => e.parts.some((p) => wanted.has(p.key))).map((e) => e.pos));
    let sent = false;
    for (let after = 0; after < last && !this.#closed; ) {
      const batch = await store.readLog(after, 256);
      if (batch.length === 0) break;
      for (const entry of batch) {
        after = entry.pos;
        if (entry.pos > last) break;
        if (!entry.parts.some((p) => wanted.has(p.key))) continue;
        // The wanted parts are shipped whatever the subscriptions say (the receiver asked); every
        // other part is decided by the receiver's own subscriptions — an answer that marked them
        // all `not-subscribed` would look whole to an atomic receiver.
        const shipment = await this.#deliveryFor(entry, 'want', wanted);
        // It answers the want only if it carries a wanted part (one the asker may read).
        if (shipment && shipment.delivery.parts.some((p) => wanted.has(p.key))) {
          this.#sendDelivery(shipment);
          sent = true;
        }
      }
    }
    if (!sent && this.isOpen) this.#send({ type: 'unavailable', txId, keys: [...keys] });
  }

  // ---- shipping ------------------------------------------------------------------------

  #windowOpen(): boolean {
    return this.#inflightBytes < this.#peer.options.windowBytes;
  }

  /** Ships back-fills, then the log from the cursor, while the window allows; then `caught-up`. */
  async #pump(): Promise<void> {
    if (!this.#echoKnown) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        if (!this.#streaming || this.#closed) break;
        const store = this.#peer.store;
        while (this.#backfills.length > 0 && this.#windowOpen() && !this.#closed) {
          const job = this.#backfills[0] as Backfill;
          const entries = job.next <= job.upTo ? await store.readLog(job.next - 1, READ_AHEAD) : [];
          for (const entry of entries) {
            if (entry.pos > job.upTo || !this.#windowOpen()) break;
            job.next = entry.pos + 1;
            if (!entry.parts.some((p) => job.keys.has(p.key)) && !(await this.#selectedOnce(entry, job))) continue;
            const shipment = await this.#deliveryFor(entry, 'backfill');
            if (!shipment) continue;
            const { delivery } = shipment;
            this.#sendDelivery(shipment);
            // A document shipped with the transaction (it was selected at the time, though not
            // now) must also get its later history, up to the change that took it out of the
            // subscription: else the remote keeps a stale version that still matches.
            for (const part of delivery.parts) job.keys.add(part.key);
          }
          if (entries.length === 0 || job.next > job.upTo) {
            this.#backfills.shift();
            this.#subscribesCovered = job.subscribes;
            this.#lastCaughtUp = -1;
          }
        }
        // Past the durable position: the remote applies the store has queued, forwarded while
        // they are written (see #shipsEarly).
        const limit = this.#shipsEarly ? store.shippablePosition : store.position;
        log: while (this.#windowOpen() && this.#nextPos <= limit && !this.#closed) {
          const entries = this.#recentEntries(this.#nextPos, limit) ?? (this.#nextPos <= store.position ? await store.readLog(this.#nextPos - 1, READ_AHEAD) : []);
          if (entries.length === 0) break;
          for (const entry of entries) {
            if (!this.#windowOpen() || this.#closed) break;
            // An entry not durable yet ships from its commit event alone (storage has none of it).
            if (entry.pos > store.position && !(this.#shipsEarly && this.#peer.recent(entry.pos)?.changeset?.parts.length === entry.parts.length)) break log;
            this.#nextPos = entry.pos + 1;
            const shipment = await this.#deliveryFor(entry, 'log');
            if (shipment) this.#sendDelivery(shipment);
            if (this.#echo.size > 0) this.#echo.delete(entry.id);
            if (this.#filtered) await this.#backfillStartingToMatch(entry);
          }
        }
        // A `caught-up` only ever names a durable position (it moves the remote's persisted cursor).
        const pos = this.#nextPos - 1;
        if (!this.#closed && pos === store.position && this.#backfills.length === 0 && this.#caughtUpDue(pos)) {
          this.#lastCaughtUp = pos;
          // Whatever was to be shipped back is shipped, or lies before the remote's cursor (it was durable there).
          this.#echo.clear();
          this.#send({ type: 'caught-up', pos, subscribes: this.#subscribesCovered });
        }
      } while (this.#pumpAgain && !this.#closed);
    } catch (err) {
      this.#fail(err);
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * Whether reaching the head at `pos` is worth a `caught-up` now. Always at the end of the
   * catch-up and of a back-fill (`#lastCaughtUp` is -1 then). While live it waits until the
   * stream is quiet — every delivery acknowledged, nothing from the remote still being applied
   * (its own changes come back as skipped entries) — and the ack or the end of that apply pumps
   * again: one `caught-up` per quiet moment instead of one per entry, and none while a busy
   * stream's deliveries move the remote's cursor by themselves. The receiver persists a
   * `caught-up`'s position only with its next apply or at most once a second.
   */
  #caughtUpDue(pos: number): boolean {
    if (this.#lastCaughtUp < 0) return true;
    if (pos <= this.#lastCaughtUp) return false;
    return this.#inflight.length === 0 && !this.#draining;
  }

  /**
   * New log entries from the recent-commit cache (every commit announces its entry), so a live
   * connection does not read storage on each commit; undefined when the first is not cached.
   */
  #recentEntries(from: number, to: number): LogEntry[] | undefined {
    const out: LogEntry[] = [];
    for (let pos = from; pos <= to && out.length < READ_AHEAD; pos++) {
      const event = this.#peer.recent(pos);
      if (!event) break;
      out.push(event.entry);
    }
    return out.length > 0 ? out : undefined;
  }

  /** Whether any of the remote's subscriptions has a filter (the cases that need history). */
  get #filtered(): boolean {
    return this.#remoteSubs.some((s) => s.where !== undefined);
  }

  /**
   * A commit that makes a document start to match the remote's subscriptions (its value before
   * did not match) means the remote lacks the document's earlier history — including changes
   * made here while it did not match. Back-fill that history, even when the commit itself came
   * from the remote. Needs the value before the commit, which the recent-commit cache holds.
   */
  async #backfillStartingToMatch(entry: LogEntry): Promise<void> {
    const keys = new Set<DocKey>();
    for (const part of entry.parts) {
      if (!this.#policy.canRead(part.key) || !selects(this.#remoteSubs, this.#peer.store, part.key)) continue;
      const before = await this.#valueBefore(entry, part.key);
      if (before !== undefined && !selectsValue(this.#remoteSubs, parseDocKey(part.key).collection, before)) keys.add(part.key);
    }
    if (keys.size > 0 && entry.pos > 1) {
      this.#backfills.push({ keys, widened: NONE, upTo: entry.pos - 1, subscribes: this.#subscribesCovered, next: 1 });
      this.#pumpAgain = true;
    }
  }

  /**
   * Whether a back-fill must ship an entry that touches none of the documents the remote's new
   * subscriptions select now: one of its documents, in a collection the widening covers, is not
   * selected now but was selected right before or right after this transaction.
   */
  async #selectedOnce(entry: LogEntry, job: Backfill): Promise<boolean> {
    if (job.widened?.size === 0 || !this.#filtered) return false;
    const store = this.#peer.store;
    for (const part of entry.parts) {
      if (job.widened !== null && !job.widened.has(parseDocKey(part.key).collection)) continue;
      if (!this.#policy.canRead(part.key) || selects(this.#remoteSubs, store, part.key)) continue;
      if (await this.#selectedAround(entry, part.key)) return true;
    }
    return false;
  }

  /**
   * A document's value just before a logged commit: from the recent-commit cache, or, once it
   * has left the cache (a restart, a long catch-up), recomputed from Automerge history.
   */
  async #valueBefore(entry: LogEntry, key: DocKey): Promise<Doc | undefined> {
    const recent = this.#peer.recent(entry.pos);
    if (recent && recent.source !== 'storage') return recent.previous.get(key);
    return this.#peer.store.valueBefore(entry, key);
  }

  async #selectedAround(entry: LogEntry, key: DocKey): Promise<boolean> {
    const { collection, id } = parseDocKey(key);
    const before = await this.#valueBefore(entry, key);
    if (before !== undefined && selectsValue(this.#remoteSubs, collection, before)) return true;
    // While the document's heads are still this transaction's changes, its current value (judged
    // already) is the value after it; otherwise recompute that value from history.
    const heads = this.#peer.store.heads(collection, id);
    const hashes = entry.parts.find((p) => p.key === key)?.hashes ?? [];
    if (heads !== undefined && heads.length === hashes.length && heads.every((h) => hashes.includes(h))) return false;
    const after = await this.#peer.store.valueAfter(entry, key);
    return after !== undefined && selectsValue(this.#remoteSubs, collection, after);
  }

  /** The delivery of a log entry for this remote, encoded, or undefined when it selects none of it. */
  async #deliveryFor(entry: LogEntry, via: DeliveryVia, wanted?: ReadonlySet<DocKey>): Promise<Shipment | undefined> {
    const remote = this.#remote as RemotePeer;
    if (via !== 'want' && (entry.origin === remote.peerId || (entry.from === remote.peerId && !this.#echo.has(entry.id)))) return undefined;
    const recent = this.#peer.recent(entry.pos);
    const held = new Set(entry.parts.map((p) => p.key));
    const decisions = new Map<DocKey, ShipDecision>();
    let shipping = false;
    for (const key of entry.manifest) {
      let decision: ShipDecision;
      if (!this.#policy.canRead(key)) decision = 'not-permitted';
      else if (wanted?.has(key) || selects(this.#remoteSubs, this.#peer.store, key)) decision = 'ship';
      // Not selected now, by a filter: judged by the document's value at this transaction
      // instead — ship it if it matched right after (the transaction wrote a document the
      // subscription selected then, and a reader must see all of it) or right before (the change
      // that takes it out of the subscription, so the receiver does not keep a stale match).
      else if (held.has(key) && this.#filtered && (await this.#selectedAround(entry, key))) decision = 'ship';
      else decision = 'not-subscribed';
      if (decision === 'ship' && held.has(key)) shipping = true;
      decisions.set(key, decision);
    }
    if (!shipping) return undefined;
    // Peers with the same decisions get the same bytes (a relay fanning one change out to every
    // subscriber): build and encode them once. A `want` answer depends on what was wanted.
    const durable = this.#peer.store.position;
    const early = entry.pos > durable;
    const cacheKey = via === 'want' ? undefined : `${via} ${entry.pos} ${remote.maxBytes} ${early ? durable : ''} ${[...decisions.values()].join(',')}`;
    const cached = cacheKey === undefined ? undefined : this.#peer.shipments.get(cacheKey);
    if (cached) return cached;
    const changeset =
      recent?.changeset && recent.changeset.parts.length === entry.parts.length
        ? recent.changeset
        : await this.#peer.store.changesetFor(entry, (key) => decisions.get(key) === 'ship');
    const delivery = buildDelivery({ ...changeset, manifest: [...entry.manifest] }, { via, pos: entry.pos, ...(early ? { durable } : {}), decide: (key) => decisions.get(key) ?? 'not-subscribed' });
    const shipment: Shipment = { delivery, bytes: this.#encodeDelivery(delivery) };
    if (cacheKey !== undefined) this.#peer.shipments.set(cacheKey, shipment);
    return shipment;
  }

  #encodeDelivery(delivery: DeliveryMessage): Uint8Array {
    const maxBytes = (this.#remote as RemotePeer).maxBytes;
    try {
      return encodeMessage(delivery, { maxBytes, validate: false });
    } catch (err) {
      if (!(err instanceof ProtocolError) || err.kind !== ErrorKind.TooLarge) throw err;
      // Too big for one frame of the receiver's: say so part by part instead of dropping it.
      const omitted = [...delivery.omitted, ...delivery.parts.map((p) => ({ key: p.key, reason: 'too-large' as const }))];
      // (delivery.manifest is unchanged: every key is still accounted for.)
      return encodeMessage({ ...delivery, parts: [], omitted }, { maxBytes, validate: false });
    }
  }

  #sendDelivery({ delivery, bytes }: Shipment): void {
    if (!this.isOpen || this.#transport.closed) return;
    this.#state = checkSend(this.#state, delivery);
    this.#transport.send(bytes);
    this.#inflight.push(bytes.byteLength);
    this.#inflightBytes += bytes.byteLength;
    this.#peer.events.emit('delivery-sent', { connection: this, bytes: bytes.byteLength, txId: delivery.tx.id });
  }

  #send(msg: Message): void {
    // The transport can know of the close a moment before its close event reaches us.
    if (this.#closed || this.#transport.closed) return;
    this.#state = checkSend(this.#state, msg);
    // Acks and caught-ups (one per batch, of counters this side keeps) skip the schema check on
    // the way out; the receiver validates every frame anyway.
    const validate = msg.type !== 'ack' && msg.type !== 'caught-up' && msg.type !== 'pong';
    const bytes = encodeMessage(msg, this.#remote ? { maxBytes: this.#remote.maxBytes, validate } : { validate });
    this.#transport.send(bytes);
    this.#peer.events.emit('message-sent', { connection: this, type: msg.type, bytes: bytes.byteLength });
  }

  #sendError(error: ProtocolError, txId?: TxId): void {
    const msg: ErrorMessage = toErrorMessage(error);
    if (txId !== undefined) msg.txId = txId;
    this.#peer.events.emit('error', { connection: this, direction: 'sent', kind: msg.kind, message: msg.message });
    try {
      this.#send(msg);
    } catch {
      // The connection is already going away.
    }
  }

  /** Reports an error to the remote and, when it is fatal, closes the connection. */
  #fail(err: unknown): void {
    if (this.#closed) return;
    const error = err instanceof ProtocolError ? err : new ProtocolError(ErrorKind.Internal, err instanceof Error ? err.message : String(err), { fatal: true, cause: err });
    if (!(err instanceof ProtocolError)) this.#peer.logger.error(`sync connection failed: ${error.message}`, { error: err });
    this.#sendError(error);
    if (error.fatal) this.close(CLOSE_CODES[error.kind] ?? 4400, error.kind);
  }

  #tick(started: number, keepAliveMs: number, idleTimeoutMs: number, handshakeTimeoutMs: number): void {
    const now = Date.now();
    if (!this.#opened) {
      if (now - started > handshakeTimeoutMs) this.#fail(new ProtocolError(ErrorKind.Protocol, `no handshake within ${handshakeTimeoutMs} ms`, { fatal: true }));
      return;
    }
    const idle = now - this.#lastReceived;
    if (idle > idleTimeoutMs) this.close(4408, `nothing received for ${idle} ms`);
    else if (idle > keepAliveMs) this.#send({ type: 'ping', nonce: (this.#nonce = (this.#nonce + 1) >>> 0) });
  }

  #onTransportClosed(info: CloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#state = closedState(this.#state);
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#cursorTimer !== undefined) clearTimeout(this.#cursorTimer);
    if (!this.#opened) this.#rejectOpened(new ProtocolError(ErrorKind.Protocol, `connection closed before the handshake completed (${info.code} ${info.reason})`, { fatal: true }));
    // Persist how far we got, once whatever is being applied has finished.
    const remote = this.#remote;
    const done = remote ? this.#applying.then(() => (this.#cursorDirty && !this.#keepCursor ? this.#saveCursor() : undefined)).catch(() => {}) : Promise.resolve();
    void done.then(() => {
      this.#peer.events.emit('close', { connection: this, info });
      this.#resolveClosed(info);
    });
  }
}

export { PROTOCOL_VERSION };
