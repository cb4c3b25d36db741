import {
  parseChangeset,
  PeerIdSchema,
  ValidationError,
  docKey,
  parseDocKey,
  randomPeerId,
  txId,
  type Changeset,
  type ChangesetPart,
  type DocKey,
  type JsonObject,
  type PeerId,
  type Query,
  type TxId,
} from '@atoll/protocol';
import { AutomergeDoc, decodeChangeMeta, sameSet, valueAfterRootOps, type ChangeMeta } from './document/automerge.js';
import { makeDoc, valueOf, type Doc } from './document/json.js';
import { CommitFailedError, InvalidChangesetError, StoreClosedError, StoreError, TransactionDeadlockError } from './errors.js';
import { consoleLogger, type Logger } from './logger.js';
import { LiveQuery, type ObserveCallback } from './query/live.js';
import { prepareQuery, runQuery } from './query/run.js';
import { CommittedState, type DocState } from './state/committed.js';
import { BatchBuilder, TipState } from './state/pending.js';
import { decode, encode, keys, type DocRecord, type LogEntry, type LogPart } from './state/records.js';
import { MemoryStorageAdapter } from './storage/memory.js';
import type { StorageAdapter } from './storage/adapter.js';
import { currentTransaction, runInTransaction, type TxContext } from './transaction/context.js';
import { WriterQueue, type WriterLock } from './transaction/lock.js';
import type { Pending } from './transaction/scope.js';
import { TransactionTracer } from './transaction/tracing.js';
import { TxImpl, runBlock, type DocInput, type Draft, type Transaction, type TransactionOptions } from './transaction/transaction.js';

/** Options of {@link Store.open}. */
export interface StoreOptions {
  /** Where the store persists. Default: a new {@link MemoryStorageAdapter}. */
  readonly storage?: StorageAdapter;
  /**
   * The peer id to give storage that has none yet (default: random). The id is stored, so later
   * opens need not pass it; passing a different one is a `StoreError`, because a peer's
   * transaction ids (`peerId:seq`) must never repeat. Do not reuse a peer id on fresh storage.
   */
  readonly peerId?: string;
  /** Where diagnostics go. Default: {@link consoleLogger}; tests usually pass {@link silentLogger}. */
  readonly logger?: Logger;
  /**
   * A transaction still running after this long is logged with its hint, so a slow block that
   * holds up every writer is visible. Default 10 000 ms; `Infinity` turns it off.
   */
  readonly transactionDurationBeforeLoggingMs?: number;
  /** …and again at this interval, one level louder each time (debug, info, warn, error). Default 5 000 ms. */
  readonly transactionTraceIntervalMs?: number;
  /**
   * A writer waiting this long for the write lock is reported at `warn`, naming the holder —
   * where the runtime cannot detect a deadlock itself (browsers), that is how one shows.
   * Default 10 000 ms; `Infinity` or 0 turns it off.
   */
  readonly lockWatchdogMs?: number;
  /**
   * A lock shared with other store instances on the same storage (the tabs of a browser
   * profile). With one, every writer first takes it and catches up with what the others
   * committed to storage. Instances that share a storage must share one: without it their log
   * positions and transaction ids collide.
   */
  readonly writerLock?: WriterLock;
  /**
   * How many documents keep their Automerge state in memory (least recently used first out;
   * reloaded from storage when needed). Bounds memory; current JSON values are always in memory.
   * Default 1 000.
   */
  readonly automergeCacheSize?: number;
}

/** Announced after every commit: local, applied from a peer, or found in shared storage. */
export interface CommitEvent {
  /** The log position of the commit. */
  readonly position: number;
  /** The log entry written for the commit; `entry.id` is the replicated transaction id. */
  readonly entry: LogEntry;
  /**
   * The changeset with its bytes when the store has them at hand: every part for a local
   * commit, the parts applied for a remote one; `undefined` for a commit found in storage.
   */
  readonly changeset: Changeset | undefined;
  /**
   * `local`: a transaction of this store; `remote`: {@link Store.applyChangeset}; `storage`:
   * another store instance's commit on the same storage, picked up by a catch-up or `refresh()`.
   * Replication ships `local` and `remote` commits; a `storage` one was already announced by the
   * instance that made it.
   */
  readonly source: 'local' | 'remote' | 'storage';
  /** Keys of the documents the commit changed. */
  readonly keys: readonly DocKey[];
  /**
   * The values those documents had before the commit (`undefined`: absent or deleted), where
   * the store knew them (not for commits found in shared storage). Replication uses them to
   * ship the change that makes a document leave a subscription.
   */
  readonly previous: ReadonlyMap<DocKey, Doc | undefined>;
}

/** The outcome of {@link Store.applyChangeset}. */
export interface ApplyResult {
  /**
   * `applied`: every part is now held; `partial`: some parts wait for Automerge dependencies;
   * `held`: all new parts wait; `duplicate`: nothing was new.
   */
  readonly status: 'applied' | 'partial' | 'held' | 'duplicate';
  /** The log position of the local commit, when something was applied. */
  readonly position: number | undefined;
  /** Parts applied by this call (held parts it released commit separately and are not listed). */
  readonly applied: readonly DocKey[];
  /** Parts waiting for changes they depend on. */
  readonly held: readonly DocKey[];
  /** Parts the store already had. */
  readonly skipped: readonly DocKey[];
}

/** Options of {@link Store.applyChangeset}. */
export interface ApplyOptions {
  /** Hold every part while any part waits for dependencies, so the transaction shows whole. */
  readonly whole?: boolean;
  /** The peer the changeset came from: recorded in the log so it is never sent back there. */
  readonly from?: PeerId;
  /**
   * Replication state (a cursor) to persist in the same storage transaction as the changes,
   * as {@link Store.writeSyncState} would: the cursor then never runs ahead of, or behind, what
   * the store durably holds, and the apply costs one storage write, not two.
   */
  readonly syncState?: { readonly name: string; readonly value: unknown };
}

/**
 * A changeset (or parts of one) waiting for Automerge dependencies. Held parts are persisted,
 * so they survive a restart, and are retried after every {@link Store.applyChangeset}.
 */
export interface HeldChangeset {
  /** The changeset with only its held parts (header and full manifest kept). */
  readonly changeset: Changeset;
  /** Whether it was applied with `{ whole: true }`: it will become visible in one commit. */
  readonly whole: boolean;
  /** The peer it came from. */
  readonly from?: PeerId;
}

/** Unsubscribes a live query. Also a disposable, so `using stop = store.observe(…)` ends it with its scope. */
export type Unsubscribe = (() => void) & { [Symbol.dispose](): void };

/**
 * A document's chunks are replaced by one saved document once there are more than this many,
 * at a commit where its Automerge state holds no staged changes: saving needs them applied,
 * and applying them costs about as much for 200 as for 20 (it grows with the history), so a
 * document whose changes are staged is compacted when they are given to Automerge anyway
 * (at the latest once 256 wait, see AutomergeDoc.stage) — at most ~320 chunks.
 */
const COMPACT_AFTER_CHUNKS = 64;
/** At most this many commits are queued behind writers that keep coming before a write starts. */
const MAX_GROUP_COMMITS = 1_000;
/** How long a store instance keeps the shared writer lock through a burst of writes before it lets the others in. */
const SHARED_LOCK_TURN_MS = 50;
/** Node's `setImmediate`: a turn of the event loop (I/O included) before a write that may block it. */
const yieldToIo = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
const DEFAULTS = { first: 10_000, every: 5_000, watchdog: 10_000, cache: 1_000 };

/**
 * A local transactional document store. Works with no network; `@atoll/sync` replicates it.
 *
 * @example
 * const store = await Store.open({ storage: new MemoryStorageAdapter() });
 * await store.transaction(async (tx) => {
 *   const from = await tx.get('accounts', 'ann');
 *   if (!from || (from.balance as number) < 10) throw new Error('insufficient funds');
 *   await tx.update('accounts', 'ann', (d) => { d.balance = (d.balance as number) - 10; });
 *   await tx.update('accounts', 'bob', (d) => { d.balance = (d.balance as number) + 10; });
 * }, { hint: 'transfer' });
 */
