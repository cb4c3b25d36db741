import type { DeliveryMessage, Subscription, TxId } from '@atoll/protocol';
import { MemoryStorageAdapter, Store, type Doc, type Logger, type Unsubscribe } from '@atoll/store';
import { SyncPeer, createMemoryTransportPair, type Atomicity, type MemoryTransport, type PendingTransaction, type TornTransaction } from '@atoll/sync';
import { ACCOUNTS, COLLECTION, OPENING_BALANCE, accountOf, isAccount, type Account } from './accounts.js';
import { judge, type Verdict } from './invariant.js';

export type PeerIndex = 1 | 2 | 3;
export const PEERS: readonly PeerIndex[] = [1, 2, 3];

export type LinkId = '1-2' | '2-3' | '1-3';
/** The three possible links; the higher-numbered peer dials the lower one. */
export const LINKS: readonly { readonly id: LinkId; readonly a: PeerIndex; readonly b: PeerIndex }[] = [
  { id: '1-2', a: 1, b: 2 },
  { id: '2-3', a: 2, b: 3 },
  { id: '1-3', a: 1, b: 3 },
];

export interface PeerSetup {
  readonly subs: readonly Account[];
  readonly mode: Atomicity;
}

/** Everything the user can set before a run. */
export interface LabSetup {
  readonly peers: Readonly<Record<PeerIndex, PeerSetup>>;
  readonly links: readonly LinkId[];
  /** Delay of every message on a link (links made from now on). */
  readonly latencyMs: number;
}

export const DEFAULT_SETUP: LabSetup = {
  peers: {
    1: { subs: ['A', 'B'], mode: 'eventual' },
    2: { subs: ['A', 'B'], mode: 'eventual' },
    3: { subs: ['A', 'B'], mode: 'eventual' },
  },
  links: ['1-2', '2-3'],
  latencyMs: 300,
};

/** One line of a peer's timeline. */
export type TimelineEntry =
  | {
      readonly kind: 'delivery';
      readonly seq: number;
      readonly from: PeerIndex | undefined;
      readonly tx: string;
      readonly via: DeliveryMessage['via'];
      readonly parts: readonly string[];
      readonly omitted: readonly { readonly account: string; readonly reason: DeliveryMessage['omitted'][number]['reason'] }[];
      readonly redacted: number;
      readonly status: string;
      /** What the peer showed right after. */
      readonly after: Verdict;
    }
  | { readonly kind: 'commit'; readonly seq: number; readonly tx: string }
  | { readonly kind: 'note'; readonly seq: number; readonly text: string };

const TIMELINE_LIMIT = 60;

/** Warnings and errors of the engine go to the console (the e2e fails on console errors). */
const labLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (m, f) => console.warn(`[atoll] ${m}`, ...(f ? [f] : [])),
  error: (m, f) => console.error(`[atoll] ${m}`, ...(f ? [f] : [])),
};

function subscriptionsFor(accounts: ReadonlySet<Account>): Subscription[] {
  if (accounts.size === ACCOUNTS.length) return [{ id: 'accounts', collection: COLLECTION }];
  return ACCOUNTS.filter((a) => accounts.has(a)).map((a) => ({ id: `account-${a}`, collection: COLLECTION, where: { _id: a } }));
}

/** The hint of a transaction, which the lab uses as its name. */
function txName(hint: string | undefined, txId: string): string {
  return hint ?? txId;
}

/**
 * One peer of the lab: its own store on memory storage, a sync peer over it, and what the
 * lab shows of it (balances, invariant, timeline, torn and held transactions).
 */
export class LabPeer {
  readonly index: PeerIndex;
  readonly store: Store;
  sync: SyncPeer;
  readonly subscribed: Set<Account>;
  /** Accounts subscribed to since their last value arrived: back-fill on its way. */
  readonly arriving = new Set<Account>();
  readonly balances = new Map<Account, number>();
  verdict: Verdict;
  /** How many times this peer has shown a torn state. */
  tornSeen = 0;
  /** The last torn state it showed. */
  lastTorn: string | undefined;
  timeline: TimelineEntry[] = [];
  torn: TornTransaction[] = [];
  pending: PendingTransaction[] = [];
  /** Peers it has an open connection with. */
  readonly connectedTo = new Set<PeerIndex>();
  /**
   * Subscription sets received from linked peers. A change of subscription takes a link's
   * latency to reach the peers that ship to it; the page exposes this count so that a test
   * can wait for it instead of guessing.
   */
  subscriptionsReceived = 0;
  readonly #lab: Lab;
  readonly #stopObserving: Unsubscribe;
  #stopEvents: (() => void)[] = [];
  #seq = 0;

