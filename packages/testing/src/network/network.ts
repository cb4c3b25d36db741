import { join } from 'node:path';
import { AtollError, PeerIdSchema, ValidationError, parseDocKey, type DocKey, type JsonObject, type PeerId, type PeerRole, type Subscription, type TxId } from '@atoll/protocol';
import type { CommitEvent, LogEntry, Logger, Store } from '@atoll/store';
import { SyncPeer, type Connection, type Dialer, type SyncPeerOptions } from '@atoll/sync';
import { History, type NewRecord, type TxWrite } from '../history/history.js';
import { Random, type Seed } from '../random.js';
import { openSeededStore } from './determinism.js';
import { Scheduler } from './scheduler.js';
import { stampTransaction, STAMP_FIELD, type StampedTransaction } from './stamped.js';
import { PeerStorage, removeDirectory, tempDirectory, type StorageKind } from './storage.js';
import { SimConnection, type SimWire } from './transport.js';

/** A link's one-way delay per message, in virtual milliseconds: fixed, or drawn in [min, max] per message. */
export type Latency = number | readonly [min: number, max: number];

/** How a peer treats a transaction it can get only part of (DESIGN §6). */
export type Atomicity = 'eventual' | 'atomic';

/** Options of {@link createNetwork}. */
export interface NetworkOptions {
  /** Every random choice of the run comes from it: the same seed takes the same path. */
  readonly seed: Seed;
  /** Where peers keep their stores. Default `memory`. */
  readonly storage?: StorageKind;
  /** For `sqlite`: the directory of the peers' files. Default: a fresh temporary directory, removed by `close()`. */
  readonly directory?: string;
  /** Default latency of links. Default `[1, 20]`. */
  readonly latency?: Latency;
  /**
   * How often (0–1) the network runs the next event after only a few microtask turns instead of
   * letting every peer finish what the last event started: the higher, the more concurrent
   * interleavings (a delivery applied while another is still being written). Default 0.3.
   */
  readonly interleave?: number;
  /** Virtual reconnection backoff of dialers: `min(maxMs, minMs·2^attempt)`, scaled by [0.5, 1). Default 20 and 1000 ms. */
  readonly reconnect?: { readonly minMs?: number; readonly maxMs?: number };
  /** Upper bound on the events one `settle()` runs before it gives up. Default 200 000. */
  readonly maxSteps?: number;
  /** Collections every peer observes with a live query from the start (more with `watch`). */
  readonly collections?: readonly string[];
}

/** Options of {@link Network.addPeer}. */
export interface PeerOptions {
  /** What the peer receives. Default: nothing. */
  readonly subscriptions?: readonly Subscription[];
  /**
   * Recorded in the history and passed to the peer's `SyncPeer` (`atomicity` option). A
   * `SyncPeer` that does not implement a mode runs `eventual`; {@link SimPeer.effectiveAtomicity} says which.
   */
  readonly atomicity?: Atomicity;
  /** How it announces itself. Default `peer`. */
  readonly role?: PeerRole;
  /** Backpressure window of its connections (bytes). Default: the sync layer's. */
  readonly windowBytes?: number;
  /**
   * More options for its `SyncPeer` — `authenticate`, `token`, `maxMessageBytes` … The harness
   * keeps control of the store, subscriptions, logger and timers.
   */
  readonly sync?: Omit<Partial<SyncPeerOptions>, 'store' | 'subscriptions' | 'atomicity' | 'logger' | 'keepAliveMs' | 'idleTimeoutMs' | 'handshakeTimeoutMs'>;
}

/** Options of {@link Network.link}. */
export interface LinkOptions {
  /** Default: the network's latency. */
  readonly latency?: Latency;
}

/** What {@link Network.transact} resolves with. */
export interface TransactResult<T> {
  /** The transaction's stamp. */
  readonly token: string;
  /** The replicated transaction id, when it committed something. */
  readonly txId: TxId | undefined;
  readonly value: T;
}

/** A link between two peers: `dialer` keeps a connection to `listener` up while the link is up. */
export interface LinkInfo {
  readonly dialer: string;
  readonly listener: string;
  readonly latency: Latency;
  /** False while a partition separates the two. */
  readonly up: boolean;
  /** Whether a connection is open on it right now. */
  readonly connected: boolean;
}

/** A peer that is down (crashed and not restarted) was asked to do something. */
export class PeerDownError extends AtollError {
  constructor(peer: string) {
    super(`peer ${peer} is down (crashed); restart it first`);
    this.name = 'PeerDownError';
  }
}

/** `settle()` found the network not converging: it kept running, or stopped while something is still owed. */
export class SettleError extends AtollError {
  constructor(message: string) {
    super(message);
    this.name = 'SettleError';
  }
}

/** What `settle()` reports. */
export interface SettleReport {
  /** Events run. */
  readonly steps: number;
  /** Virtual time at the end. */
  readonly time: number;
}

