import { createHash } from 'node:crypto';
import type { DocKey, JsonObject, Subscription, TxId } from '@atoll/protocol';

/** Every record has its place in the run: a logical step (1, 2, 3 … across the whole network) and the virtual time. */
interface Base {
  /** Logical step: the record's index in the history, from 1. */
  readonly step: number;
  /** Virtual time in milliseconds since the network was created. */
  readonly time: number;
}

/** A commit on a peer, as its store announced it (`store.onCommit`). */
export interface CommitRecord extends Base {
  readonly type: 'commit';
  readonly peer: string;
  /** Which life of the peer: 1, then +1 after each restart. */
  readonly incarnation: number;
  /** `local`: a transaction of this peer; `remote`: a delivery applied (or held parts released). */
  readonly source: 'local' | 'remote' | 'storage';
  /** The commit's log position on this peer. */
  readonly position: number;
  readonly txId: TxId;
  /** The documents this commit wrote (the parts it applied). */
  readonly parts: readonly DocKey[];
  /** Every document the transaction wrote at its origin. */
  readonly manifest: readonly DocKey[];
}

/** One document a stamped transaction wrote, as its origin saw it right after the commit. */
export interface TxWrite {
  readonly key: DocKey;
  /** Whether the transaction deleted the document. */
  readonly deleted: boolean;
  /** The value after the commit; for a delete, the last live value (what subscriptions match on). */
  readonly value: JsonObject | null;
  /**
   * The transactions whose writes to this document the origin held when it committed: the
   * causal past of this write (Automerge makes the new change depend on all of them).
   */
  readonly past: readonly TxId[];
}

/** A workload transaction committed at its origin, with its stamp (`_tx` token) and what it wrote. */
export interface TxRecord extends Base {
  readonly type: 'tx';
  readonly peer: string;
  /** The value the transaction stamped into `_tx` of every document it wrote. */
  readonly token: string;
  readonly txId: TxId;
  readonly hint: string | undefined;
  readonly writes: readonly TxWrite[];
}

/** How a workload transaction ended for its caller: acknowledged (committed), a no-op, or an error. Missing if its peer crashed first. */
export interface AckRecord extends Base {
  readonly type: 'ack';
  readonly peer: string;
  readonly token: string;
  /** `committed`: resolved after a durable commit; `no-op`: resolved without writing (or rolled back); `failed`: rejected. */
  readonly outcome: 'committed' | 'no-op' | 'failed';
  readonly txId: TxId | undefined;
  readonly error: string | undefined;
}

/** A delivery sent or received by a peer (SyncPeer `delivery-sent` / `delivery-received`). */
export interface DeliveryRecord extends Base {
  readonly type: 'delivery';
  readonly peer: string;
  readonly remote: string;
  readonly direction: 'sent' | 'received';
  readonly txId: TxId;
  /** For a received delivery: how applying it went (`applied`, `partial`, `held`, `duplicate`, `empty`, …). */
  readonly status: string | undefined;
}

/** A live-query result emitted on a peer (`store.observe`). */
export interface ObserveRecord extends Base {
  readonly type: 'observe';
  readonly peer: string;
  readonly incarnation: number;
  /** The collection of the harness's probe query (every document of it). */
  readonly collection: string;
  /** The log position of the commit that caused it; `null` for the first result, at registration. */
  readonly commit: number | null;
  readonly docs: readonly JsonObject[];
}

/** A fault or topology change applied by the harness. */
export interface FaultRecord extends Base {
  readonly type: 'fault';
  readonly fault: 'link' | 'partition' | 'heal' | 'drop' | 'crash' | 'restart';
  readonly peers: readonly string[];
  readonly detail: string;
}

/** A connection opened or closed on a peer. */
export interface ConnectionRecord extends Base {
  readonly type: 'connection';
  readonly peer: string;
  readonly remote: string;
  readonly event: 'open' | 'close';
  readonly code: number | undefined;
}

/** A peer's subscription set, when it starts and whenever it changes. */
export interface SubscriptionsRecord extends Base {
  readonly type: 'subscriptions';
  readonly peer: string;
  readonly subscriptions: readonly Subscription[];
}

/** Anything else worth keeping: errors the sync layer sent or received, logged warnings, torn reports. */
export interface NoteRecord extends Base {
  readonly type: 'note';
  readonly peer: string | undefined;
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
}