export class Store {
  readonly #storage: StorageAdapter;
  readonly #logger: Logger;
  readonly #peerId: PeerId;
  readonly #actor: string;
  readonly #committed = new CommittedState();
  readonly #queue: WriterQueue;
  readonly #sharedLock: WriterLock | undefined;
  readonly #tracer: TransactionTracer;
  readonly #cacheSize: number;
  readonly #automerge = new Map<DocKey, AutomergeDoc>();
  readonly #loading = new Map<DocKey, Promise<AutomergeDoc>>();
  readonly #live = new Map<string, Set<LiveQuery>>();
  readonly #liveClosers = new Set<() => void>();
  readonly #commitListeners = new Set<(event: CommitEvent) => void>();
  readonly #queuedListeners = new Set<(event: CommitEvent) => void>();
  readonly #writeFailedListeners = new Set<(durable: number) => void>();
  /** The last position announced to `onQueued` listeners (it may be ahead of `#head`). */
  #announced = 0;
  readonly #held = new Map<TxId, HeldChangeset>();
  readonly #active = new Set<Promise<unknown>>();
  readonly #logId: string;
  /** The durable log head and local commit counter, and whether the last entry is local. */
  #head: number;
  #seq: number;
  #lastLocal: boolean;
  // Group commit (see "internals: group commit"): the state writers see, ahead of the durable one.
  readonly #tip: TipState;
  readonly #heldTip = new Map<TxId, HeldChangeset | null>();
  #open: Group | undefined;
  #inFlight: Group | undefined;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every failed group write: writers that ran before it ran on state that is gone. */
  #epoch = 0;
  #lastFailure: unknown;
  #sharedRelease: (() => void) | undefined;
  #sharedSince = 0;
  /** Local commits by counter, found in the log on demand ({@link Store.entriesFor}). */
  readonly #localIndex = { seqs: [] as number[], positions: [] as number[], scanned: 0 };
  #closed = false;
  #closing: Promise<void> | undefined;
  #idCounter = 0;

  private constructor(init: { storage: StorageAdapter; options: StoreOptions; peerId: PeerId; logId: string; head: number; seq: number; lastLocal: boolean }) {
    const { storage, options } = init;
    this.#storage = storage;
    this.#logger = options.logger ?? consoleLogger;
    this.#peerId = init.peerId;
    this.#logId = init.logId;
    this.#head = init.head;
    this.#seq = init.seq;
    this.#lastLocal = init.lastLocal;
    this.#tip = new TipState(this.#committed);
    this.#actor = randomHex(16);
    this.#queue = new WriterQueue(this.#logger, options.lockWatchdogMs ?? DEFAULTS.watchdog);
    this.#sharedLock = options.writerLock;
    this.#tracer = new TransactionTracer(this.#logger, options.transactionDurationBeforeLoggingMs ?? DEFAULTS.first, options.transactionTraceIntervalMs ?? DEFAULTS.every);
    this.#cacheSize = Math.max(1, options.automergeCacheSize ?? DEFAULTS.cache);
  }

  /**
   * Opens a store on its storage, loading every document's current value (Automerge state
   * is loaded lazily, on the first write to a document), so that reads and queries never wait
   * on Automerge. Asynchronous because storage is; there is no public constructor.
   *
   * @example
   * import { Store } from '@atoll/store';
   * import { SqliteStorageAdapter } from '@atoll/storage-sqlite';
   *
   * const store = await Store.open({
   *   storage: await SqliteStorageAdapter.open('./data/peer.db'),
   *   transactionDurationBeforeLoggingMs: 2_000,
   * });
   * // In tests, `await Store.open()` opens on a fresh MemoryStorageAdapter.
   */
  static async open(options: StoreOptions = {}): Promise<Store> {
    const storage = options.storage ?? new MemoryStorageAdapter();
    const release = await options.writerLock?.acquire('open');
    try {
      const [peerBytes, headBytes, seqBytes, logBytes] = await Promise.all([storage.get(keys.peer), storage.get(keys.head), storage.get(keys.seq), storage.get(keys.logId)]);
      let peerId: PeerId;
      if (peerBytes) {
        peerId = PeerIdSchema.parse(decode<string>(peerBytes));
        if (options.peerId !== undefined && options.peerId !== peerId) {
          throw new StoreError(`this storage belongs to peer ${peerId}, not ${options.peerId}: open it without peerId or use other storage`);
        }
      } else {
        const parsed = PeerIdSchema.safeParse(options.peerId ?? randomPeerId());
        if (!parsed.success) throw new ValidationError(`invalid peerId ${JSON.stringify(options.peerId)}: use 1-128 characters`, 'peerId');
        peerId = parsed.data;
        await storage.write({ put: [{ key: keys.peer, value: encode(peerId) }] });
      }
      let logId = logBytes ? decode<string>(logBytes) : undefined;
      if (logId === undefined) {
        logId = randomHex(16);
        await storage.write({ put: [{ key: keys.logId, value: encode(logId) }] });
      }
      // The head is the last log entry; ['meta', 'head'] (kept by older layouts) says where to start looking.
      const head = await findLogHead(storage, headBytes ? decode<number>(headBytes) : 0);
      const lastBytes = head > 0 ? await storage.get(keys.log(head)) : undefined;
      const last = lastBytes ? decode<LogEntry>(lastBytes) : undefined;
      const lastLocal = last !== undefined && isLocal(last, peerId);
      const storedSeq = seqBytes ? decode<number>(seqBytes) : 0;
      const seq = lastLocal ? Math.max(storedSeq, last.seq) : storedSeq;
      const store = new Store({ storage, options, peerId, logId, head, seq, lastLocal });
      await store.#loadAll();
      return store;
    } finally {
      release?.();
    }
  }

  /** This store's replication identity, shared by every store instance on the same storage. */
  get peerId(): PeerId {
    return this.#peerId;
  }

  /**
   * The id of this store's log incarnation: positions are meaningful only with it. A store
   * whose storage is wiped starts a new log with a new id, so peers drop their cursors.
   */
  get logId(): string {
    return this.#logId;
  }