const FOREVER_MS = 1_000_000_000; // real timers of the sync layer are set beyond any run
const DEFAULT_LATENCY: Latency = [1, 20];
/** Full event-loop turns `settle()` lets pass with nothing scheduled before it calls the network quiet. */
const SETTLE_TURNS = 3;

/**
 * One simulated peer: a real {@link Store} and a real {@link SyncPeer}, living through
 * crashes and restarts. `store` and `sync` are those of the current incarnation.
 */
export class SimPeer {
  readonly name: string;
  readonly id: PeerId;
  readonly atomicity: Atomicity;
  readonly role: PeerRole | undefined;
  /** @internal */ readonly network: Network;
  /** @internal */ readonly storage: PeerStorage;
  /** @internal */ readonly windowBytes: number | undefined;
  /** @internal */ readonly syncOptions: PeerOptions['sync'];
  /** @internal */ store_: Store | undefined;
  /** @internal */ sync_: SyncPeer | undefined;
  /** @internal */ up_ = false;
  /** @internal */ incarnation_ = 0;
  /** @internal */ subscriptions_: readonly Subscription[];
  /** @internal Per document, the transactions whose writes this peer holds: the causal past of its next write. */
  readonly held = new Map<DocKey, TxId[]>();
  /**
   * @internal Workload transactions whose blocks have finished and whose commits may still be
   * queued (the store groups commits while a write is in flight), oldest first, with the keys
   * each wrote: a local commit event is matched to one by its keys and stamps.
   */
  readonly committing: { readonly token: string; readonly written: ReadonlySet<string> }[] = [];
  /** @internal */ transactions = 0;
  /** @internal Last `caught-up` position received on each open connection. */
  readonly caughtUp = new Map<Connection, number>();
  /** @internal Live-query results waiting for the commit that caused them. */
  readonly pendingObservations: { collection: string; docs: JsonObject[] }[] = [];
  /** @internal */ readonly stops: (() => void)[] = [];

  /** @internal Created by {@link Network.addPeer}. */
  constructor(network: Network, name: string, options: PeerOptions, storage: PeerStorage) {
    this.network = network;
    this.name = name;
    this.id = name as PeerId;
    this.atomicity = options.atomicity ?? 'eventual';
    this.role = options.role;
    this.windowBytes = options.windowBytes;
    this.syncOptions = options.sync;
    this.subscriptions_ = options.subscriptions ?? [];
    this.storage = storage;
  }

  /** The store of the current incarnation. Throws {@link PeerDownError} while the peer is down. */
  get store(): Store {
    if (!this.up_ || !this.store_) throw new PeerDownError(this.name);
    return this.store_;
  }

  /** The sync peer of the current incarnation. Throws {@link PeerDownError} while the peer is down. */
  get sync(): SyncPeer {
    if (!this.up_ || !this.sync_) throw new PeerDownError(this.name);
    return this.sync_;
  }

  /** False between `crash()` and `restart()`. */
  get up(): boolean {
    return this.up_;
  }

  /** 1 for the first life, +1 per restart. */
  get incarnation(): number {
    return this.incarnation_;
  }

  get subscriptions(): readonly Subscription[] {
    return this.subscriptions_;
  }

  /** The mode the sync peer actually runs: `atomic` only if it implements it. */
  get effectiveAtomicity(): Atomicity {
    const mode = (this.sync_ as { atomicity?: unknown } | undefined)?.atomicity;
    return mode === 'atomic' ? 'atomic' : 'eventual';
  }
}

/** @internal A link's state. */
interface Link {
  readonly dialer: SimPeer;
  readonly listener: SimPeer;
  readonly latency: Latency;
  up: boolean;
  connection: SimConnection | undefined;
  dial: Dialer | undefined;
  attempt: number;
  retry: ReturnType<Scheduler['schedule']> | undefined;
}

/**
 * N Atoll peers in one process over a simulated, deterministic network. Each peer is a real
 * `Store` (in memory or SQLite) with a real `SyncPeer`; links carry its messages through a
 * discrete-event queue in virtual time, delivered in an order drawn from the seed. Faults are
 * those a real deployment sees: latency and reordering across links, connections that drop,
 * partitions, crashes and restarts (see docs/testing.md). Every commit, delivery and
 * live-query result goes into {@link Network.history} for the checkers.
 *
 * Create one with {@link createNetwork}.
 */
export class Network {
  readonly seed: Seed;
  readonly history: History;
  readonly #scheduler: Scheduler;
  readonly #wire: SimWire;
  readonly #latencies: Random;
  readonly #drains: Random;
  readonly #backoff: Random;
  readonly #stores: Random;
  readonly #storageKind: StorageKind;
  readonly #defaultLatency: Latency;
  readonly #interleave: number;
  readonly #reconnectMin: number;
  readonly #reconnectMax: number;
  readonly #maxSteps: number;
  readonly #peers = new Map<string, SimPeer>();
  readonly #links: Link[] = [];
  readonly #watched: string[] = [];
  /** Resolves the `txId`s of workload transactions as they commit. */
  readonly #pendingCommits = new Map<string, (txId: TxId) => void>();
  #directory: string | undefined;
  readonly #ownsDirectory: boolean;
  #awaiting: Promise<unknown> | undefined;
  #closed = false;
  #steps = 0;

