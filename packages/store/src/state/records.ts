import { Packr } from 'msgpackr';
import type { DocKey, JsonObject, PeerId, TxId } from '@atoll/protocol';
import type { StorageKey } from '../storage/adapter.js';

/**
 * The store's layout in its StorageAdapter. Every commit writes, in one batch, the records
 * of the documents it touched, their new Automerge chunks and one log entry (plus, for a
 * changeset from another peer, its transaction index entry) — so a crash leaves either all of
 * it or none. A local single-document commit is three puts: chunk, record, log entry.
 *
 * ```
 * ['meta', 'peer']            PeerId of this store (all tabs of a profile share it)
 * ['meta', 'head']            last log position as of an older layout: now only where the search
 *                             for the last log entry starts (the head is the last ['log', …] key)
 * ['meta', 'seq']             last local commit counter as of the last entry that came from
 *                             another peer (written only when such an entry follows a local
 *                             one); a local last entry carries the counter itself
 * ['meta', 'log']             id of this log's incarnation (cursors into it hold only for it)
 * ['sync', name]              replication state (cursors per remote peer)
 * ['doc', collection, id]     DocRecord
 * ['am', collection, id, n]   Automerge bytes: chunk n (a full save or the changes of one commit)
 * ['log', position]           LogEntry (position zero-padded to sort)
 * ['tx', txId, position]      a log position holding (part of) a transaction from another peer;
 *                             local commits are found through the log ({@link Store.entriesFor}).
 *                             An older layout kept ['tx', txId] → positions[]; both are read.
 * ['held', txId]              parts waiting for missing Automerge dependencies
 * ```
 */
export const keys = {
  peer: ['meta', 'peer'] as StorageKey,
  head: ['meta', 'head'] as StorageKey,
  seq: ['meta', 'seq'] as StorageKey,
  logId: ['meta', 'log'] as StorageKey,
  sync: (name: string): StorageKey => ['sync', name],
  docPrefix: ['doc'] as StorageKey,
  doc: (collection: string, id: string): StorageKey => ['doc', collection, id],
  chunkPrefix: (collection: string, id: string): StorageKey => ['am', collection, id],
  chunk: (collection: string, id: string, n: number): StorageKey => ['am', collection, id, pad(n)],
  logPrefix: ['log'] as StorageKey,
  log: (pos: number): StorageKey => ['log', pad(pos)],
  tx: (id: TxId): StorageKey => ['tx', id],
  txPosition: (id: TxId, pos: number): StorageKey => ['tx', id, pad(pos)],
  heldPrefix: ['held'] as StorageKey,
  held: (id: TxId): StorageKey => ['held', id],
};

/** Zero-padded so positions sort as strings (2^53 has 16 digits). */
export function pad(n: number): string {
  return String(n).padStart(16, '0');
}

/** A document as persisted: the JSON value readers see, and what Automerge needs. */
export interface DocRecord {
  /** The current value without `_id`; `null` for a tombstone. */
  readonly v: JsonObject | null;
  /** Automerge heads. */
  readonly h: readonly string[];
  /** Number of Automerge chunks stored under ['am', collection, id]. */
  readonly n: number;
  /**
   * How many times the chunks were compacted into one (absent: never). A log part's chunk
   * index means something only in the generation it was written in.
   */
  readonly g?: number;
}

/** One document's share of a logged transaction. */
export interface LogPart {
  /** The document. */
  readonly key: DocKey;
  /** Hashes of the Automerge changes it applied; the bytes live in the document. */
  readonly hashes: readonly string[];
  /** Set when the transaction deleted the document. */
  readonly deleted?: true;
  /**
   * The Automerge chunk (`['am', collection, id, c]`) that holds exactly these changes, in
   * chunk generation `g` of the document: lets the store ship the change without loading the
   * document. Absent when the commit compacted the document (the changes are in its full save).
   */
  readonly c?: number;
  /** The document's chunk generation when chunk `c` was written (absent: 0). */
  readonly g?: number;
}

/** One entry of the append-only log: a transaction (or the part of one) this store applied. */
export interface LogEntry {
  /** Its position in this store's log: 1, 2, 3 … without gaps. */
  readonly pos: number;
  /** The transaction's id, `origin:seq`, the same on every peer. */
  readonly id: TxId;
  /** The peer that committed the transaction. */
  readonly origin: PeerId;
  /** The origin's commit counter. */
  readonly seq: number;
  /** Commit time at the origin, ms since the epoch; informational only. */
  readonly time: number;
  /** The transaction's hint, if it had one (at most 256 characters). */
  readonly hint?: string;
  /** The documents this entry applied. A transaction applied in steps has one entry per step. */
  readonly parts: readonly LogPart[];
  /** Every document the transaction wrote, whether or not this store holds it. */
  readonly manifest: readonly DocKey[];
  /** The peer this store received the transaction from (absent for local commits). */
  readonly from?: PeerId;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function decode<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}