  /** The position of the last entry in this store's log. */
  get position(): number {
    return this.#head;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  // ---- transactions ----------------------------------------------------------------------

  /**
   * Runs `fn` in a transaction. Read-write transactions run one at a time (FIFO, and across
   * store instances through the `writerLock`); resolving commits durably and returns `fn`'s
   * value; throwing rolls back and rethrows; `tx.rollback()` rolls back without an error.
   * Read-only transactions read a snapshot taken at their start and run concurrently.
   *
   * Every `tx` call must be awaited before the block returns (else the commit fails with
   * `UnawaitedOperationError`); inside the block, use `tx`, never the store, to write.
   *
   * @example
   * const moved = await store.transaction(async (tx) => {
   *   const ann = await tx.get<{ balance: number }>('accounts', 'ann');
   *   if (!ann || ann.balance < 10) throw new Error('insufficient funds'); // rolls back, rethrows
   *   await tx.update('accounts', 'ann', (d) => { d.balance = (d.balance as number) - 10; });
   *   await tx.update('accounts', 'bob', (d) => { d.balance = (d.balance as number) + 10; });
   *   return 10;
   * }, { hint: 'transfer' });
   *
   * const total = await store.transaction(async (tx) => {
   *   const all = await tx.find<{ balance: number }>({ collection: 'accounts' });
   *   return all.reduce((sum, a) => sum + a.balance, 0);
   * }, { readOnly: true, hint: 'audit' });
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T> | T, options: TransactionOptions = {}): Promise<T> {
    const what = `store.transaction(${options.hint !== undefined ? JSON.stringify(options.hint) : ''})`;
    if (this.#closed) return Promise.reject(new StoreClosedError());
    if (options.readOnly === true) return this.#track(this.#runReadOnly(fn, options.hint));
    const deadlock = this.#deadlock(what);
    if (deadlock) return Promise.reject(deadlock);
    return this.#track(this.#runReadWrite(fn, options.hint));
  }

  /**
   * Reads one document outside any transaction (from the committed state). Two calls may see
   * different commits: use a read-only transaction when several reads must agree.
   */
  async get<T extends JsonObject = JsonObject>(collection: string, id: string): Promise<Doc<T> | undefined> {
    this.#checkOpen();
    docKey(collection, id);
    return this.#committed.get(collection, id)?.doc as Doc<T> | undefined;
  }

  /** Runs a query outside any transaction (on the committed state); a one-shot {@link observe}. */
  async find<T extends JsonObject = JsonObject>(query: Query): Promise<Doc<T>[]> {
    this.#checkOpen();
    return runQuery(this.#committed, prepareQuery(query)) as Doc<T>[];
  }

  /** `tx.insert` in a transaction of its own. */
  insert<T extends JsonObject = JsonObject>(collection: string, value: DocInput): Promise<Doc<T>> {
    return this.transaction((tx) => tx.insert<T>(collection, value), { hint: `insert ${collection}` });
  }

  /** `tx.upsert` in a transaction of its own. */
  upsert<T extends JsonObject = JsonObject>(collection: string, value: DocInput): Promise<Doc<T>> {
    return this.transaction((tx) => tx.upsert<T>(collection, value), { hint: `upsert ${collection}` });
  }

  /** `tx.update` in a transaction of its own. */
  update<T extends JsonObject = JsonObject>(collection: string, id: string, change: (draft: Draft) => void | DocInput): Promise<Doc<T>> {
    return this.transaction((tx) => tx.update<T>(collection, id, change), { hint: `update ${collection}` });
  }

  /** `tx.delete` in a transaction of its own. */
  delete(collection: string, id: string): Promise<boolean> {
    return this.transaction((tx) => tx.delete(collection, id), { hint: `delete ${collection}` });
  }

  // ---- live queries ----------------------------------------------------------------------

  /**
   * Calls `callback` with the query's current result now, then once after each commit that
   * changes it (local, remote or from another tab) — never during a transaction, never twice
   * for one commit. The first call happens synchronously, before `observe` returns; later ones
   * during the commit, before its `store.transaction()` promise resolves. A callback that throws
   * is logged and changes nothing else.
   *
   * @example
   * const stop = store.observe(
   *   { collection: 'todos', where: { done: false }, orderBy: [{ path: 'createdAt', direction: 'desc' }], limit: 50 },
   *   (todos) => render(todos),
   * );
   * // …
   * stop();
   */
  observe(query: Query, callback: ObserveCallback): Unsubscribe {
    this.#checkOpen();
    const live = new LiveQuery(prepareQuery(query), this.#committed, callback);
    const collection = query.collection;
    let set = this.#live.get(collection);
    if (!set) this.#live.set(collection, (set = new Set()));
    set.add(live);
    const unsubscribe = () => {
      live.closed = true;
      this.#live.get(collection)?.delete(live);
      this.#liveClosers.delete(unsubscribe);
    };
    this.#liveClosers.add(unsubscribe);
    live.emit();
    return Object.assign(unsubscribe, { [Symbol.dispose]: unsubscribe });
  }

  /**
   * The async-iterator form of {@link observe}: yields the current result, then each new one.
   * A slow consumer skips intermediate results and gets the latest. Ends when the store closes
   * or the loop breaks.
   *
   * @example
   * for await (const todos of store.watch({ collection: 'todos', where: { done: false } })) render(todos);
   */
  watch<T extends JsonObject = JsonObject>(query: Query): AsyncIterableIterator<readonly Doc<T>[]> {
    let latest: readonly Doc<T>[] | undefined;
    let waiting: ((r: IteratorResult<readonly Doc<T>[]>) => void) | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      unsubscribe();
      this.#liveClosers.delete(finish);
      waiting?.({ value: undefined, done: true });
      waiting = undefined;
    };
    const unsubscribe = this.observe(query, (docs) => {
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w({ value: docs as readonly Doc<T>[], done: false });
      } else {
        latest = docs as readonly Doc<T>[];
      }
    });
    this.#liveClosers.add(finish);
    const iterator: AsyncIterableIterator<readonly Doc<T>[]> = {
      next: () => {
        if (latest !== undefined) {
          const value = latest;
          latest = undefined;
          return Promise.resolve({ value, done: false });
        }
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (waiting = resolve));
      },
      return: () => {
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // ---- replication hooks -------------------------------------------------------------------

  /**
   * Calls `listener` synchronously after every commit (after live queries), once per commit:
   * the hook replication ships local commits from. A listener that throws is logged; the
   * commit stands. Returns the function that stops it.
   */
  onCommit(listener: (event: CommitEvent) => void): () => void {
    this.#commitListeners.add(listener);
    return () => this.#commitListeners.delete(listener);
  }

  /**
   * Calls `listener` with a remote apply's commit event as soon as it is queued for storage —
   * before it is durable, before live queries and `onCommit` see it — provided every commit
   * queued before it is a remote apply too (a local commit is only shipped once durable: its
   * caller may yet see it fail). The hook a relay forwards from without waiting for its own
   * write; whoever uses it must handle `onWriteFailed`, after which every position past the
   * durable one is void and will be reused. Returns the function that stops it.
   */
  onQueued(listener: (event: CommitEvent) => void): () => void {
    this.#queuedListeners.add(listener);
    return () => this.#queuedListeners.delete(listener);
  }

  /**
   * Calls `listener` when a storage write fails, with the durable position: the queued commits
   * after it are gone (their callers get `CommitFailedError`) and their positions will be
   * reused. Returns the function that stops it.
   */
  onWriteFailed(listener: (durable: number) => void): () => void {
    this.#writeFailedListeners.add(listener);
    return () => this.#writeFailedListeners.delete(listener);
  }

  /**
   * The last log position that may be shipped now: the durable `position`, or past it the
   * queued remote applies announced to `onQueued`.
   */
  get shippablePosition(): number {
    return Math.max(this.#head, this.#announced);
  }

  /**
   * Applies a changeset from another peer as one local commit: parts the store already has
   * are skipped (by Automerge change hash), parts whose Automerge dependencies are missing
   * are held — persisted, and applied as soon as the dependencies arrive — instead of being
   * half-applied. Live queries fire once. Invalid input throws `InvalidChangesetError` and
   * changes nothing.
   */
  async applyChangeset(changeset: Changeset, options: ApplyOptions = {}): Promise<ApplyResult> {
    const [result] = await this.applyChangesets([changeset], options);
    return result as ApplyResult;
  }

  /**
   * Applies several changesets as ONE local commit: one storage transaction, one log entry per
   * changeset, one live-query emission — no reader ever sees some of them without the others.
   * An atomic peer applies a back-fill this way. Invalid input anywhere rejects the whole call
   * and changes nothing.
   */
  async applyChangesets(changesets: readonly Changeset[], options: ApplyOptions = {}): Promise<ApplyResult[]> {
    this.#checkOpen();
    const deadlock = this.#deadlock('store.applyChangesets()');
    if (deadlock) throw deadlock;
    const checked = changesets.map((cs) => checkChangeset(cs));
    return this.#track(
      (async () => {
        const { results, durable } = await this.#exclusive('apply', async () => {
          const epoch = this.#epoch;
          const out = await this.#inBatch(epoch, async (batch) => {
            const applied: ApplyResult[] = [];
            for (const cs of checked) applied.push(await this.#apply(cs, options.whole === true, false, options.from, batch));
            if (options.syncState) batch.ops.put(keys.sync(options.syncState.name), encode(options.syncState.value));
            return applied;
          });
          await this.#releaseHeld(epoch);
          return { results: out, durable: this.#lastPending() };
        });
        if (durable) await durable;
        return results;
      })(),
    );
  }

  /** Changesets (or parts) waiting for Automerge dependencies: for diagnostics, and for sync to ask peers for what is missing. */
  held(): HeldChangeset[] {
    return [...this.#held.values()];
  }

  /**
   * Log entries after position `after` (exclusive), oldest first, at most `limit`: how a peer
   * streams its log from a remote's cursor. Positions start at 1 and have no gaps.
   */
  readLog(after: number, limit = 1_000): Promise<LogEntry[]> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return this.#track(this.#readLog(after, limit));
  }

  async #readLog(after: number, limit: number): Promise<LogEntry[]> {
    const entries = await this.#storage.getRange(keys.logPrefix, { after: keys.log(after)[1] as string, limit });
    return entries.map((e) => decode<LogEntry>(e.value));
  }