  /** @internal Use {@link createNetwork}. */
  constructor(options: NetworkOptions) {
    const root = new Random(options.seed);
    this.seed = options.seed;
    this.#scheduler = new Scheduler(root.fork('ties'));
    this.history = new History(() => this.#scheduler.now);
    this.#latencies = root.fork('latency');
    this.#drains = root.fork('interleave');
    this.#backoff = root.fork('backoff');
    this.#stores = root.fork('stores');
    this.#storageKind = options.storage ?? 'memory';
    this.#defaultLatency = checkLatency(options.latency ?? DEFAULT_LATENCY);
    this.#interleave = options.interleave ?? 0.3;
    if (!(this.#interleave >= 0 && this.#interleave <= 1)) throw new ValidationError(`interleave must be in [0, 1], got ${this.#interleave}`, 'interleave');
    this.#reconnectMin = options.reconnect?.minMs ?? 20;
    this.#reconnectMax = options.reconnect?.maxMs ?? 1_000;
    this.#maxSteps = options.maxSteps ?? 200_000;
    this.#ownsDirectory = options.directory === undefined;
    this.#directory = options.directory;
    for (const c of options.collections ?? []) this.#watched.push(c);
    this.#wire = {
      scheduler: this.#scheduler,
      handlerFailed: (error, where) => this.#note(undefined, 'error', `${where} threw: ${describeError(error)}`),
    };
  }

  /** Virtual time in milliseconds since the network was created. */
  get now(): number {
    return this.#scheduler.now;
  }

  /** Events run so far. */
  get steps(): number {
    return this.#steps;
  }

  /** Every peer, in the order they were added. */
  get peers(): readonly SimPeer[] {
    return [...this.#peers.values()];
  }

  /** Every link. */
  get links(): readonly LinkInfo[] {
    return this.#links.map((l) => ({
      dialer: l.dialer.name,
      listener: l.listener.name,
      latency: l.latency,
      up: l.up,
      connected: l.dial?.status === 'open',
    }));
  }

  /** Collections every peer observes (probe live queries recorded in the history). */
  get watched(): readonly string[] {
    return this.#watched;
  }

  /** The peer named `name`. */
  peer(name: string | SimPeer): SimPeer {
    if (typeof name !== 'string') return name;
    const peer = this.#peers.get(name);
    if (!peer) throw new ValidationError(`no peer named ${JSON.stringify(name)} in this network`, 'peer');
    return peer;
  }

