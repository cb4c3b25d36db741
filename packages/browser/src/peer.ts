import { PeerRole, ValidationError, type Subscription } from '@atoll/protocol';
import { IndexedDbStorageAdapter, type IndexedDbDurability } from '@atoll/storage-indexeddb';
import { Store, consoleLogger, type Logger } from '@atoll/store';
import { SyncPeer, type Atomicity, type DialOptions, type Dialer, type Transport } from '@atoll/sync';
import { connectBrowserWebSocket } from '@atoll/transport-websocket/browser';
import { ProfileChannel } from './channel.js';
import { browserOnline, checkBroadcastChannel, checkIndexedDb, onDocument, onGlobal, webLocks } from './environment.js';
import { LeaderElection } from './leader.js';
import { Refresher } from './refresher.js';
import { statusChanged, type BrowserPeerStatus } from './status.js';
import { webLockWriterLock } from './writer-lock.js';

/** Options of {@link openBrowserPeer}. */
export interface BrowserPeerOptions {
  /**
   * The profile's name: the IndexedDB database (opened under exactly this name), and the prefix
   * of the Web Locks and BroadcastChannel every tab of the profile shares (`atoll:${name}…`).
   * Tabs that open the same name are one peer; a different name is another peer.
   */
  readonly name: string;
  /**
   * The relay's base address, `wss://relay.example.com` (`http:`/`https:` are turned into
   * `ws:`/`wss:`; a relative address is resolved against the page). The leader tab dials
   * `${relay}/sync`. Without it the peer is local only: every tab still shares the data.
   */
  readonly relay?: string | URL;
  /** The token sent to the relay in `hello`. */
  readonly token?: string;
  /**
   * What this profile receives from the relay (the protocol's subscriptions). Every tab should
   * pass the same set: the leader's is the one that counts.
   */
  readonly subscriptions: readonly Subscription[];
  /**
   * `eventual` (default) applies whatever part of a transaction arrives; `atomic` shows a
   * transaction only once every part within the subscriptions is present. See docs/atomicity.md.
   */
  readonly atomicity?: Atomicity;
  /** Where diagnostics go. Default: the console. */
  readonly logger?: Logger;
  /** IndexedDB write durability. Default `relaxed` (see @atoll/storage-indexeddb). */
  readonly durability?: IndexedDbDurability;
  /** Reconnection backoff of the leader's dialer. */
  readonly dial?: DialOptions;
  /** How long one WebSocket connection attempt may take before it counts as failed. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * How the leader reaches the relay, instead of a WebSocket to `relay`: any `Transport` (a
   * `MessagePort` to a worker, an in-memory pair in tests). Called for every attempt.
   */
  readonly connect?: () => Promise<Transport>;
}

/** Called with the status now, then after each change. */
export type StatusListener = (status: BrowserPeerStatus) => void;

interface BrowserPeerInit {
  readonly name: string;
  readonly store: Store;
  readonly sync: SyncPeer;
  readonly locks: LockManager;
  readonly logger: Logger;
  /** Opens a transport to the relay; undefined for a local-only peer. */
  readonly connect: (() => Promise<Transport>) | undefined;
  readonly dial: DialOptions;
}

/**
 * A persistent, multi-tab, syncing Atoll peer in a browser: what {@link openBrowserPeer}
 * returns. Read and write through `store`; `sync` is the replication peer (events, torn and
 * pending transactions); `status` says whether the profile is online and in sync.
 */
