import { deliveryCoverage, type Changeset, type ChangesetPart, type DeliveryMessage, type DocKey, type PeerId, type Subscription, type TxId } from '@atoll/protocol';
import { InvalidChangesetError, type ApplyResult, type Store } from '@atoll/store';
import { selects } from './subscriptions.js';

/** How a peer treats transactions it can get only part of. See docs/atomicity.md. */
export type Atomicity = 'eventual' | 'atomic';

/** Why a part of a transaction is missing on this peer. */
export type MissingReason = 'not-subscribed' | 'not-held' | 'not-permitted' | 'too-large';

/** A transaction this peer holds only partly within its subscriptions. */
export interface TornTransaction {
  readonly txId: TxId;
  readonly origin: PeerId;
  readonly hint?: string;
  /** Keys of the parts this peer holds. */
  readonly present: readonly DocKey[];
  /** Parts within this peer's subscriptions that it does not hold, and why. */
  readonly missing: readonly { readonly key: DocKey; readonly reason: MissingReason }[];
  /** Parts this peer may not read (their keys are redacted), counted. */
  readonly redacted: number;
}

/** Work an atomic peer holds back, invisible, and why. */
export interface PendingTransaction {
  readonly txId: TxId;
  readonly origin: PeerId;
  readonly hint?: string;
  /** Parts received and waiting. */
  readonly present: readonly DocKey[];
  /**
   * Why it waits: parts within the subscription that no peer has delivered yet
   * (`not-held`, `too-large`), or Automerge changes it depends on (`missing-dependencies`).
   */
  readonly reason: 'missing-parts' | 'missing-dependencies';
  readonly missing: readonly { readonly key: DocKey; readonly reason: MissingReason }[];
  /** Peers that answered `unavailable` for it since this peer last asked. */
  readonly unavailableFrom: readonly PeerId[];
}

/** Replication state persisted with an apply (the connection's cursor after a delivery). */
export interface SyncState {
  readonly name: string;
  readonly value: unknown;
}

/** A received delivery with parts, as the connection hands it over. */
export interface ReceivedDelivery {
  readonly changeset: Changeset;
  readonly delivery: DeliveryMessage;
  /** The cursor once this delivery is processed, to persist in the write that applies it. */
  readonly syncState?: SyncState;
}

/** The sync state the last storage write of a `receive` call carried. */
interface Written {
  syncState: SyncState | undefined;
}

/** What became of one received delivery: the store's result, or why it was rejected. */
export type ReceiveOutcome = ApplyResult | InvalidChangesetError;

interface HeldTx {
  changeset: Changeset;
  missing: { key: DocKey; reason: MissingReason }[];
  unavailableFrom: PeerId[];
  from: PeerId | undefined;
}

interface Persisted {
  readonly held: HeldTx[];
  readonly torn: TornTransaction[];
}

const STATE = 'atomicity';

/**
 * The receiving side of §6 of the design: what a peer does with deliveries that carry only part
 * of a transaction. Eventual peers apply what arrives and record the tear; atomic peers hold the
 * delivery until every part their subscriptions select is present, then apply it in one commit.
 * Both survive restarts (the state lives in the store's sync state).
 */
export class AtomicityManager {
  readonly mode: Atomicity;
  readonly #store: Store;
  readonly #subscriptions: () => readonly Subscription[];
  readonly #want: (txId: TxId, keys: readonly DocKey[]) => void;
  readonly #onTorn: (torn: TornTransaction) => void;
  readonly #held = new Map<TxId, HeldTx>();
  readonly #torn = new Map<TxId, TornTransaction>();
  /** Back-fill deliveries an atomic peer keeps, per connection, until the back-fill is complete. */
  readonly #backfills = new Map<object, { changeset: Changeset; delivery: DeliveryMessage; from: PeerId | undefined }[]>();
  #loaded: Promise<void> | undefined;

  constructor(options: {
    store: Store;
    mode: Atomicity;
    subscriptions: () => readonly Subscription[];
    want: (txId: TxId, keys: readonly DocKey[]) => void;
    onTorn: (torn: TornTransaction) => void;
  }) {
    this.mode = options.mode;
    this.#store = options.store;
    this.#subscriptions = options.subscriptions;
    this.#want = options.want;
    this.#onTorn = options.onTorn;
  }