  /**
   * Adds a peer and starts it: opens its store, its sync peer and its probe live queries.
   * Its name is its peer id.
   *
   * @example
   * const relay = await net.addPeer('relay', { subscriptions: [{ id: 'all', collection: '*' }], role: 'relay' });
   */
  async addPeer(name: string, options: PeerOptions = {}): Promise<SimPeer> {
    this.#checkOpen();
    if (!PeerIdSchema.safeParse(name).success) throw new ValidationError(`invalid peer name ${JSON.stringify(name)}: use 1-128 characters`, 'name');
    if (this.#peers.has(name)) throw new ValidationError(`a peer named ${JSON.stringify(name)} already exists`, 'name');
    let storage: PeerStorage;
    if (this.#storageKind === 'sqlite') {
      this.#directory ??= tempDirectory();
      storage = PeerStorage.sqlite(join(this.#directory, `${encodeURIComponent(name)}.db`));
    } else {
      storage = PeerStorage.memory();
    }
    const peer = new SimPeer(this, name, options, storage);
    this.#peers.set(name, peer);
    this.#record({ type: 'subscriptions', peer: name, subscriptions: peer.subscriptions_ });
    await this.#start(peer);
    return peer;
  }

  /**
   * Links two peers: `dialer` dials `listener` and keeps the connection up, reconnecting with
   * (virtual) backoff after it drops. Messages take `latency` each way.
   */
  link(dialer: string | SimPeer, listener: string | SimPeer, options: LinkOptions = {}): void {
    this.#checkOpen();
    const a = this.peer(dialer);
    const b = this.peer(listener);
    if (a === b) throw new ValidationError('a peer cannot link to itself', 'listener');
    if (this.#links.some((l) => (l.dialer === a && l.listener === b) || (l.dialer === b && l.listener === a))) {
      throw new ValidationError(`${a.name} and ${b.name} are already linked`, 'listener');
    }
    const link: Link = { dialer: a, listener: b, latency: checkLatency(options.latency ?? this.#defaultLatency), up: true, connection: undefined, dial: undefined, attempt: 0, retry: undefined };
    this.#links.push(link);
    this.#record({ type: 'fault', fault: 'link', peers: [a.name, b.name], detail: `${a.name}→${b.name} latency ${JSON.stringify(link.latency)}` });
    if (a.up_) this.#startDialing(link);
  }

  /** Adds collections every peer observes from now on (and after restarts). */
  watch(...collections: string[]): void {
    for (const collection of collections) {
      if (this.#watched.includes(collection)) continue;
      this.#watched.push(collection);
      for (const peer of this.#peers.values()) if (peer.up_) this.#observe(peer, collection);
    }
  }

  /** Replaces a peer's subscriptions (a wider set is back-filled by its peers). */
  setSubscriptions(peer: string | SimPeer, subscriptions: readonly Subscription[]): void {
    const p = this.peer(peer);
    p.sync.setSubscriptions(subscriptions);
    p.subscriptions_ = p.sync.subscriptions;
    this.#record({ type: 'subscriptions', peer: p.name, subscriptions: p.subscriptions_ });
  }

  /**
   * Splits the network: links between peers of different groups go down (their connections
   * are lost, in-flight messages with them) and stay down until {@link Network.heal}. Peers in
   * no group form one more group together.
   */
  partition(groups: readonly (readonly (string | SimPeer)[])[]): void {
    const groupOf = new Map<SimPeer, number>();
    groups.forEach((group, i) => {
      for (const p of group) groupOf.set(this.peer(p), i);
    });
    const cut: string[] = [];
    for (const link of this.#links) {
      const same = (groupOf.get(link.dialer) ?? -1) === (groupOf.get(link.listener) ?? -1);
      if (same) continue;
      link.up = false;
      this.#scheduler.cancel(link.retry);
      link.retry = undefined;
      link.connection?.abort();
      cut.push(`${link.dialer.name}→${link.listener.name}`);
    }
    this.#record({
      type: 'fault',
      fault: 'partition',
      peers: [],
      detail: `${groups.map((g) => `[${g.map((p) => this.peer(p).name).join(' ')}]`).join(' ')} cut ${cut.join(', ') || 'nothing'}`,
    });
  }

  /** Ends every partition: all links are up again and their dialers reconnect (after backoff). */
  heal(): void {
    const healed: string[] = [];
    for (const link of this.#links) {
      if (link.up) continue;
      link.up = true;
      healed.push(`${link.dialer.name}→${link.listener.name}`);
      this.#wake(link);
    }
    this.#record({ type: 'fault', fault: 'heal', peers: [], detail: healed.join(', ') || 'nothing' });
  }

  /**
   * Loses the current connection between two linked peers — how message loss shows on an
   * ordered, reliable transport: what was in flight is gone, both sides see a 1006 close, and
   * the dialer reconnects and resumes from its cursor. The link itself stays up.
   */
  drop(a: string | SimPeer, b: string | SimPeer): void {
    const link = this.#linkBetween(this.peer(a), this.peer(b));
    const had = link.connection !== undefined && !link.connection.closed;
    link.connection?.abort();
    this.#record({ type: 'fault', fault: 'drop', peers: [link.dialer.name, link.listener.name], detail: `${link.dialer.name}→${link.listener.name}${had ? '' : ' (no connection)'}` });
  }

  /**
   * Crashes a peer: its process dies without a clean close. Its storage stops answering at
   * once (a commit in flight is durable or not, but is never acknowledged), its connections
   * are lost (1006 on the other side), its dialers stop, and its in-memory state is abandoned.
   */
  crash(peer: string | SimPeer): void {
    const p = this.peer(peer);
    if (!p.up_) return;
    p.storage.crash();
    p.up_ = false;
    for (const stop of p.stops.splice(0)) stop();
    p.pendingObservations.length = 0;
    p.committing.length = 0;
    p.caughtUp.clear();
    for (const link of this.#links) {
      if (link.dialer !== p && link.listener !== p) continue;
      link.connection?.abort();
      if (link.dialer === p) {
        this.#scheduler.cancel(link.retry);
        link.retry = undefined;
        link.dial?.stop();
        link.dial = undefined;
      }
    }
    this.#record({ type: 'fault', fault: 'crash', peers: [p.name], detail: `${p.name} (incarnation ${p.incarnation_})` });
  }

  /**
   * Restarts a crashed peer: reopens its store from its storage (the same memory data or SQLite
   * file), starts a new sync peer with the same subscriptions, and reconnects its links.
   */
  async restart(peer: string | SimPeer): Promise<SimPeer> {
    const p = this.peer(peer);
    if (p.up_) return p;
    this.#record({ type: 'fault', fault: 'restart', peers: [p.name], detail: `${p.name} (incarnation ${p.incarnation_ + 1})` });
    await this.#start(p);
    return p;
  }

  /**
   * Runs a workload transaction on a peer: every document it writes is stamped with a token
   * unique in the network (`_tx`), and the history records what it wrote and how it ended.
   * Resolves like `store.transaction()`; never settles if the peer crashes first.
   *
   * @example
   * await net.transact('a', async (tx) => {
   *   await tx.update('accounts', 'ann', (d) => { d.balance = (d.balance as number) - 5; });
   *   await tx.update('accounts', 'bob', (d) => { d.balance = (d.balance as number) + 5; });
   * }, { hint: 'transfer' });
   */
  async transact<T>(peer: string | SimPeer, fn: (tx: StampedTransaction) => Promise<T> | T, options: { readonly hint?: string } = {}): Promise<TransactResult<T>> {
    const p = this.peer(peer);
    const store = p.store;
    const token = `${p.name}#${++p.transactions}`;
    let txId: TxId | undefined;
    const committed = (id: TxId) => (txId = id);
    const written = new Set<string>();
    const pending = { token, written };
    const incarnation = p.incarnation_;
    // A transaction still settling when its peer crashed tells the application nothing (the
    // process is gone): with group commit its write may even land — durable — after its peer's
    // commit listener died. Record no outcome and never settle, as a dead process would.
    const crashed = () => !p.up_ || p.incarnation_ !== incarnation;
    try {
      const value = await store.transaction(async (tx) => {
        const result = await fn(stampTransaction(tx, token, written));
        // Writers are exclusive and commit in the order their blocks finish, but the commit
        // event comes once the write is durable, possibly after later blocks finished too.
        p.committing.push(pending);
        this.#pendingCommits.set(token, committed);
        return result;
      }, options.hint === undefined ? {} : { hint: options.hint });
      if (crashed()) return await new Promise<never>(() => {});
      this.#record({ type: 'ack', peer: p.name, token, outcome: txId ? 'committed' : 'no-op', txId, error: undefined });
      return { token, txId, value };
    } catch (err) {
      if (crashed()) return await new Promise<never>(() => {});
      this.#record({ type: 'ack', peer: p.name, token, outcome: 'failed', txId, error: describeError(err) });
      throw err;
    } finally {
      const at = p.committing.indexOf(pending);
      if (at >= 0) p.committing.splice(at, 1);
      this.#pendingCommits.delete(token);
    }
  }

  /**
   * Schedules an action at `delayMs` of virtual time from now. The network runs it between
   * events; if it returns a promise, the network waits for it before the next event (virtual
   * time does not move meanwhile).
   */
  schedule(delayMs: number, label: string, action: () => void | Promise<unknown>): void {
    this.#scheduler.schedule(this.now + delayMs, label, () => {
      const result = action();
      if (result) this.#awaiting = result;
    });
  }

  /** Runs the next event, if any; resolves whether there was one. */
  async step(): Promise<boolean> {
    this.#checkOpen();
    const next = this.#scheduler.pop();
    if (!next) return false;
    this.#steps++;
    next.run();
    const awaiting = this.#awaiting;
    this.#awaiting = undefined;
    if (awaiting) await awaiting;
    await this.#drain();
    return true;
  }

  /** Runs every event due within the next `ms` of virtual time, then moves the clock there. */
  async run(ms: number): Promise<void> {
    const until = this.now + ms;
    for (let next = this.#scheduler.peek(); next && next.time <= until; next = this.#scheduler.peek()) await this.step();
    this.#scheduler.advanceTo(until);
    await this.#drain(true);
  }

  /**
   * Runs until nothing is left to do — no message in flight, no reconnection or action
   * scheduled, every peer idle — and checks that every link between live peers is connected
   * and every peer has caught up with each connected peer's log. Throws {@link SettleError},
   * naming what is still going on, if that takes more than `maxSteps` events or ends with a
   * connection down or a peer behind.
   */
  async settle(options: { readonly maxSteps?: number } = {}): Promise<SettleReport> {
    const maxSteps = options.maxSteps ?? this.#maxSteps;
    let steps = 0;
    for (;;) {
      while (this.#scheduler.pending) {
        if (steps >= maxSteps) {
          throw new SettleError(
            `the network did not settle within ${maxSteps} events (virtual time ${this.now.toFixed(1)} ms): peers keep exchanging messages or reconnecting.\n` +
              `next events:\n  ${this.#scheduler.describe().join('\n  ')}\nlast history records:\n${this.history.tail(20)}`,
          );
        }
        await this.step();
        steps++;
      }
      // A few full turns of the event loop: work a turn starts (a store that yields to I/O
      // before a write, say) may schedule more events only in the next one.
      for (let turn = 0; turn < SETTLE_TURNS && !this.#scheduler.pending; turn++) await this.#drain(true);
      if (!this.#scheduler.pending) break;
    }
    const problems = this.#unsettled();
    if (problems.length > 0) {
      throw new SettleError(`the network went quiet at ${this.now.toFixed(1)} ms without converging:\n  ${problems.join('\n  ')}\nlast history records:\n${this.history.tail(20)}`);
    }
    return { steps, time: this.now };
  }

  /** Stops every peer cleanly (sync peers, then stores) and removes temporary files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const link of this.#links) {
      this.#scheduler.cancel(link.retry);
      link.dial?.stop();
    }
    for (const peer of this.#peers.values()) {
      if (!peer.up_) continue;
      for (const stop of peer.stops.splice(0)) stop();
      peer.up_ = false;
      // A clean close: each connection closes itself at once, without waiting for the network.
      await withTimeout(peer.sync_?.close(), 2_000);
      await withTimeout(peer.store_?.close(), 2_000);
    }
    for (const peer of this.#peers.values()) peer.storage.crash();
    if (this.#directory && this.#ownsDirectory) removeDirectory(this.#directory);
  }

  /** `await using net = createNetwork(…)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- internals ---------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#closed) throw new AtollError('the network is closed');
  }

  #record(record: NewRecord): void {
    this.history.record(record);
  }

  #note(peer: string | undefined, level: 'info' | 'warn' | 'error', message: string): void {
    this.#record({ type: 'note', peer, level, message });
  }

  /** Lets pending work run: fully (a macrotask turn), or — to interleave — only a few microtask turns. */
  async #drain(full = false): Promise<void> {
    if (!full && this.#interleave > 0 && this.#drains.chance(this.#interleave)) {
      const turns = this.#drains.int(1, 24);
      for (let i = 0; i < turns; i++) await Promise.resolve();
      return;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Starts an incarnation of a peer: store, sync peer, probes, dialers. */
  async #start(peer: SimPeer): Promise<void> {
    const incarnation = peer.incarnation_ + 1;
    const logger = this.#logger(peer, incarnation);
    const storage = await peer.storage.open();
    const store = await openSeededStore(this.#stores.fork(`${peer.name}/${incarnation}`), {
      storage,
      peerId: peer.id,
      logger,
      transactionDurationBeforeLoggingMs: Infinity,
      lockWatchdogMs: 0,
    });
    const options: SyncPeerOptions & { atomicity?: Atomicity } = {
      ...peer.syncOptions,
      store,
      subscriptions: peer.subscriptions_,
      logger,
      keepAliveMs: FOREVER_MS,
      idleTimeoutMs: FOREVER_MS,
      handshakeTimeoutMs: FOREVER_MS,
      atomicity: peer.atomicity,
      ...(peer.role === undefined ? {} : { role: peer.role }),
      ...(peer.windowBytes === undefined ? {} : { windowBytes: peer.windowBytes }),
    };
    const sync = new SyncPeer(options);
    peer.store_ = store;
    peer.sync_ = sync;
    peer.incarnation_ = incarnation;
    peer.up_ = true;
    peer.caughtUp.clear();
    await this.#rebuildHeld(peer, store);
    if (peer.atomicity !== peer.effectiveAtomicity) {
      this.#note(peer.name, 'warn', `atomicity '${peer.atomicity}' requested, but this @atoll/sync does not implement it: the peer runs '${peer.effectiveAtomicity}'`);
    }
    this.#attach(peer, store, sync, incarnation);
    for (const collection of this.#watched) this.#observe(peer, collection);
    for (const link of this.#links) {
      if (link.dialer === peer) this.#startDialing(link);
      else if (link.listener === peer) this.#wake(link);
    }
  }

  #logger(peer: SimPeer, incarnation: number): Logger {
    const alive = () => peer.up_ && peer.incarnation_ === incarnation;
    const log = (level: 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
      if (!alive()) return;
      const error = fields?.['error'];
      this.#note(peer.name, level, error === undefined ? message : `${message}: ${describeError(error)}`);
    };
    return { debug: () => {}, info: () => {}, warn: log('warn'), error: log('error') };
  }

  /** The causal-past index of a restarted peer, rebuilt from its durable log. */
  async #rebuildHeld(peer: SimPeer, store: Store): Promise<void> {
    peer.held.clear();
    for (let after = 0; ; ) {
      const batch = await store.readLog(after, 1_000);
      if (batch.length === 0) break;
      for (const entry of batch) {
        for (const part of entry.parts) addHeld(peer.held, part.key, entry.id);
        after = entry.pos;
      }
    }
  }

  /** Records what a peer's store and sync peer do, for as long as this incarnation lives. */
  #attach(peer: SimPeer, store: Store, sync: SyncPeer, incarnation: number): void {
    const alive = () => peer.up_ && peer.incarnation_ === incarnation;
    const remoteOf = (c: Connection) => c.remote?.peerId ?? '?';
    peer.stops.push(
      store.onCommit((event) => {
        if (alive()) this.#onCommit(peer, store, event);
      }),
      sync.events.on('open', ({ connection }) => {
        if (alive()) this.#record({ type: 'connection', peer: peer.name, remote: remoteOf(connection), event: 'open', code: undefined });
      }),
      sync.events.on('close', ({ connection, info }) => {
        peer.caughtUp.delete(connection);
        if (alive() && connection.remote) this.#record({ type: 'connection', peer: peer.name, remote: remoteOf(connection), event: 'close', code: info.code });
      }),
      sync.events.on('delivery-sent', ({ connection, txId }) => {
        if (alive()) this.#record({ type: 'delivery', peer: peer.name, remote: remoteOf(connection), direction: 'sent', txId, status: undefined });
      }),
      sync.events.on('delivery-received', ({ connection, txId, status }) => {
        if (alive()) this.#record({ type: 'delivery', peer: peer.name, remote: remoteOf(connection), direction: 'received', txId, status });
      }),
      sync.events.on('caught-up', ({ connection, pos }) => {
        if (alive()) peer.caughtUp.set(connection, pos);
      }),
      sync.events.on('error', ({ connection, direction, kind, message }) => {
        if (alive()) this.#note(peer.name, 'warn', `${direction === 'sent' ? 'sent to' : 'received from'} ${remoteOf(connection)}: ${kind}: ${message}`);
      }),
      sync.events.on('unavailable', ({ connection, txId, keys }) => {
        if (alive()) this.#note(peer.name, 'info', `${remoteOf(connection)} has none of ${txId} [${keys.join(', ')}]`);
      }),
    );
    // Reported by sync peers that detect torn transactions (DESIGN §6); absent from older ones.
    const events = sync.events as unknown as { on(name: string, listener: (event: unknown) => void): () => void };
    peer.stops.push(
      events.on('torn', (event) => {
        const torn = event as { txId?: string; missing?: readonly { key: string; reason: string }[] };
        if (alive()) this.#note(peer.name, 'info', `torn ${String(torn.txId)}: missing ${(torn.missing ?? []).map((m) => `${m.key} (${m.reason})`).join(', ')}`);
      }),
    );
  }

  #onCommit(peer: SimPeer, store: Store, event: CommitEvent): void {
    for (const o of peer.pendingObservations.splice(0)) {
      this.#record({ type: 'observe', peer: peer.name, incarnation: peer.incarnation_, collection: o.collection, commit: event.position, docs: o.docs });
    }
    const entry = event.entry;
    const parts = entry.parts.map((p) => p.key);
    this.#record({ type: 'commit', peer: peer.name, incarnation: peer.incarnation_, source: event.source, position: event.position, txId: entry.id, parts, manifest: entry.manifest });
    if (event.source === 'local') {
      const token = this.#committingToken(peer, store, entry);
      if (token !== undefined) {
        const writes: TxWrite[] = entry.parts.map((part) => {
          const { collection, id } = parseDocKey(part.key);
          const value = store.selectionValue(collection, id);
          return { key: part.key, deleted: part.deleted === true, value: value ? toJson(value) : null, past: [...(peer.held.get(part.key) ?? [])] };
        });
        const unstamped = writes.find((w) => !w.deleted && w.value?.[STAMP_FIELD] !== token);
        if (unstamped) {
          this.#note(peer.name, 'warn', `commit ${entry.id} was expected to be workload transaction ${token} but ${unstamped.key} is not stamped with it: not attributed`);
        } else {
          this.#record({ type: 'tx', peer: peer.name, token, txId: entry.id, hint: entry.hint, writes });
          this.#pendingCommits.get(token)?.(entry.id);
        }
      }
    }
    for (const key of parts) addHeld(peer.held, key, entry.id);
  }

  /**
   * The workload transaction a local commit belongs to: the oldest finished one that wrote every
   * document of the commit, stamping each one it did not delete with its token. Taken off the
   * list. `undefined` for a commit that is no workload transaction's.
   */
  #committingToken(peer: SimPeer, store: Store, entry: LogEntry): string | undefined {
    const at = peer.committing.findIndex(({ token, written }) =>
      entry.parts.every((part) => {
        if (!written.has(part.key)) return false;
        if (part.deleted === true) return true;
        const { collection, id } = parseDocKey(part.key);
        return store.selectionValue(collection, id)?.[STAMP_FIELD] === token;
      }),
    );
    if (at < 0) return undefined;
    const [found] = peer.committing.splice(at, 1);
    return found?.token;
  }

  /** Registers the probe live query of one collection on a peer. */
  #observe(peer: SimPeer, collection: string): void {
    const store = peer.store;
    const incarnation = peer.incarnation_;
    const stop = store.observe({ collection }, (docs) => {
      if (peer.up_ && peer.incarnation_ === incarnation) peer.pendingObservations.push({ collection, docs: docs.map(toJson) });
    });
    peer.stops.push(stop);
    // The first result comes synchronously, before any commit.
    for (const o of peer.pendingObservations.splice(0)) {
      this.#record({ type: 'observe', peer: peer.name, incarnation, collection: o.collection, commit: null, docs: o.docs });
    }
  }