  /**
   * Rebuilds the changeset of a log entry with its Automerge bytes — the log keeps only hashes;
   * the bytes live in the documents, compacted or not. `only` keeps the parts a subscriber may
   * receive; the manifest stays whole so the receiver knows what it was not sent.
   */
  changesetFor(entry: LogEntry, only?: (key: DocKey) => boolean): Promise<Changeset> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return this.#track(this.#changesetFor(entry, only));
  }

  async #changesetFor(entry: LogEntry, only?: (key: DocKey) => boolean): Promise<Changeset> {
    const parts: ChangesetPart[] = [];
    for (const part of entry.parts) {
      if (only && !only(part.key)) continue;
      const { collection, id } = parseDocKey(part.key);
      const changes = (await this.#storedChanges(part, collection, id)) ?? (await this.#changesFromDocument(part, collection, id));
      if (changes.length === 0) continue;
      parts.push(part.deleted ? { key: part.key, changes, deleted: true } : { key: part.key, changes });
    }
    return headerOf(entry, parts);
  }

  /**
   * A part's changes read straight from the chunk its commit wrote, when that chunk is still
   * there: one storage read instead of loading the whole document into Automerge. `undefined`
   * when it cannot be trusted (the document was compacted since, or the bytes are not exactly
   * those changes), and the caller loads the document.
   */
  async #storedChanges(part: LogPart, collection: string, id: string): Promise<Uint8Array[] | undefined> {
    const cached = this.#automerge.get(part.key);
    if (part.c === undefined || cached !== undefined) return undefined;
    const gen = part.g ?? 0;
    const before = this.#committed.get(collection, id);
    if (before === undefined || before.gen !== gen || part.c >= before.chunks) return undefined;
    const bytes = await this.#storage.get(keys.chunk(collection, id, part.c));
    // A compaction that landed meanwhile may have reused the index.
    if (bytes === undefined || this.#committed.get(collection, id)?.gen !== gen) return undefined;
    const changes = splitChanges(bytes);
    if (changes === undefined || changes.length !== part.hashes.length) return undefined;
    // The checksum in a change's header is the start of its hash: a cheap proof that these are the right bytes.
    for (let i = 0; i < changes.length; i++) if (!checksumMatches(changes[i] as Uint8Array, part.hashes[i] as string)) return undefined;
    return changes;
  }

  async #changesFromDocument(part: LogPart, collection: string, id: string): Promise<Uint8Array[]> {
    const am = await this.#automergeFor(part.key, this.#committed.get(collection, id));
    return part.hashes.map((h) => am.getChange(h)).filter((c): c is Uint8Array => c !== null);
  }

  /** Log entries that hold (parts of) a transaction, oldest first. */
  async entriesFor(id: TxId): Promise<LogEntry[]> {
    this.#checkOpen();
    const positions = new Set<number>();
    for (const { key, value } of await this.#storage.getRange(keys.tx(id))) {
      // ['tx', id] → positions[] (older layout); ['tx', id, position] → position.
      if (key.length === 2) for (const pos of decode<number[]>(value)) positions.add(pos);
      else positions.add(Number(key[2]));
    }
    if (positions.size === 0) {
      const pos = await this.#localPosition(id);
      if (pos !== undefined) positions.add(pos);
    }
    const out: LogEntry[] = [];
    for (const pos of [...positions].sort((a, b) => a - b)) {
      const bytes = await this.#storage.get(keys.log(pos));
      if (bytes) out.push(decode<LogEntry>(bytes));
    }
    return out;
  }

  /**
   * The log position of one of this peer's own commits. Local commits write no index entry
   * (it would cost every commit a storage put): they are indexed here, from the log, when first
   * asked for, and the index catches up with the log at every miss.
   */
  async #localPosition(id: TxId): Promise<number | undefined> {
    const sep = id.lastIndexOf(':');
    if (sep <= 0 || id.slice(0, sep) !== this.#peerId) return undefined;
    const seq = Number(id.slice(sep + 1));
    if (!Number.isSafeInteger(seq) || seq <= 0) return undefined;
    const index = this.#localIndex;
    const find = () => {
      let lo = 0;
      let hi = index.seqs.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const s = index.seqs[mid] as number;
        if (s === seq) return index.positions[mid];
        if (s < seq) lo = mid + 1;
        else hi = mid - 1;
      }
      return undefined;
    };
    const known = find();
    if (known !== undefined) return known;
    for (;;) {
      const batch = await this.#readLog(index.scanned, 1_000);
      if (batch.length === 0) break;
      for (const e of batch) {
        // Concurrent lookups may scan the same entries: take each position once.
        if (e.pos <= index.scanned) continue;
        if (isLocal(e, this.#peerId)) {
          index.seqs.push(e.seq);
          index.positions.push(e.pos);
        }
        index.scanned = e.pos;
      }
    }
    return find();
  }

  /**
   * The value subscriptions are evaluated against: the document's current value, `undefined`
   * when absent or deleted (replication routes a tombstone to every subscription on its
   * collection). Synchronous, for the shipping hot path.
   */
  selectionValue(collection: string, id: string): Doc | undefined {
    return this.#committed.get(collection, id)?.doc;
  }

  /**
   * The value a document had just before a logged transaction changed it, recomputed from its
   * Automerge history (`undefined` if it did not exist or was deleted then). Replication uses it
   * when the value is no longer in memory, to ship the change that takes a document out of a
   * filtered subscription.
   */
  valueBefore(entry: LogEntry, key: DocKey): Promise<Doc | undefined> {
    return this.#historicalValue(entry, key, 'before');
  }

  /** The value a document had right after a logged transaction changed it (as its author saw it). */
  valueAfter(entry: LogEntry, key: DocKey): Promise<Doc | undefined> {
    return this.#historicalValue(entry, key, 'after');
  }

  #historicalValue(entry: LogEntry, key: DocKey, when: 'before' | 'after'): Promise<Doc | undefined> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return this.#track(
      (async () => {
        const part = entry.parts.find((p) => p.key === key);
        if (!part) return undefined;
        // The first chunk of the first generation holds the first changes this store ever had
        // of the document (their dependencies are among them): nothing came before. Knowing it
        // spares loading the document — a filtered catch-up asks this of every document.
        if (when === 'before' && part.c === 0 && part.g === undefined) return undefined;
        const { collection, id } = parseDocKey(key);
        const am = await this.#automergeFor(key, this.#committed.get(collection, id));
        const value = when === 'before' ? am.valueBefore(part.hashes) : am.valueAfter(part.hashes);
        return value === undefined ? undefined : makeDoc(id, value);
      })(),
    );
  }

  /** Whether the store holds any state (a live document or a tombstone) for a document. */
  has(collection: string, id: string): boolean {
    return this.#committed.get(collection, id) !== undefined;
  }

  /** Every document key of a collection the store holds (live or tombstone). */
  keysOf(collection: string): DocKey[] {
    return [...this.#committed.scan(collection)].map((s) => s.key);
  }

  /** Collections the store holds documents of. */
  collections(): string[] {
    return this.#committed.collectionNames();
  }

  /** Reads replication state (a cursor, say) persisted under `name`. */
  async readSyncState<T>(name: string): Promise<T | undefined> {
    this.#checkOpen();
    const bytes = await this.#storage.get(keys.sync(name));
    return bytes ? decode<T>(bytes) : undefined;
  }

  /**
   * Persists replication state under `name`, once every commit queued before the call is
   * durable; if one of them fails, so does this (`CommitFailedError`). So a cursor saved here is
   * never durable ahead of the applies it counts on: a relay's cursor into a peer's log cannot
   * pass a transaction that the relay forwarded and then lost in a crash.
   */
  async writeSyncState(name: string, value: unknown): Promise<void> {
    this.#checkOpen();
    const epoch = this.#epoch;
    const pending = this.#lastPending();
    if (pending) {
      await pending.catch(() => undefined);
      this.#checkEpoch(epoch, 'writeSyncState');
    }
    await this.#storage.write({ put: [{ key: keys.sync(name), value: encode(value) }] });
  }

  /**
   * The Automerge heads of a document (tombstones included), or `undefined` if the store has
   * never seen it: a cheap way to tell whether two peers hold the same version.
   */
  heads(collection: string, id: string): readonly string[] | undefined {
    return (this.#committed.get(collection, id))?.heads;
  }

  /**
   * Catches up with commits other store instances wrote to the same storage (another tab),
   * firing live queries for what changed. `@atoll/browser` calls it on every announced commit.
   */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const deadlock = this.#deadlock('store.refresh()');
    if (deadlock) return Promise.reject(deadlock);
    // Under the shared lock too, so no other instance is half-way through a commit.
    // With the lock, taking it catches up (and while this instance holds it nobody else writes).
    // Without, this instance's own queued writes must land first or they would look foreign.
    return this.#track(
      this.#exclusive('refresh', async () => {
        if (this.#sharedLock) return;
        await this.#drained();
        await this.#catchUpWithStorage();
      }),
    );
  }

  // ---- closing -----------------------------------------------------------------------------

  /**
   * Refuses new transactions (`StoreClosedError`), waits for the pending ones, ends live
   * queries and closes the storage. Idempotent.
   */
  close(): Promise<void> {
    const deadlock = this.#closing ? undefined : this.#deadlock('store.close()');
    if (deadlock) return Promise.reject(deadlock);
    this.#closing ??= (async () => {
      this.#closed = true;
      while (this.#active.size > 0) await Promise.allSettled([...this.#active]);
      for (const close of [...this.#liveClosers]) close();
      this.#live.clear();
      this.#commitListeners.clear();
      this.#queuedListeners.clear();
      this.#writeFailedListeners.clear();
      for (const am of this.#automerge.values()) am.free();
      this.#automerge.clear();
      await this.#storage.close();
    })();
    return this.#closing;
  }

  // ---- internals: running transactions -----------------------------------------------------

  #checkOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  #deadlock(what: string): TransactionDeadlockError | undefined {
    const holder = currentTransaction();
    if (holder !== undefined && holder.store === this && (holder as ActiveContext).active) return new TransactionDeadlockError(what, holder.hint);
    return undefined;
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#active.add(promise);
    const done = () => this.#active.delete(promise);
    promise.then(done, done);
    return promise;
  }

  #newDocId = (): string => `${Date.now().toString(36)}-${(this.#idCounter++).toString(36)}-${randomHex(6)}`;

  async #runReadOnly<T>(fn: (tx: Transaction) => Promise<T> | T, hint: string | undefined): Promise<T> {
    const snapshot = this.#committed.snapshot();
    const tx = new TxImpl({ hint, readOnly: true, view: snapshot, newId: this.#newDocId });
    const stop = this.#tracer.start(tx.info);
    try {
      return (await runBlock(tx, fn)).value;
    } finally {
      stop();
      snapshot.close();
    }
  }

  async #runReadWrite<T>(fn: (tx: Transaction) => Promise<T> | T, hint: string | undefined): Promise<T> {
    const { value, durable } = await this.#exclusive(hint, async () => {
      const epoch = this.#epoch;
      // The block reads the committed state plus the commits still waiting for their write.
      const tx = new TxImpl({ hint, readOnly: false, view: this.#tip, newId: this.#newDocId });
      const ctx: ActiveContext = { store: this, hint, active: true };
      const stop = this.#tracer.start(tx.info);
      let outcome: { value: T; rolledBack: boolean };
      try {
        outcome = await runInTransaction(ctx, () => runBlock(tx, fn));
      } finally {
        // Code the block left behind (timers, callbacks) is no longer inside the transaction.
        ctx.active = false;
        stop();
      }
      this.#checkEpoch(epoch, hint);
      if (!outcome.rolledBack && tx.scope) await this.#commit(tx.scope.writes(), hint, epoch);
      // Even a block that wrote nothing may have read commits that are not durable yet: it
      // resolves only once they are, and fails if they fail.
      return { value: outcome.value, durable: this.#lastPending() };
    });
    if (durable) await durable;
    return value;
  }

  /**
   * Runs `fn` as the only writer: this store's queue, then the shared lock, then catch-up.
   * Commits `fn` queued are written after it returns (group commit), not inside it.
   */
  async #exclusive<T>(hint: string | undefined, fn: () => Promise<T>): Promise<T> {
    const releaseLocal = await this.#queue.acquire(hint);
    try {
      if (this.#sharedLock) {
        // A burst of writers keeps the shared lock while its groups are written; past a
        // while, let the other instances have a turn before going on.
        if (this.#sharedRelease && Date.now() - this.#sharedSince > SHARED_LOCK_TURN_MS) {
          await this.#drained();
          this.#releaseShared();
        }
        if (!this.#sharedRelease) {
          this.#sharedRelease = await this.#sharedLock.acquire(hint);
          this.#sharedSince = Date.now();
          await this.#catchUpWithStorage();
        }
      }
      return await fn();
    } finally {
      releaseLocal();
      this.#afterWriter();
    }
  }

  /** After a writer's turn: write what it queued now, unless another writer is about to add to it. */
  #afterWriter(): void {
    if (this.#open && !this.#inFlight) {
      if (this.#queue.holder === undefined || this.#open.commits.length >= MAX_GROUP_COMMITS) this.#flush();
      else this.#flushSoon();
    }
    this.#maybeReleaseShared();
  }

  #maybeReleaseShared(): void {
    if (this.#sharedRelease && !this.#open && !this.#inFlight && this.#queue.holder === undefined) this.#releaseShared();
  }

  #releaseShared(): void {
    const release = this.#sharedRelease;
    this.#sharedRelease = undefined;
    release?.();
  }

  #checkEpoch(epoch: number, hint: string | undefined): void {
    if (epoch !== this.#epoch) throw new CommitFailedError(hint, this.#lastFailure);
  }

  // ---- internals: group commit ----------------------------------------------------------------
  //
  // A writer's commit is queued in the open group and its turn ends at once; the group is
  // written in one storage batch when no writer is waiting to add to it and no write is in
  // flight (or soon, should the next writer be slow). Writers meanwhile run on the tip: the
  // committed state plus every queued commit. Once a write is durable its commits are published
  // one by one, in order (live queries, onCommit), then their callers resolve. If it fails,
  // every queued commit fails with it — those after it ran on its changes — and the tip and the
  // Automerge states fall back to the committed state.

  /** Queues a commit in the open group. */
  #append(commit: PendingCommit, ops: BatchBuilder): void {
    const announce = this.#queuedListeners.size > 0 && commit.events.length > 0 && this.shippablePosition === this.#tipHead && commit.events.every((e) => e.source === 'remote');
    const group = (this.#open ??= new Group());
    group.ops.merge(ops);
    group.commits.push(commit);
    for (const s of commit.states) this.#tip.set(s);
    for (const [id, entry] of commit.held) this.#heldTip.set(id, entry);
    if (announce) {
      this.#announced = commit.head;
      group.announced = true;
      for (const event of commit.events) {
        for (const listener of this.#queuedListeners) {
          try {
            listener(event);
          } catch (err) {
            this.#logger.error('a queued-commit listener threw; the commit goes on', { error: err });
          }
        }
      }
    }
  }

  /** The last commit still waiting to be durable: the tip's log head and counters are its. */
  #lastQueued(): PendingCommit | undefined {
    const commits = (this.#open ?? this.#inFlight)?.commits;
    return commits?.[commits.length - 1];
  }

  get #tipHead(): number {
    return this.#lastQueued()?.head ?? this.#head;
  }

  get #tipSeq(): number {
    return this.#lastQueued()?.seq ?? this.#seq;
  }

  get #tipLastLocal(): boolean {
    return this.#lastQueued()?.lastLocal ?? this.#lastLocal;
  }

  /** What a writer that ran now must wait for: the last group, which fails if any before it does. */
  #lastPending(): Promise<void> | undefined {
    return (this.#open ?? this.#inFlight)?.done;
  }

  #flushSoon(): void {
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      if (this.#open && !this.#inFlight) this.#flush();
    }, 0);
  }

  #flush(): void {
    const group = this.#open;
    if (!group) return;
    this.#open = undefined;
    this.#inFlight = group;
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    // An adapter that throws instead of rejecting fails the group the same way. A group whose
    // entries were announced before durability lets the event loop turn first when the adapter
    // blocks it (better-sqlite3 writes and fsyncs synchronously): what was just forwarded
    // leaves the sockets before the write, not after it.
    const write = (async () => {
      if (group.announced && this.#storage.blocksEventLoop === true && yieldToIo) await new Promise<void>((resolve) => yieldToIo(resolve));
      return this.#storage.write(group.ops.toBatch());
    })();
    write.then(
      () => this.#durable(group),
      (err: unknown) => this.#failed(group, err),
    );
  }

  #durable(group: Group): void {
    this.#inFlight = undefined;
    for (const c of group.commits) {
      for (const [id, entry] of c.held) {
        if (entry) this.#held.set(id, entry);
        else this.#held.delete(id);
        if (this.#heldTip.get(id) === entry) this.#heldTip.delete(id);
      }
      this.#head = c.head;
      this.#seq = c.seq;
      this.#lastLocal = c.lastLocal;
      if (c.events.length === 0) continue;
      this.#committed.publish(c.states);
      for (const s of c.states) this.#tip.settle(s);
      this.#afterCommit(c.states, c.events);
    }
    group.resolve();
    if (this.#open) this.#flush();
    this.#trimCache();
    this.#maybeReleaseShared();
  }

  #failed(group: Group, err: unknown): void {
    this.#inFlight = undefined;
    this.#epoch++;
    const announcedPast = this.#announced > this.#head;
    this.#announced = this.#head;
    this.#lastFailure = err;
    const later = this.#open;
    this.#open = undefined;
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    // Every Automerge state with changes that are not durable goes; it reloads from storage.
    for (const key of [...this.#tip.keys()]) this.#evict(key);
    this.#tip.clear();
    this.#heldTip.clear();
    group.reject(err);
    later?.reject(new CommitFailedError(undefined, err));
    if (announcedPast) {
      for (const listener of this.#writeFailedListeners) {
        try {
          listener(this.#head);
        } catch (e) {
          this.#logger.error('a write-failed listener threw', { error: e });
        }
      }
    }
    this.#maybeReleaseShared();
  }

  /** Resolves once nothing is queued or in flight (failures included). Only for a writer's turn. */
  async #drained(): Promise<void> {
    while (this.#open || this.#inFlight) {
      if (!this.#inFlight) this.#flush();
      await this.#inFlight?.done.catch(() => undefined);
    }
  }

  /**
   * A commit failed before it was queued: the Automerge states it changed hold a change that
   * will never be written. Drop them — after the queued commits on those documents are
   * durable (they are in no storage yet, so the states could not be reloaded).
   */
  async #discard(keys: Iterable<DocKey>): Promise<void> {
    const list = [...keys];
    if (list.some((k) => this.#tip.has(k))) await this.#drained();
    for (const key of list) this.#evict(key);
  }

  // ---- internals: committing -----------------------------------------------------------------

  async #commit(writes: readonly Pending[], hint: string | undefined, epoch: number): Promise<void> {
    if (writes.length === 0) return;
    const time = Date.now();
    const seq = this.#tipSeq + 1;
    const id = txId(this.#peerId, seq);
    const pos = this.#tipHead + 1;
    const ops = new BatchBuilder();
    const parts: ChangesetPart[] = [];
    const logParts: LogPart[] = [];
    const states: DocState[] = [];
    const changed: DocKey[] = [];
    const previous = new Map<DocKey, Doc | undefined>();
    try {
      for (const w of writes) {
        const key = docKey(w.collection, w.id);
        const current = this.#tip.get(w.collection, w.id);
        let am = this.#cachedAutomerge(key);
        if (!am) {
          am = await this.#automergeFor(key, current);
          this.#checkEpoch(epoch, hint);
        }
        changed.push(key);
        const local = am.commitJson(current?.doc ? valueOf(current.doc) : undefined, w.doc ? valueOf(w.doc) : undefined, w.counters, time);
        if (local === undefined) continue;
        previous.set(key, current?.doc);
        const state = this.#persistDoc(am, w.collection, w.id, key, w.doc, [local.hash], current, local.change, ops);
        states.push(state);
        parts.push(w.doc === undefined ? { key, changes: [local.change], deleted: true } : { key, changes: [local.change] });
        logParts.push(logPart(key, [local.hash], w.doc === undefined, current, state));
      }
      if (parts.length === 0) return;
      const entry: LogEntry = withHint({ pos, id, origin: this.#peerId, seq, time, parts: logParts, manifest: parts.map((p) => p.key) }, hint);
      // The head and the commit counter are not written: the last log entry gives both.
      ops.put(keys.log(pos), encode(entry));
      this.#append({ states, events: [{ position: pos, entry, changeset: headerOf(entry, parts), source: 'local', keys: entry.manifest, previous }], held: NO_HELD, head: pos, seq, lastLocal: true }, ops);
    } catch (err) {
      await this.#discard(changed);
      throw err;
    } finally {
      this.#trimCache();
    }
  }

  /** Adds a document's record and new Automerge bytes to a batch; returns its new state. */
  #persistDoc(
    am: AutomergeDoc,
    collection: string,
    id: string,
    key: DocKey,
    doc: Doc | undefined,
    heads: readonly string[],
    current: DocState | undefined,
    bytes: Uint8Array,
    ops: BatchBuilder,
  ): DocState {
    let n = current?.chunks ?? 0;
    let gen = current?.gen ?? 0;
    if (n + 1 > COMPACT_AFTER_CHUNKS && am.stagedCount() === 0) {
      ops.put(keys.chunk(collection, id, 0), am.save());
      for (let i = 1; i < n; i++) ops.delete(keys.chunk(collection, id, i));
      n = 1;
      gen += 1;
    } else {
      ops.put(keys.chunk(collection, id, n), bytes);
      n += 1;
    }
    const v = doc ? valueOf(doc) : null;
    const record: DocRecord = gen === 0 ? { v, h: heads, n } : { v, h: heads, n, g: gen };
    ops.put(keys.doc(collection, id), encode(record));
    return { key, collection, id, doc, heads, chunks: n, gen };
  }

  /**
   * Works out what applying one changeset does and adds it to `batch`; nothing is written or
   * published until the batch commits. Later changesets of a batch see what earlier ones did.
   */
  async #apply(cs: CheckedChangeset, whole: boolean, fromHeld: boolean, from: PeerId | undefined, batch: ApplyBatch): Promise<ApplyResult> {
    // `value` is the document's value after the changes when the store can tell it without
    // Automerge (`null` when it cannot): then the changes are staged, not applied (see
    // AutomergeDoc.stage), and a document never seen needs no Automerge document at all.
    const ready: { key: DocKey; collection: string; id: string; am: AutomergeDoc | undefined; value: JsonObject | undefined | null; current: DocState | undefined; bytes: Uint8Array[]; metas: ChangeMeta[]; hashes: string[]; deleted: boolean }[] = [];
    const held: ChangesetPart[] = [];
    const skipped: DocKey[] = [];
    for (const { part, metas } of cs.parts) {
      const { collection, id } = parseDocKey(part.key);
      const current = batch.states.get(part.key) ?? this.#tip.get(collection, id);
      let am = this.#cachedAutomerge(part.key);
      // A document this store has never had, created by one change that sets plain root
      // fields: its value is that change's, and its Automerge state waits until it is needed.
      const only = metas.length === 1 ? metas[0] : undefined;
      if (!am && current === undefined && only?.creates !== undefined) {
        ready.push({ key: part.key, collection, id, am: undefined, value: only.creates.value, current, bytes: [part.changes[0] as Uint8Array], metas: [only], hashes: [only.hash], deleted: part.deleted === true });
        continue;
      }
      if (!am) {
        am = await this.#automergeFor(part.key, current);
        // Automerge states fetched before the await may have been dropped by a failed write.
        this.#checkEpoch(batch.epoch, 'apply');
      }
      const fresh = metas.map((m, i) => ({ ...m, bytes: part.changes[i] as Uint8Array })).filter((m) => !am.hasChange(m.hash));
      if (fresh.length === 0) {
        skipped.push(part.key);
        continue;
      }
      const own = new Set(metas.map((m) => m.hash));
      if (fresh.some((m) => m.deps.some((d) => !own.has(d) && !am.hasChange(d)))) {
        held.push(part);
        continue;
      }
      // One change made on top of exactly this document's state, putting or deleting plain
      // root fields (an edit of a flat document): its value follows from the current one.
      let value: JsonObject | undefined | null = null;
      if (fresh.length === 1 && only?.rootOps && current?.doc !== undefined && sameSet(only.deps, current.heads)) value = valueAfterRootOps(valueOf(current.doc), only.rootOps);
      ready.push({ key: part.key, collection, id, am, value, current, bytes: fresh.map((m) => m.bytes), metas: fresh, hashes: fresh.map((m) => m.hash), deleted: part.deleted === true });
    }
    if (whole && held.length > 0) {
      for (const r of ready) held.push(cs.changeset.parts.find((p) => p.key === r.key) as ChangesetPart);
      ready.length = 0;
    }
    const txId = cs.changeset.id;
    const heldKeys = held.map((p) => p.key);
    const previouslyHeld = batch.held.has(txId) ? (batch.held.get(txId) ?? undefined) : this.#heldNow(txId);
    if (ready.length === 0 && held.length === 0) {
      if (fromHeld && previouslyHeld) {
        batch.ops.delete(keys.held(txId));
        batch.held.set(txId, null);
      }
      return { status: 'duplicate', position: undefined, applied: [], held: [], skipped };
    }
    const previous = new Map<DocKey, Doc | undefined>();
    const logParts: LogPart[] = [];
    for (const r of ready) {
      batch.mutated.add(r.key);
      let value: JsonObject | undefined;
      let am = r.am;
      if (am === undefined) {
        am = AutomergeDoc.deferred(r.bytes[0] as Uint8Array, r.metas[0] as ChangeMeta, this.#actor);
        this.#automerge.set(r.key, am);
        value = r.value as JsonObject | undefined;
      } else if (r.value !== null && am.stage(r.bytes[0] as Uint8Array, r.metas[0] as ChangeMeta)) {
        value = r.value;
      } else {
        try {
          am.applyChanges(r.bytes, r.metas.map((m) => m.actor));
        } catch (err) {
          throw new InvalidChangesetError(`changeset ${txId}: Automerge rejected the changes for ${r.key}: ${(err as Error).message}`, 'parts', { cause: err });
        }
        value = am.toJson();
      }
      const doc = value === undefined ? undefined : makeDoc(r.id, value);
      previous.set(r.key, r.current?.doc);
      const state = this.#persistDoc(am, r.collection, r.id, r.key, doc, am.heads(), r.current, concat(r.bytes), batch.ops);
      batch.states.set(r.key, state);
      logParts.push(logPart(r.key, r.hashes, r.deleted, r.current, state));
    }
    // What stays held: the parts held now, plus, when re-trying an earlier hold, nothing else.
    if (held.length > 0) {
      const merged = fromHeld ? held : mergeParts(previouslyHeld?.changeset.parts ?? [], held);
      const heldFrom = from ?? previouslyHeld?.from;
      const heldEntry: HeldChangeset = { changeset: { ...cs.changeset, parts: merged }, whole: whole || previouslyHeld?.whole === true, ...(heldFrom === undefined ? {} : { from: heldFrom }) };
      batch.ops.put(keys.held(txId), encode(heldEntry));
      batch.held.set(txId, heldEntry);
    } else if (previouslyHeld) {
      batch.ops.delete(keys.held(txId));
      batch.held.set(txId, null);
    }
    let pos: number | undefined;
    if (ready.length > 0) {
      pos = ++batch.head;
      const { id, origin, seq, time, hint, manifest } = cs.changeset;
      const entry = withHint(from === undefined ? { pos, id, origin, seq, time, parts: logParts, manifest } : { pos, id, origin, seq, time, parts: logParts, manifest, from }, hint);
      // The index is one key per position, so adding to it needs no read of what it holds.
      batch.ops.put(keys.log(pos), encode(entry));
      batch.ops.put(keys.txPosition(id, pos), encode(pos));
      // The local commit counter is not in this entry: record it, so that a store that opens
      // on this entry as its last one still knows it (see records.ts, ['meta', 'seq']).
      if (batch.lastLocal) {
        batch.ops.put(keys.seq, encode(this.#tipSeq));
        batch.ops.put(keys.head, encode(pos));
        batch.lastLocal = false;
      }
      const appliedParts = cs.changeset.parts.filter((p) => ready.some((r) => r.key === p.key));
      batch.events.push({ position: pos, entry, changeset: headerOf(entry, appliedParts), source: 'remote', keys: entry.parts.map((p) => p.key), previous });
    }
    const status = ready.length === 0 ? 'held' : held.length > 0 ? 'partial' : 'applied';
    return { status, position: pos, applied: ready.map((r) => r.key), held: heldKeys, skipped };
  }

  /** Runs `fill` against a fresh batch and queues it as one commit; on any failure nothing is queued. */
  async #inBatch<T>(epoch: number, fill: (batch: ApplyBatch) => Promise<T>): Promise<T> {
    const batch: ApplyBatch = { ops: new BatchBuilder(), states: new Map(), mutated: new Set(), events: [], held: new Map(), head: this.#tipHead, lastLocal: this.#tipLastLocal, epoch };
    try {
      const result = await fill(batch);
      this.#checkEpoch(epoch, 'apply');
      if (batch.ops.size > 0) {
        this.#append({ states: [...batch.states.values()], events: batch.events, held: batch.held, head: batch.head, seq: this.#tipSeq, lastLocal: batch.lastLocal }, batch.ops);
      }
      return result;
    } catch (err) {
      await this.#discard(batch.mutated);
      throw err;
    } finally {
      this.#trimCache();
    }
  }

  /** A held changeset as the writers see it (queued commits included). */
  #heldNow(id: TxId): HeldChangeset | undefined {
    return this.#heldTip.has(id) ? (this.#heldTip.get(id) ?? undefined) : this.#held.get(id);
  }

  /** Applies held changesets whose dependencies have arrived, until no more can be. */
  async #releaseHeld(epoch: number): Promise<void> {
    for (let progress = true; progress; ) {
      progress = false;
      const ids = new Set([...this.#held.keys(), ...this.#heldTip.keys()]);
      for (const id of ids) {
        const entry = this.#heldNow(id);
        if (!entry) continue;
        const result = await this.#inBatch(epoch, (batch) => this.#apply(checkChangeset(entry.changeset), entry.whole, true, entry.from, batch));
        if (result.applied.length > 0 || !this.#heldNow(id)) progress = true;
      }
    }
  }

  #afterCommit(states: readonly DocState[], events: readonly CommitEvent[]): void {
    const byCollection = new Map<string, DocState[]>();
    for (const s of states) {
      let list = byCollection.get(s.collection);
      if (!list) byCollection.set(s.collection, (list = []));
      list.push(s);
    }
    for (const [collection, changed] of byCollection) {
      for (const live of this.#live.get(collection) ?? []) {
        try {
          if (live.update(changed, this.#committed)) live.emit();
        } catch (err) {
          this.#logger.error('a live query callback threw; the commit stands', { error: err, collection });
        }
      }
    }
    for (const event of events) {
      for (const listener of this.#commitListeners) {
        try {
          listener(event);
        } catch (err) {
          this.#logger.error('a commit listener threw; the commit stands', { error: err });
        }
      }
    }
  }

  // ---- internals: storage --------------------------------------------------------------------

  async #loadAll(): Promise<void> {
    const states: DocState[] = [];
    for (const { key, value } of await this.#storage.getRange(keys.docPrefix)) {
      const [, collection, id] = key as [string, string, string];
      const record = decode<DocRecord>(value);
      states.push(stateFromRecord(collection, id, record));
    }
    this.#committed.publish(states);
    await this.#loadHeld();
  }

  async #loadHeld(): Promise<void> {
    this.#held.clear();
    for (const { key, value } of await this.#storage.getRange(keys.heldPrefix)) {
      this.#held.set(key[1] as TxId, decode<HeldChangeset>(value));
    }
  }

  /** Takes in what other instances committed to the shared storage. Only with nothing queued. */
  async #catchUpWithStorage(): Promise<void> {
    const entries: LogEntry[] = [];
    for (let after = this.#head; ; ) {
      const batch = await this.#readLog(after, 1_000);
      if (batch.length === 0) break;
      entries.push(...batch);
      after = (batch[batch.length - 1] as LogEntry).pos;
    }
    if (entries.length === 0) return;
    const changedKeys = [...new Set(entries.flatMap((e) => e.parts.map((p) => p.key)))];
    const states: DocState[] = [];
    for (const key of changedKeys) {
      const { collection, id } = parseDocKey(key);
      const bytes = await this.#storage.get(keys.doc(collection, id));
      if (!bytes) continue;
      const record = decode<DocRecord>(bytes);
      states.push(stateFromRecord(collection, id, record));
      this.#evict(key);
    }
    for (const e of entries) if (e.origin === this.#peerId && e.from === undefined) this.#seq = Math.max(this.#seq, e.seq);
    const last = entries[entries.length - 1] as LogEntry;
    this.#head = Math.max(this.#head, last.pos);
    this.#lastLocal = isLocal(last, this.#peerId);
    await this.#loadHeld();
    this.#committed.publish(states);
    this.#afterCommit(
      states,
      entries.map((entry) => ({ position: entry.pos, entry, changeset: undefined, source: 'storage' as const, keys: entry.parts.map((p) => p.key), previous: new Map() })),
    );
  }

  /** A document's Automerge state if it is cached (marked most recently used), without a promise. */
  #cachedAutomerge(key: DocKey): AutomergeDoc | undefined {
    const cached = this.#automerge.get(key);
    if (cached) {
      this.#automerge.delete(key);
      this.#automerge.set(key, cached);
    }
    return cached;
  }

  /** The Automerge state of a document, loaded once even when asked for concurrently. */
  async #automergeFor(key: DocKey, current: DocState | undefined): Promise<AutomergeDoc> {
    const cached = this.#cachedAutomerge(key);
    if (cached) return cached;
    if (current === undefined) {
      const fresh = AutomergeDoc.create(this.#actor);
      this.#automerge.set(key, fresh);
      return fresh;
    }
    let loading = this.#loading.get(key);
    if (!loading) {
      loading = (async () => {
        try {
          const chunks = await this.#storage.getRange(keys.chunkPrefix(current.collection, current.id));
          const am = AutomergeDoc.load(chunks.map((c) => c.value), this.#actor);
          this.#automerge.set(key, am);
          return am;
        } finally {
          this.#loading.delete(key);
        }
      })();
      this.#loading.set(key, loading);
    }
    return loading;
  }

  #evict(key: DocKey): void {
    const am = this.#automerge.get(key);
    if (am) {
      this.#automerge.delete(key);
      am.free();
    }
  }

  #trimCache(): void {
    if (this.#automerge.size <= this.#cacheSize) return;
    for (const [key, am] of this.#automerge) {
      if (this.#automerge.size <= this.#cacheSize) break;
      // A document with queued commits keeps its state: storage does not have it yet.
      if (this.#tip.has(key)) continue;
      this.#automerge.delete(key);
      am.free();
    }
  }
}

/** Opens a {@link Store}: the same as {@link Store.open}, for code that prefers a plain function. */
export function openStore(options: StoreOptions = {}): Promise<Store> {
  return Store.open(options);
}

/** A commit queued for the next storage write, and what publishing it does once that is durable. */
interface PendingCommit {
  readonly states: readonly DocState[];
  readonly events: readonly CommitEvent[];
  /** Held changesets added (an entry) or released (null). */
  readonly held: ReadonlyMap<TxId, HeldChangeset | null>;
  /** The log position and local commit counter after it. */
  readonly head: number;
  readonly seq: number;
  /** Whether the last log entry after it is a local commit. */
  readonly lastLocal: boolean;
}

const NO_HELD: ReadonlyMap<TxId, HeldChangeset | null> = new Map();

/** Commits written together in one storage batch. */
class Group {
  readonly ops = new BatchBuilder();
  readonly commits: PendingCommit[] = [];
  /** Whether `onQueued` listeners were given some of its commits. */
  announced = false;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;

  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Every waiter handles the failure; a group nobody waits for must not crash the process.
    this.done.catch(() => undefined);
  }
}

/** What a set of applies accumulates before it is queued as one commit. */
interface ApplyBatch {
  readonly ops: BatchBuilder;
  /** The latest state of each document the batch changed. */
  readonly states: Map<DocKey, DocState>;
  readonly mutated: Set<DocKey>;
  readonly events: CommitEvent[];
  /** Held changesets added (an entry) or released (null). */
  readonly held: Map<TxId, HeldChangeset | null>;
  /** The log position of the batch's last entry. */
  head: number;
  /** Whether the log's last entry (as of this batch) is a local commit. */
  lastLocal: boolean;
  /** The store's failure epoch when the batch started. */
  readonly epoch: number;
}

interface ActiveContext extends TxContext {
  active: boolean;
}

interface CheckedChangeset {
  readonly changeset: Changeset;
  readonly parts: readonly { part: ChangesetPart; metas: ChangeMeta[] }[];
}

/** Validates a changeset and decodes every change, before anything is touched. */
function checkChangeset(input: unknown): CheckedChangeset {
  const parsed = parseChangeset(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidChangesetError(`invalid changeset: ${issue?.message ?? 'malformed'}`, issue?.path.join('.') ?? '');
  }
  const changeset = parsed.data;
  const manifest = new Set(changeset.manifest);
  const seen = new Set<DocKey>();
  const parts = changeset.parts.map((part, i) => {
    if (!manifest.has(part.key)) throw new InvalidChangesetError(`changeset ${changeset.id}: part ${part.key} is not in its manifest`, `parts.${i}.key`);
    if (seen.has(part.key)) throw new InvalidChangesetError(`changeset ${changeset.id}: two parts for ${part.key}`, `parts.${i}.key`);
    seen.add(part.key);
    const metas = part.changes.map((bytes, j) => {
      try {
        return decodeChangeMeta(bytes);
      } catch (err) {
        throw new InvalidChangesetError(`changeset ${changeset.id}: change ${j} of ${part.key} is not a valid Automerge change: ${(err as Error).message}`, `parts.${i}.changes.${j}`, { cause: err });
      }
    });
    return { part, metas };
  });
  return { changeset, parts };
}

function stateFromRecord(collection: string, id: string, record: DocRecord): DocState {
  return { key: docKey(collection, id), collection, id, doc: record.v === null ? undefined : makeDoc(id, record.v), heads: record.h, chunks: record.n, gen: record.g ?? 0 };
}

/** Whether a log entry is a commit of this peer's (any instance's), rather than one received. */
function isLocal(entry: LogEntry, peerId: PeerId): boolean {
  return entry.origin === peerId && entry.from === undefined;
}

/** A log part, with the chunk that holds exactly its changes when the commit wrote one. */
function logPart(key: DocKey, hashes: readonly string[], deleted: boolean, before: DocState | undefined, after: DocState): LogPart {
  const base: LogPart = deleted ? { key, hashes, deleted: true } : { key, hashes };
  // A compaction (the generation moved) leaves the changes inside a full save: no chunk of their own.
  if (after.gen !== (before?.gen ?? 0)) return base;
  const c = after.chunks - 1;
  return after.gen === 0 ? { ...base, c } : { ...base, c, g: after.gen };
}

/**
 * The last position of the log: positions have no gaps, so probe forward from `from` (a
 * position known to exist, or 0) in growing steps, then bisect. O(log n) reads.
 */
async function findLogHead(storage: StorageAdapter, from: number): Promise<number> {
  const exists = async (pos: number) => (await storage.get(keys.log(pos))) !== undefined;
  let lo = from > 0 && (await exists(from)) ? from : 0;
  let step = 1;
  let hi = lo + step;
  while (await exists(hi)) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (await exists(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

function headerOf(entry: LogEntry, parts: ChangesetPart[]): Changeset {
  const cs = { id: entry.id, origin: entry.origin, seq: entry.seq, time: entry.time, parts, manifest: [...entry.manifest] };
  return entry.hint === undefined ? cs : { ...cs, hint: entry.hint };
}

function withHint<T extends object>(entry: T, hint: string | undefined): T & { hint?: string } {
  return hint === undefined ? entry : { ...entry, hint: hint.slice(0, 256) };
}

function mergeParts(a: readonly ChangesetPart[], b: readonly ChangesetPart[]): ChangesetPart[] {
  const byKey = new Map<DocKey, ChangesetPart>();
  for (const p of a) byKey.set(p.key, p);
  for (const p of b) byKey.set(p.key, p);
  return [...byKey.values()];
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/**
 * Splits concatenated Automerge change chunks (what a commit stores as one chunk): each is a
 * 4-byte magic, a 4-byte checksum, a type byte, a LEB128 length and that many bytes.
 * `undefined` for anything else (a full document save, say).
 */
function splitChanges(bytes: Uint8Array): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes[at] !== 0x85 || bytes[at + 1] !== 0x6f || bytes[at + 2] !== 0x4a || bytes[at + 3] !== 0x83) return undefined;
    // Type 1 is a change; 2 a compressed change (its checksum is of the uncompressed bytes, so it is not checked here).
    if (bytes[at + 8] !== 1) return undefined;
    let p = at + 9;
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      if (p >= bytes.length || shift > 28) return undefined;
      const b = bytes[p++] as number;
      length += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    const end = p + length;
    if (end > bytes.length) return undefined;
    out.push(bytes.subarray(at, end));
    at = end;
  }
  return out;
}

/** Whether a change chunk's checksum (the first 4 bytes of its hash) matches `hash` (hex). */
function checksumMatches(change: Uint8Array, hash: string): boolean {
  for (let i = 0; i < 4; i++) {
    if ((change[4 + i] as number) !== parseInt(hash.slice(2 * i, 2 * i + 2), 16)) return false;
  }
  return true;
}

function randomHex(bytes: number): string {
  const b = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