  private constructor(lab: Lab, index: PeerIndex, store: Store, setup: PeerSetup) {
    this.#lab = lab;
    this.index = index;
    this.store = store;
    this.subscribed = new Set(setup.subs);
    this.sync = this.#newSync(setup.mode);
    this.verdict = this.#judge();
    this.#stopObserving = store.observe({ collection: COLLECTION }, (docs) => this.#onDocs(docs));
  }

  static async open(lab: Lab, index: PeerIndex, setup: PeerSetup): Promise<LabPeer> {
    const store = await Store.open({ storage: new MemoryStorageAdapter(), logger: labLogger });
    return new LabPeer(lab, index, store, setup);
  }

  get mode(): Atomicity {
    return this.sync.atomicity;
  }

  #newSync(mode: Atomicity): SyncPeer {
    const sync = new SyncPeer({ store: this.store, subscriptions: subscriptionsFor(this.subscribed), atomicity: mode, logger: labLogger });
    const ev = sync.events;
    this.#stopEvents = [
      ev.on('delivery-received', (e) => this.#onDelivery(e.delivery, e.origin, e.status)),
      ev.on('torn', () => void this.refreshLists()),
      ev.on('unavailable', (e) => {
        const from = this.#lab.indexOf(e.connection.remote?.peerId);
        const what = e.keys.map(accountOf);
        this.note(`Peer ${from ?? '?'} does not have ${what.join(' and ')} of “${this.#lab.txLabel(e.txId)}” either.`);
        void this.refreshLists();
      }),
      ev.on('message-sent', (e) => {
        if (e.type !== 'want') return;
        const to = this.#lab.indexOf(e.connection.remote?.peerId);
        this.note(`Asked peer ${to ?? '?'} for the missing part.`);
      }),
      ev.on('message-received', (e) => {
        if (e.type !== 'subscribe') return;
        this.subscriptionsReceived++;
        this.#lab.changed();
      }),
      ev.on('open', (e) => {
        const other = this.#lab.indexOf(e.connection.remote?.peerId);
        if (other === undefined) return;
        this.connectedTo.add(other);
        this.#lab.changed();
      }),
      ev.on('close', (e) => {
        const other = this.#lab.indexOf(e.connection.remote?.peerId);
        if (other === undefined) return;
        this.connectedTo.delete(other);
        this.#lab.changed();
      }),
    ];
    return sync;
  }

  #onDocs(docs: readonly Doc[]): void {
    this.balances.clear();
    for (const doc of docs) {
      if (!isAccount(doc._id)) continue;
      this.balances.set(doc._id, doc['balance'] as number);
      this.arriving.delete(doc._id);
    }
    this.#rejudge();
  }

  #judge(): Verdict {
    return judge({ subscribed: this.subscribed, arriving: this.arriving, balances: this.balances });
  }

  /** Recomputes the invariant, and counts a torn state each time one is shown. */
  #rejudge(): void {
    const before = this.verdict;
    this.verdict = this.#judge();
    const shown = this.describeBalances();
    if (this.verdict.kind === 'torn' && (before.kind !== 'torn' || this.lastTorn !== shown)) {
      this.tornSeen++;
      this.lastTorn = shown;
    }
    this.#lab.changed();
  }

  /** `A 70 · B 100`, or `nothing` */
  describeBalances(): string {
    const parts = ACCOUNTS.filter((a) => this.balances.has(a)).map((a) => `${a} ${this.balances.get(a)}`);
    return parts.length > 0 ? parts.join(' · ') : 'nothing';
  }

  #onDelivery(delivery: DeliveryMessage, origin: string, status: string): void {
    this.#lab.rememberTx(delivery.tx.id, delivery.tx.hint);
    this.#push({
      kind: 'delivery',
      seq: 0,
      from: this.#lab.indexOf(origin),
      tx: txName(delivery.tx.hint, delivery.tx.id),
      via: delivery.via,
      parts: delivery.parts.map((p) => accountOf(p.key)),
      omitted: delivery.omitted.map((o) => ({ account: accountOf(o.key), reason: o.reason })),
      redacted: delivery.redacted,
      status,
      after: this.verdict,
    });
    void this.refreshLists();
  }

  #push(entry: TimelineEntry): void {
    this.timeline.unshift({ ...entry, seq: ++this.#seq });
    if (this.timeline.length > TIMELINE_LIMIT) this.timeline.length = TIMELINE_LIMIT;
    this.#lab.changed();
  }

  note(text: string): void {
    this.#push({ kind: 'note', seq: 0, text });
  }

  committed(tx: string): void {
    this.#push({ kind: 'commit', seq: 0, tx });
  }

  /** Reads `torn()` and `pending()` again. */
  async refreshLists(): Promise<void> {
    const sync = this.sync;
    const [torn, pending] = await Promise.all([sync.torn(), sync.pending()]);
    if (sync !== this.sync) return;
    this.torn = torn;
    this.pending = pending;
    this.#lab.changed();
  }

  setSubscribed(account: Account, on: boolean): void {
    if (on === this.subscribed.has(account)) return;
    if (on) {
      this.subscribed.add(account);
      if (!this.balances.has(account)) this.arriving.add(account);
    } else {
      this.subscribed.delete(account);
      this.arriving.delete(account);
    }
    this.sync.setSubscriptions(subscriptionsFor(this.subscribed));
    const now = ACCOUNTS.filter((a) => this.subscribed.has(a));
    this.note(now.length > 0 ? `Now subscribes to ${now.join(' and ')}.` : 'Now subscribes to nothing.');
    this.#rejudge();
  }

  /** Replaces the sync peer with one in another mode, on the same store (held work is kept: it is persisted). */
  async setMode(mode: Atomicity): Promise<void> {
    if (mode === this.mode) return;
    for (const stop of this.#stopEvents) stop();
    await this.sync.close();
    this.connectedTo.clear();
    this.sync = this.#newSync(mode);
    this.note(`Switched to ${mode} mode.`);
    await this.refreshLists();
  }

  async release(txId: TxId): Promise<void> {
    const name = this.#lab.txLabel(txId);
    if (await this.sync.release(txId)) this.note(`Released “${name}”: its parts are shown now, and it is reported as torn.`);
    await this.refreshLists();
  }

  async close(): Promise<void> {
    for (const stop of this.#stopEvents) stop();
    this.#stopObserving();
    await this.sync.close();
    await this.store.close();
  }
}

/** Which scenario a preset runs, and where it is. */
export interface PresetState {
  readonly scenario: 1 | 2;
  readonly mode: Atomicity;
  /** `running`: step 1 under way; `ready`: step 2 (widen or mitigate) can go; `step-2`: it went; `done`: settled. */
  step: 'running' | 'ready' | 'step-2' | 'done';
}

/**
 * The caveats lab: three peers in the page, linked by in-memory transports. Peer 1 writes;
 * the lab shows what each peer receives and shows.
 */
export class Lab {
  peers: LabPeer[] = [];
  links = new Set<LinkId>();
  latencyMs = DEFAULT_SETUP.latencyMs;
  preset: PresetState | undefined;
  /** The last thing that went wrong, for the page to say. */
  problem: string | undefined;
  readonly #ends = new Map<LinkId, MemoryTransport>();
  readonly #txNames = new Map<string, string>();
  readonly #listeners = new Set<() => void>();
  #queue: Promise<void> = Promise.resolve();
  #notifyScheduled = false;
  #generation = 0;

  /** Calls `listener` (batched, on a microtask) after anything changed. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  changed(): void {
    if (this.#notifyScheduled) return;
    this.#notifyScheduled = true;
    queueMicrotask(() => {
      this.#notifyScheduled = false;
      this.#checkPreset();
      for (const l of this.#listeners) l();
    });
  }

  peer(index: PeerIndex): LabPeer {
    const p = this.peers[index - 1];
    if (!p) throw new Error(`the lab has no peer ${index}`);
    return p;
  }

  indexOf(peerId: string | undefined): PeerIndex | undefined {
    const i = this.peers.findIndex((p) => p.store.peerId === peerId);
    return i < 0 ? undefined : ((i + 1) as PeerIndex);
  }

  rememberTx(txId: string, hint: string | undefined): void {
    if (hint !== undefined) this.#txNames.set(txId, hint);
  }

  txLabel(txId: string): string {
    return this.#txNames.get(txId) ?? txId;
  }

  /** Runs lab operations one at a time, in order; a failure is shown on the page. */
  run(op: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(op).catch((err: unknown) => {
      this.problem = err instanceof Error ? err.message : String(err);
      this.changed();
    });
    this.#queue = next;
    return next;
  }

  /** Starts over: new peers (fresh stores), the given links, and peer 1 opens accounts A and B. */
  reset(setup: LabSetup = DEFAULT_SETUP): Promise<void> {
    return this.run(() => this.#reset(setup));
  }

  async #reset(setup: LabSetup): Promise<void> {
    this.#generation++;
    this.problem = undefined;
    this.preset = undefined;
    await this.#closePeers();
    this.latencyMs = setup.latencyMs;
    this.peers = await Promise.all(PEERS.map((i) => LabPeer.open(this, i, setup.peers[i])));
    for (const id of setup.links) this.#link(id);
    await this.#write(`open A and B (${OPENING_BALANCE} each)`, async (tx) => {
      for (const a of ACCOUNTS) await tx.insert(COLLECTION, { _id: a, balance: OPENING_BALANCE });
    });
    this.changed();
  }

  async #closePeers(): Promise<void> {
    for (const end of this.#ends.values()) end.close(1000, 'lab reset');
    this.#ends.clear();
    this.links.clear();
    const old = this.peers;
    this.peers = [];
    await Promise.all(old.map((p) => p.close()));
  }

  /** Closes every peer and its store. */
  close(): Promise<void> {
    return this.run(() => this.#closePeers());
  }

  #link(id: LinkId): void {
    if (this.links.has(id)) return;
    const link = LINKS.find((l) => l.id === id);
    if (!link) throw new Error(`no link ${id}`);
    const [dialEnd, listenEnd] = createMemoryTransportPair({ latencyMs: this.latencyMs });
    this.peer(link.a).sync.accept(listenEnd);
    this.peer(link.b).sync.connect(dialEnd, 'dialer');
    this.#ends.set(id, dialEnd);
    this.links.add(id);
    this.peer(link.a).note(`Linked with peer ${link.b}.`);
    this.peer(link.b).note(`Linked with peer ${link.a}.`);
  }

  #unlink(id: LinkId): void {
    const link = LINKS.find((l) => l.id === id);
    if (!link || !this.links.has(id)) return;
    this.#ends.get(id)?.close(1000, 'unlinked in the lab');
    this.#ends.delete(id);
    this.links.delete(id);
    this.peer(link.a).note(`Unlinked from peer ${link.b}.`);
    this.peer(link.b).note(`Unlinked from peer ${link.a}.`);
  }

  setLink(id: LinkId, on: boolean): Promise<void> {
    return this.run(async () => {
      if (on) this.#link(id);
      else this.#unlink(id);
      this.changed();
    });
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
    this.changed();
  }

  setSubscribed(index: PeerIndex, account: Account, on: boolean): Promise<void> {
    return this.run(async () => this.peer(index).setSubscribed(account, on));
  }

  setMode(index: PeerIndex, mode: Atomicity): Promise<void> {
    return this.run(async () => {
      const peer = this.peer(index);
      if (peer.mode === mode) return;
      const relink = LINKS.filter((l) => this.links.has(l.id) && (l.a === index || l.b === index)).map((l) => l.id);
      for (const id of relink) {
        this.#ends.get(id)?.close(1000, 'mode change');
        this.#ends.delete(id);
        this.links.delete(id);
      }
      await peer.setMode(mode);
      for (const id of relink) this.#link(id);
      this.changed();
    });
  }

  /** Peer 1 moves `amount` from A to B in one transaction. */
  transfer(amount: number): Promise<void> {
    return this.run(async () => {
      this.problem = undefined;
      if (!Number.isSafeInteger(amount) || amount <= 0) throw new Error('Enter a whole amount greater than 0.');
      await this.#write(`transfer ${amount} from A to B`, async (tx) => {
        const a = await tx.get<{ balance: number }>(COLLECTION, 'A');
        if (!a || !(await tx.get(COLLECTION, 'B'))) throw new Error('Peer 1 has no accounts: reset the lab.');
        if (a.balance < amount) throw new Error(`Account A holds only ${a.balance} at peer 1: it cannot send ${amount}.`);
        await tx.update(COLLECTION, 'A', (d) => void (d['balance'] = (d['balance'] as number) - amount));
        await tx.update(COLLECTION, 'B', (d) => void (d['balance'] = (d['balance'] as number) + amount));
      });
      this.changed();
    });
  }

  async #write(hint: string, fn: Parameters<Store['transaction']>[0]): Promise<void> {
    const writer = this.peer(1);
    await writer.store.transaction(fn, { hint });
    writer.committed(hint);
  }

  release(index: PeerIndex, txId: TxId): Promise<void> {
    return this.run(() => this.peer(index).release(txId));
  }

  /** Runs step 1 of one of Ditto's scenarios: the setup, then the transfer. */
  runPreset(scenario: 1 | 2, mode: Atomicity): Promise<void> {
    return this.run(async () => {
      await this.#reset(presetSetup(scenario, mode, this.latencyMs));
      const generation = this.#generation;
      this.preset = { scenario, mode, step: 'running' };
      this.changed();
      await this.#transferNow(30);
      if (generation === this.#generation) this.changed();
    });
  }

  async #transferNow(amount: number): Promise<void> {
    await this.#write(`transfer ${amount} from A to B`, async (tx) => {
      await tx.update(COLLECTION, 'A', (d) => void (d['balance'] = (d['balance'] as number) - amount));
      await tx.update(COLLECTION, 'B', (d) => void (d['balance'] = (d['balance'] as number) + amount));
    });
  }

  /** Step 2: scenario 1 widens peer 2 to B; scenario 2 links peer 3 to peer 1 (the mitigation). */
  presetStep2(): Promise<void> {
    return this.run(async () => {
      const preset = this.preset;
      if (!preset || preset.step !== 'ready') return;
      preset.step = 'step-2';
      if (preset.scenario === 1) this.peer(2).setSubscribed('B', true);
      else this.#link('1-3');
      this.changed();
    });
  }

  /** Moves the preset along as the peers settle. */
  #checkPreset(): void {
    const preset = this.preset;
    if (!preset || this.peers.length === 0) return;
    const writer = this.peer(1);
    const sameAsWriter = (p: LabPeer, accounts: readonly Account[]) => accounts.every((a) => p.balances.has(a) && p.balances.get(a) === writer.balances.get(a));
    const p2 = this.peer(2);
    const p3 = this.peer(3);
    if (preset.step === 'running') {
      const ready =
        preset.scenario === 1
          ? sameAsWriter(p2, ['A']) && writer.balances.get('A') !== OPENING_BALANCE
          : preset.mode === 'eventual'
            ? sameAsWriter(p3, ['A']) && writer.balances.get('A') !== OPENING_BALANCE && p3.torn.length === 2
            : p3.pending.length === 2 && p3.pending.every((p) => p.unavailableFrom.length > 0);
      if (ready) preset.step = 'ready';
    } else if (preset.step === 'step-2') {
      const done = preset.scenario === 1 ? sameAsWriter(p2, ['A', 'B']) : sameAsWriter(p3, ['A', 'B']) && p3.pending.length === 0 && p3.torn.length === 0;
      if (done) preset.step = 'done';
    }
  }

  /** Forgets the preset (the user took the controls). */
  leavePreset(): void {
    if (this.preset) {
      this.preset = undefined;
      this.changed();
    }
  }
}

/** The setup of each of Ditto's two scenarios, every peer in `mode`. */
export function presetSetup(scenario: 1 | 2, mode: Atomicity, latencyMs: number): LabSetup {
  if (scenario === 1) {
    return {
      peers: { 1: { subs: ['A', 'B'], mode }, 2: { subs: ['A'], mode }, 3: { subs: [], mode } },
      links: ['1-2'],
      latencyMs,
    };
  }
  return {
    peers: { 1: { subs: ['A', 'B'], mode }, 2: { subs: ['A'], mode }, 3: { subs: ['A', 'B'], mode } },
    links: ['1-2', '2-3'],
    latencyMs,
  };
}