  #linkBetween(a: SimPeer, b: SimPeer): Link {
    const link = this.#links.find((l) => (l.dialer === a && l.listener === b) || (l.dialer === b && l.listener === a));
    if (!link) throw new ValidationError(`${a.name} and ${b.name} are not linked`, 'peer');
    return link;
  }

  #startDialing(link: Link): void {
    const dialer = link.dialer;
    const incarnation = dialer.incarnation_;
    link.attempt = 0;
    const dial = dialer.sync.dial(() => this.#open(link, incarnation), { minDelayMs: FOREVER_MS, maxDelayMs: FOREVER_MS, random: () => 0.5 });
    link.dial = dial;
    dial.onStatus((status) => {
      if (link.dial !== dial) return;
      if (status === 'open') link.attempt = 0;
      if (status === 'waiting') this.#scheduleRetry(link);
      if (status === 'failed') this.#note(dialer.name, 'error', `stopped dialing ${link.listener.name}: ${dial.lastError?.message ?? 'refused'}`);
    });
  }

  /** What the dialer's `open` does: a new simulated connection, or a refusal if the other side is unreachable. */
  async #open(link: Link, incarnation: number): Promise<SimConnection['dialerEnd']> {
    const { dialer, listener } = link;
    if (!dialer.up_ || dialer.incarnation_ !== incarnation) throw new AtollError(`${dialer.name} is down`);
    if (!link.up) throw new AtollError(`${listener.name} is unreachable from ${dialer.name} (partition)`);
    if (!listener.up_) throw new AtollError(`${listener.name} refused the connection (down)`);
    const connection = new SimConnection(this.#wire, {
      label: `${dialer.name}→${listener.name}`,
      delayForward: () => this.#delay(link.latency),
      delayBackward: () => this.#delay(link.latency),
    });
    link.connection = connection;
    listener.sync.accept(connection.listenerEnd);
    return connection.dialerEnd;
  }

  #delay(latency: Latency): number {
    return typeof latency === 'number' ? latency : this.#latencies.float(latency[0], latency[1]);
  }

  #scheduleRetry(link: Link): void {
    if (link.retry && !link.retry.cancelled) return;
    if (!link.up || !link.dialer.up_ || !link.listener.up_) return; // woken by heal() or restart()
    const delay = Math.min(this.#reconnectMax, this.#reconnectMin * 2 ** link.attempt) * (0.5 + this.#backoff.next() / 2);
    link.attempt++;
    link.retry = this.#scheduler.schedule(this.now + delay, `reconnect ${link.dialer.name}→${link.listener.name}`, () => {
      link.retry = undefined;
      if (link.dial?.status === 'waiting') link.dial.retryNow();
    });
  }

  #wake(link: Link): void {
    if (link.dial?.status === 'waiting') this.#scheduleRetry(link);
  }

  /** What keeps a quiet network from being settled. */
  #unsettled(): string[] {
    const problems: string[] = [];
    for (const link of this.#links) {
      if (!link.up || !link.dialer.up_ || !link.listener.up_) continue;
      const status = link.dial?.status ?? 'not dialing';
      if (status !== 'open') problems.push(`${link.dialer.name}→${link.listener.name} is up but not connected (dialer ${status}${link.dial?.lastError ? `: ${link.dial.lastError.message}` : ''})`);
    }
    for (const peer of this.#peers.values()) {
      if (!peer.up_) continue;
      for (const connection of peer.sync.connections) {
        const remote = connection.remote ? this.#peers.get(connection.remote.peerId) : undefined;
        if (!connection.isOpen || !remote?.up_) continue;
        const pos = peer.caughtUp.get(connection);
        if (pos === undefined || pos < remote.store.position) {
          problems.push(`${peer.name} has not caught up with ${remote.name}: last caught-up ${pos ?? 'never'}, ${remote.name}'s log is at ${remote.store.position}`);
        }
      }
    }
    return problems;
  }
}