  /** Loads what was held or torn before a restart (once; see {@link reload}). */
  load(): Promise<void> {
    this.#loaded ??= this.#read();
    return this.#loaded;
  }

  /**
   * Reads the persisted state again: another store instance on the same storage (the previous
   * leader tab) may have changed it since this one last looked.
   */
  reload(): Promise<void> {
    this.#loaded = this.#read();
    return this.#loaded;
  }

  async #read(): Promise<void> {
    const state = await this.#store.readSyncState<Persisted>(STATE);
    this.#held.clear();
    this.#torn.clear();
    for (const h of state?.held ?? []) this.#held.set(h.changeset.id, h);
    for (const t of state?.torn ?? []) this.#torn.set(t.txId, t);
  }

  /** Transactions held back (atomic mode), including those waiting for Automerge dependencies. */
  pending(): PendingTransaction[] {
    const out: PendingTransaction[] = [...this.#held.values()].map((h) => ({
      ...header(h.changeset),
      present: h.changeset.parts.map((p) => p.key),
      reason: 'missing-parts' as const,
      missing: h.missing,
      unavailableFrom: [...h.unavailableFrom],
    }));
    for (const h of this.#store.held()) {
      if (this.#held.has(h.changeset.id)) continue;
      out.push({
        ...header(h.changeset),
        present: h.changeset.parts.map((p) => p.key),
        reason: 'missing-dependencies',
        missing: [],
        unavailableFrom: [],
      });
    }
    return out;
  }

  /** Transactions this peer holds only partly within its subscriptions. */
  torn(): TornTransaction[] {
    return [...this.#torn.values()];
  }

  /** Asks for every missing part again (a new connection opened). */
  rewant(): void {
    for (const h of this.#held.values()) {
      h.unavailableFrom = [];
      this.#want(h.changeset.id, h.missing.filter((m) => m.reason === 'not-held' || m.reason === 'too-large').map((m) => m.key));
    }
  }

  /** A peer answered a `want` with `unavailable`. */
  unavailable(txId: TxId, from: PeerId): void {
    const h = this.#held.get(txId);
    if (h && !h.unavailableFrom.includes(from)) h.unavailableFrom.push(from);
  }

  /**
   * Handles received deliveries with parts, in order. Resolves, per delivery, with the store's
   * result, a `held` result when the transaction waits for parts, or the
   * `InvalidChangesetError` that rejected it (it changed nothing).
   *
   * Consecutive deliveries that need nothing but applying go to the store in ONE
   * `applyChangesets` call — one storage write for a whole run of a catch-up instead of one
   * each — with the `syncState` of the run's last delivery (the cursor it reaches) in the same
   * write. Each delivery is still whole in that commit; the rest (held transactions, tears,
   * atomic back-fills) are handled one by one, in their place in the order.
   */
  async receive(items: readonly ReceivedDelivery[], from: PeerId | undefined, source: object): Promise<{ outcomes: ReceiveOutcome[]; persisted: SyncState | undefined }> {
    await this.load();
    const out: ReceiveOutcome[] = [];
    const written: Written = { syncState: undefined };
    let run: { index: number; item: ReceivedDelivery }[] = [];
    const flush = async (): Promise<void> => {
      if (run.length === 0) return;
      const taken = run;
      run = [];
      const results = await this.#applyRun(taken.map((r) => r.item), from, written);
      taken.forEach((r, k) => (out[r.index] = results[k] as ReceiveOutcome));
    };
    for (const [index, item] of items.entries()) {
      const { changeset, delivery } = item;
      if (this.mode === 'atomic' && delivery.via === 'backfill') {
        // A widened subscription is back-filled one transaction per delivery; showing each as it
        // comes would show a newly selected document at an old version next to documents at their
        // latest. An atomic peer keeps them until the back-fill is complete (the next caught-up).
        let list = this.#backfills.get(source);
        if (!list) this.#backfills.set(source, (list = []));
        list.push({ changeset, delivery, from });
        out[index] = heldResult(changeset);
        continue;
      }
      if (!this.#held.has(changeset.id) && !this.#torn.has(changeset.id) && this.#missingWithin(delivery).length === 0) {
        run.push({ index, item });
        continue;
      }
      await flush();
      try {
        out[index] = await this.#receiveNow(changeset, delivery, from, item.syncState, written);
      } catch (err) {
        if (!(err instanceof InvalidChangesetError)) throw err;
        out[index] = err;
      }
    }
    await flush();
    return { outcomes: out, persisted: written.syncState };
  }

  /**
   * Applies a run of whole deliveries in one commit. Invalid input anywhere rejects a
   * multi-changeset call whole, so then each is applied on its own to find which one is bad.
   */
  async #applyRun(items: readonly ReceivedDelivery[], from: PeerId | undefined, written: Written): Promise<ReceiveOutcome[]> {
    const syncState = items[items.length - 1]?.syncState;
    const options = { whole: this.mode === 'atomic', ...(from === undefined ? {} : { from }), ...(syncState === undefined ? {} : { syncState }) };
    try {
      const results = await this.#store.applyChangesets(
        items.map((i) => i.changeset),
        options,
      );
      if (syncState !== undefined) written.syncState = syncState;
      return results;
    } catch (err) {
      if (!(err instanceof InvalidChangesetError)) throw err;
      if (items.length === 1) return [err];
    }
    const out: ReceiveOutcome[] = [];
    for (const item of items) {
      try {
        out.push(await this.#apply(item.changeset, from, item.syncState, written));
      } catch (err) {
        if (!(err instanceof InvalidChangesetError)) throw err;
        out.push(err);
      }
    }
    return out;
  }

  /**
   * The back-fill from `source` is complete: applies every back-filled transaction that is
   * whole within the subscriptions in ONE local commit; those still missing parts are held.
   */
  async backfillComplete(source: object): Promise<void> {
    const list = this.#backfills.get(source);
    this.#backfills.delete(source);
    if (!list || list.length === 0) return;
    const whole: { changeset: Changeset; from: PeerId | undefined }[] = [];
    const rest: typeof list = [];
    for (const item of list) {
      if (this.#held.has(item.changeset.id) || this.#missingWithin(item.delivery).some((m) => m.reason === 'not-held' || m.reason === 'too-large')) rest.push(item);
      else whole.push(item);
    }
    if (whole.length > 0) {
      const from = whole[0]?.from;
      await this.#store.applyChangesets(
        whole.map((w) => w.changeset),
        { whole: true, ...(from === undefined ? {} : { from }) },
      );
    }
    for (const item of rest) await this.#receiveNow(item.changeset, item.delivery, item.from);
  }

  /** A connection closed: its unfinished back-fill is dropped (a reconnect back-fills again). */
  dropBackfill(source: object): void {
    this.#backfills.delete(source);
  }

  async #receiveNow(changeset: Changeset, delivery: DeliveryMessage, from: PeerId | undefined, syncState?: SyncState, written?: Written): Promise<ApplyResult> {
    const id = changeset.id;
    const waiting = this.#held.get(id);
    if (waiting) return this.#merge(waiting, changeset, from);
    let missing = this.#missingWithin(delivery);
    if (missing.length > 0) {
      // Parts this peer already applied for the transaction (from another path) are not
      // missing: without this, every partial copy would hold it again and want it again.
      const applied = new Set((await this.#store.entriesFor(id)).flatMap((e) => e.parts.map((p) => p.key)));
      missing = missing.filter((m) => !applied.has(m.key));
    }
    if (this.mode === 'atomic' && missing.some((m) => m.reason === 'not-held' || m.reason === 'too-large')) {
      const h: HeldTx = { changeset, missing, unavailableFrom: [], from };
      this.#held.set(id, h);
      await this.#save();
      this.#want(id, missing.map((m) => m.key));
      return heldResult(changeset);
    }
    const result = await this.#apply(changeset, from, syncState, written);
    await this.#noteTear(changeset, delivery, missing);
    return result;
  }

  /**
   * Gives up waiting: applies the parts that are present, and reports the transaction as torn.
   * Resolves false when nothing is held under that id.
   */
  async release(txId: TxId): Promise<boolean> {
    await this.load();
    const h = this.#held.get(txId);
    if (!h) return false;
    this.#held.delete(txId);
    await this.#store.applyChangeset(h.changeset, h.from === undefined ? {} : { from: h.from });
    const torn: TornTransaction = { ...header(h.changeset), present: h.changeset.parts.map((p) => p.key), missing: h.missing, redacted: 0 };
    this.#torn.set(txId, torn);
    await this.#save();
    this.#onTorn(torn);
    return true;
  }

  async #merge(h: HeldTx, changeset: Changeset, from: PeerId | undefined): Promise<ApplyResult> {
    const parts = new Map<DocKey, ChangesetPart>(h.changeset.parts.map((p) => [p.key, p]));
    for (const p of changeset.parts) parts.set(p.key, p);
    h.changeset = { ...h.changeset, parts: [...parts.values()] };
    h.missing = h.missing.filter((m) => !parts.has(m.key));
    if (h.missing.some((m) => m.reason === 'not-held' || m.reason === 'too-large')) {
      await this.#save();
      return heldResult(changeset);
    }
    this.#held.delete(h.changeset.id);
    const result = await this.#apply(h.changeset, h.from ?? from);
    await this.#save();
    return result;
  }

  async #apply(changeset: Changeset, from: PeerId | undefined, syncState?: SyncState, written?: Written): Promise<ApplyResult> {
    // Atomic peers let the store hold the whole transaction while any part lacks its Automerge
    // dependencies, so per-document order never exposes part of it either.
    const result = await this.#store.applyChangeset(changeset, { whole: this.mode === 'atomic', ...(from === undefined ? {} : { from }), ...(syncState === undefined ? {} : { syncState }) });
    if (written && syncState !== undefined) written.syncState = syncState;
    return result;
  }

  /** Parts within this peer's subscriptions that the delivery lacks, with the sender's reasons. */
  #missingWithin(delivery: DeliveryMessage): { key: DocKey; reason: MissingReason }[] {
    const coverage = deliveryCoverage(delivery);
    const subs = this.#subscriptions();
    const reasons = new Map(delivery.omitted.map((o) => [o.key, o.reason] as const));
    return coverage.missing.filter((key) => selects(subs, this.#store, key)).map((key) => ({ key, reason: reasons.get(key) ?? 'not-held' }));
  }

  async #noteTear(changeset: Changeset, delivery: DeliveryMessage, missing: { key: DocKey; reason: MissingReason }[]): Promise<void> {
    const id = changeset.id;
    const before = this.#torn.get(id);
    if (before) {
      const got = new Set(changeset.parts.map((p) => p.key));
      const still = before.missing.filter((m) => !got.has(m.key));
      if (still.length === before.missing.length) return;
      if (still.length === 0) this.#torn.delete(id);
      else this.#torn.set(id, { ...before, present: [...new Set([...before.present, ...got])], missing: still });
      await this.#save();
      return;
    }
    if (missing.length === 0) return;
    const torn: TornTransaction = { ...header(changeset), present: changeset.parts.map((p) => p.key), missing, redacted: delivery.redacted };
    this.#torn.set(id, torn);
    await this.#save();
    this.#onTorn(torn);
  }

  async #save(): Promise<void> {
    const state: Persisted = { held: [...this.#held.values()], torn: [...this.#torn.values()] };
    await this.#store.writeSyncState(STATE, state);
  }
}

function header(cs: Changeset): { txId: TxId; origin: PeerId; hint?: string } {
  return cs.hint === undefined ? { txId: cs.id, origin: cs.origin } : { txId: cs.id, origin: cs.origin, hint: cs.hint };
}

/** What `receive` reports for a transaction held back here (not in the store). */
function heldResult(_changeset: Changeset): ApplyResult {
  return { status: 'held', position: undefined, applied: [], held: [], skipped: [] };
}