/** One entry of a {@link History}. */
export type HistoryRecord = CommitRecord | TxRecord | AckRecord | DeliveryRecord | ObserveRecord | FaultRecord | ConnectionRecord | SubscriptionsRecord | NoteRecord;

/** A record before the history numbers it. */
export type NewRecord = HistoryRecord extends unknown ? DistributiveOmit<HistoryRecord, 'step' | 'time'> : never;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Everything that happened in a run, in the order it happened: commits, workload transactions
 * and their acknowledgements, deliveries, live-query observations, faults, connections. The
 * checkers read it; two runs with the same seed produce equal histories
 * ({@link History.digest}), which is how replay is tested.
 *
 * Only deterministic facts are recorded: no wall-clock times, no byte counts or Automerge
 * hashes (they carry commit times), no random log ids.
 */
export class History {
  readonly #records: HistoryRecord[] = [];
  readonly #clock: () => number;

  constructor(clock: () => number = () => 0) {
    this.#clock = clock;
  }

  /** Appends a record, numbering it. */
  record(record: NewRecord): HistoryRecord {
    const full = { ...record, step: this.#records.length + 1, time: round(this.#clock()) } as HistoryRecord;
    this.#records.push(full);
    return full;
  }

  /** All records, oldest first. */
  get records(): readonly HistoryRecord[] {
    return this.#records;
  }

  get length(): number {
    return this.#records.length;
  }

  /** Records of one type. */
  ofType<T extends HistoryRecord['type']>(type: T): Extract<HistoryRecord, { type: T }>[] {
    return this.#records.filter((r): r is Extract<HistoryRecord, { type: T }> => r.type === type);
  }

  /** A SHA-256 of the whole history: equal digests, equal runs. */
  digest(): string {
    return createHash('sha256').update(JSON.stringify(this.#records)).digest('hex');
  }

  toJSON(): readonly HistoryRecord[] {
    return this.#records;
  }

  /** A history from recorded JSON (to re-run checkers on a saved run, or to build one by hand). */
  static from(records: readonly (HistoryRecord | NewRecord)[]): History {
    const history = new History();
    for (const r of records) history.#records.push({ ...r, step: history.#records.length + 1, time: 'time' in r ? r.time : 0 });
    return history;
  }

  /** The last `count` records, one line each, for failure messages. */
  tail(count = 30): string {
    return this.#records.slice(-count).map(formatRecord).join('\n');
  }
}

/** One line per record: `#12 @40.0ms commit p1 local pos=3 p1:2 [accounts/a, accounts/b]`. */
export function formatRecord(r: HistoryRecord): string {
  const head = `#${r.step} @${r.time.toFixed(1)}ms`;
  switch (r.type) {
    case 'commit':
      return `${head} commit ${r.peer}/${r.incarnation} ${r.source} pos=${r.position} ${r.txId} [${r.parts.join(', ')}]${r.parts.length < r.manifest.length ? ` of [${r.manifest.join(', ')}]` : ''}`;
    case 'tx':
      return `${head} tx ${r.peer} ${r.token} = ${r.txId} ${r.hint ?? ''} writes [${r.writes.map((w) => (w.deleted ? `-${w.key}` : w.key)).join(', ')}]`;
    case 'ack':
      return `${head} ack ${r.peer} ${r.token} ${r.outcome}${r.txId ? ` ${r.txId}` : ''}${r.error ? `: ${r.error}` : ''}`;
    case 'delivery':
      return `${head} delivery ${r.direction === 'sent' ? `${r.peer}→${r.remote}` : `${r.remote}→${r.peer}`} ${r.txId}${r.status ? ` ${r.status}` : ''}`;
    case 'observe':
      return `${head} observe ${r.peer}/${r.incarnation} ${r.collection} @${r.commit ?? 'start'}: ${r.docs.map((d) => `${text(d['_id'])}${d['_tx'] === undefined ? '' : `<${text(d['_tx'])}>`}`).join(' ')}`;
    case 'fault':
      return `${head} fault ${r.fault} ${r.detail}`;
    case 'connection':
      return `${head} ${r.event} ${r.peer}↔${r.remote}${r.code === undefined ? '' : ` (${r.code})`}`;
    case 'subscriptions':
      return `${head} subscriptions ${r.peer} ${JSON.stringify(r.subscriptions)}`;
    case 'note':
      return `${head} ${r.level} ${r.peer ?? ''} ${r.message}`;
  }
}

/** A JSON value as short text: strings as they are, anything else as JSON. */
export function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? 'undefined';
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