/**
 * Creates a simulated network. Add peers, link them, run workloads or your own transactions,
 * inject faults, `settle()`, then check the history.
 *
 * @example
 * const net = createNetwork({ seed: 42, collections: ['todos'] });
 * const relay = await net.addPeer('relay', { subscriptions: [{ id: 'all', collection: '*' }] });
 * const a = await net.addPeer('a', { subscriptions: [{ id: 'todos', collection: 'todos' }] });
 * const b = await net.addPeer('b', { subscriptions: [{ id: 'todos', collection: 'todos' }] });
 * net.link(a, relay, { latency: [5, 30] });
 * net.link(b, relay);
 * await net.transact(a, (tx) => tx.insert('todos', { _id: 't1', title: 'milk' }));
 * await net.settle();
 * console.log((await b.store.get('todos', 't1'))?.title); // 'milk'
 * await net.close();
 */
export function createNetwork(options: NetworkOptions): Network {
  return new Network(options);
}

function addHeld(held: Map<DocKey, TxId[]>, key: DocKey, id: TxId): void {
  let list = held.get(key);
  if (!list) held.set(key, (list = []));
  if (!list.includes(id)) list.push(id);
}

function checkLatency(latency: Latency): Latency {
  const ok = typeof latency === 'number' ? Number.isFinite(latency) && latency >= 0 : Number.isFinite(latency[0]) && Number.isFinite(latency[1]) && latency[0] >= 0 && latency[1] >= latency[0];
  if (!ok) throw new ValidationError(`latency must be a number >= 0 or a [min, max] range, got ${JSON.stringify(latency)}`, 'latency');
  return latency;
}

/** A frozen store document as plain JSON the history can keep. */
export function toJson(doc: object): JsonObject {
  return JSON.parse(JSON.stringify(doc)) as JsonObject;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function withTimeout(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!promise) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