export class BrowserPeer {
  /** The profile's name. */
  readonly name: string;
  /**
   * The store, on the profile's IndexedDB database. Writes serialize with every other tab's;
   * live queries fire for other tabs' commits and for what the relay sends.
   */
  readonly store: Store;
  /**
   * The replication peer. Only the leader tab's is connected; in a follower its events stay
   * silent and `torn()`/`pending()` read the state as persisted by the leader when first asked.
   */
  readonly sync: SyncPeer;
  readonly #logger: Logger;
  readonly #connect: (() => Promise<Transport>) | undefined;
  readonly #dialOptions: DialOptions;
  readonly #channel: ProfileChannel;
  readonly #election: LeaderElection;
  readonly #refresher: Refresher;
  readonly #listeners = new Set<StatusListener>();
  readonly #stops: (() => void)[] = [];
  #status: BrowserPeerStatus;
  #notified: BrowserPeerStatus;
  #dialer: Dialer | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link openBrowserPeer}. */
  constructor(init: BrowserPeerInit) {
    this.name = init.name;
    this.store = init.store;
    this.sync = init.sync;
    this.#logger = init.logger;
    this.#connect = init.connect;
    this.#dialOptions = init.dial;
    this.#status = this.#notified = {
      online: browserOnline(),
      role: 'follower',
      connection: init.connect === undefined ? 'no-relay' : 'unknown',
      lastSyncAt: undefined,
      lastError: undefined,
    };
    this.#refresher = new Refresher(this.store, this.#logger, () => this.isLeader);
    this.#channel = new ProfileChannel(
      `atoll:${this.name}`,
      {
        commit: (pos) => this.#refresher.request(pos),
        syncStatus: (msg) => {
          if (this.#status.role === 'follower') this.#setStatus({ connection: msg.connection, lastSyncAt: msg.lastSyncAt, lastError: msg.lastError });
        },
        syncStatusRequest: () => {
          if (this.#status.role === 'leader') this.#announceSyncStatus();
        },
      },
      this.#logger,
    );
    this.#election = new LeaderElection({ lockName: `atoll:${this.name}:leader`, locks: init.locks, logger: this.#logger, onLeader: () => this.#lead() });

    // Announce every commit made here: local ones, and remote ones the leader applied. A
    // 'storage' commit was found in storage, so the tab that made it has announced it.
    this.#stops.push(
      this.store.onCommit((event) => {
        if (event.source !== 'storage') this.#channel.post({ type: 'commit', pos: event.position });
      }),
    );
    const synced = () => this.#setStatus({ lastSyncAt: Date.now() });
    this.#stops.push(
      this.sync.events.on('caught-up', synced),
      this.sync.events.on('message-received', ({ type }) => {
        if (type === 'ack') synced();
      }),
      onGlobal('online', () => {
        this.#setStatus({ online: true });
        this.#dialer?.retryNow();
      }),
      onGlobal('offline', () => {
        this.#setStatus({ online: false });
        // The socket is dead or soon will be; close it now so the status says so and the
        // dialer is waiting (and woken by 'online') rather than trusting a stale connection.
        this.#dialer?.connection?.close(1000, 'the browser went offline');
      }),
      // A page restored from the back/forward cache missed the announcements made meanwhile.
      // (A frozen tab gets its queued messages when it resumes.)
      onGlobal('pageshow', (event) => {
        if ((event as PageTransitionEvent).persisted) this.#refresher.request();
      }),
      // A hidden follower catches up lazily; once visible, it must show the latest state.
      onDocument('visibilitychange', () => {
        if ((globalThis as { document?: Document }).document?.visibilityState === 'visible') this.#refresher.hurry();
      }),
    );
  }

  /** @internal Enters the leader election; resolves once this tab knows whether it leads. */
  async start(): Promise<void> {
    // Commits other tabs made between Store.open and the channel's creation were announced
    // before this tab listened.
    this.#refresher.request();
    await this.#election.start();
    if (this.#status.role === 'follower') this.#channel.post({ type: 'sync-status-request' });
  }

  /** Whether this tab leads the profile: it holds the relay connection. */
  get isLeader(): boolean {
    return this.#election.role === 'leader';
  }

  /** Online or not, leader or follower, the relay connection and the last sync. */
  get status(): BrowserPeerStatus {
    return this.#status;
  }

  /**
   * Calls `listener` with the status now, then after each change (a change of `lastSyncAt`
   * alone is reported at most about once a second). Returns the function that stops it.
   *
   * @example
   * const stop = peer.onStatus((s) => {
   *   badge.textContent = !s.online ? 'offline' : s.connection === 'open' ? 'synced' : s.connection;
   * });
   */
  onStatus(listener: StatusListener): () => void {
    this.#listeners.add(listener);
    this.#call(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Dials the relay now if the leader is waiting between attempts (a "retry now" button). No-op in a follower. */
  reconnect(): void {
    this.#dialer?.retryNow();
  }

  /**
   * Closes the peer: stops syncing, hands the leadership to another tab (which resumes from the
   * persisted cursors), waits for pending transactions and closes the database. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const stop of this.#stops.splice(0)) stop();
    this.#dialer?.stop();
    // The connections save their cursors as they close: the next leader resumes from them.
    await this.sync.close();
    await this.#election.close();
    await this.#refresher.stop();
    await this.store.close();
    this.#channel.close();
    this.#setStatus({ role: 'closed', connection: this.#connect === undefined ? 'no-relay' : 'stopped' });
    this.#listeners.clear();
  }

  /** This tab was elected: catch up with storage, then hold the relay connection. */
  #lead(): void {
    this.#setStatus({ role: 'leader', connection: this.#connect === undefined ? 'no-relay' : 'connecting', lastError: undefined });
    void this.#startSyncing();
  }

  async #startSyncing(): Promise<void> {
    // Commits other tabs made while no tab led (or that this one has not heard of yet) become
    // visible to the sync peer, which ships everything up to the store's position.
    this.#refresher.request();
    this.#refresher.hurry();
    await this.#refresher.idle();
    const connect = this.#connect;
    if (connect === undefined || this.#closing !== undefined) return;
    const dialer = this.sync.dial(connect, this.#dialOptions);
    this.#dialer = dialer;
    const update = () => this.#setStatus({ connection: dialer.status, lastError: dialer.status === 'open' ? undefined : dialer.lastError?.message });
    this.#stops.push(dialer.onStatus(update));
    update();
  }

  #setStatus(patch: Partial<BrowserPeerStatus>): void {
    this.#status = { ...this.#status, ...patch };
    if (!statusChanged(this.#notified, this.#status)) return;
    this.#notified = this.#status;
    if (this.#status.role === 'leader') this.#announceSyncStatus();
    for (const listener of this.#listeners) this.#call(listener);
  }

  #announceSyncStatus(): void {
    const { connection, lastSyncAt, lastError } = this.#status;
    this.#channel.post({ type: 'sync-status', connection, lastSyncAt, lastError });
  }

  #call(listener: StatusListener): void {
    try {
      listener(this.#status);
    } catch (err) {
      this.#logger.error('a status listener threw', { error: err });
    }
  }
}

/**
 * Opens this tab's peer of a browser profile: a store on the profile's IndexedDB database,
 * shared with every other tab that opens the same `name`, with replication attached.
 *
 * - Read-write transactions serialize across the tabs (a Web Lock), each starting from the
 *   latest durable state; every commit is announced on a BroadcastChannel so the other tabs'
 *   live queries fire.
 * - One tab, elected through a Web Lock, dials the relay and ships every tab's commits; when it
 *   closes or crashes another takes over, resuming from the persisted cursor.
 * - Nothing waits for the network: with no relay, or the relay down, or offline, transactions
 *   commit locally and are shipped when the connection is back.
 *
 * Resolves once the store is open and the tab knows whether it leads. Throws
 * `BrowserUnsupportedError` without Web Locks (which need a secure context: https or
 * localhost), BroadcastChannel or IndexedDB; `ValidationError` for bad options.
 *
 * @example
 * import { openBrowserPeer } from '@atoll/browser';
 *
 * const peer = await openBrowserPeer({
 *   name: 'todo-app',
 *   relay: 'wss://relay.example.com',
 *   subscriptions: [{ id: 'todos', collection: 'todos' }],
 * });
 * peer.store.observe({ collection: 'todos', where: { done: false } }, render);
 * await peer.store.insert('todos', { title: 'Buy milk', done: false });
 * peer.onStatus((s) => console.log(s.online, s.role, s.connection));
 */
export async function openBrowserPeer(options: BrowserPeerOptions): Promise<BrowserPeer> {
  const { name } = options;
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw new ValidationError('the profile name must be a string of 1-256 characters', 'name');
  const logger = options.logger ?? consoleLogger;
  const syncUrl = options.relay === undefined ? undefined : relaySyncUrl(options.relay);
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  if (!(connectTimeoutMs > 0)) throw new ValidationError('connectTimeoutMs must be positive', 'connectTimeoutMs');
  const locks = webLocks();
  checkBroadcastChannel();
  checkIndexedDb();

  const storage = await IndexedDbStorageAdapter.open(name, options.durability === undefined ? {} : { durability: options.durability });
  let store: Store;
  try {
    store = await Store.open({ storage, logger, writerLock: webLockWriterLock(`atoll:${name}:write`, { locks, logger }) });
  } catch (err) {
    await storage.close().catch(() => {});
    throw err;
  }
  try {
    const sync = new SyncPeer({
      store,
      subscriptions: options.subscriptions,
      role: PeerRole.Client,
      logger,
      ...(options.atomicity === undefined ? {} : { atomicity: options.atomicity }),
      ...(options.token === undefined ? {} : { token: options.token }),
    });
    const connect = options.connect ?? (syncUrl === undefined ? undefined : () => connectBrowserWebSocket(syncUrl, { signal: AbortSignal.timeout(connectTimeoutMs) }));
    const peer = new BrowserPeer({ name, store, sync, locks, logger, connect, dial: options.dial ?? {} });
    await peer.start();
    return peer;
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
}

/**
 * The WebSocket address a relay's peers dial: `${relay}/sync`, with `http(s):` turned into
 * `ws(s):` and a relative address resolved against the page.
 *
 * @example
 * relaySyncUrl('https://relay.example.com'); // 'wss://relay.example.com/sync'
 */
export function relaySyncUrl(relay: string | URL): string {
  let url: URL;
  try {
    url = new URL(String(relay), (globalThis as { location?: { href: string } }).location?.href);
  } catch (err) {
    throw new ValidationError(`invalid relay address ${JSON.stringify(String(relay))}`, 'relay', { cause: err });
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new ValidationError(`the relay address must be ws:, wss:, http: or https:, not ${url.protocol}`, 'relay');
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/sync`;
  url.hash = '';
  return url.href;
}
