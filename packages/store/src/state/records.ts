import { Packr } from 'msgpackr';
import type { DocKey, JsonObject, PeerId, TxId } from '@atoll/protocol';
import type { StorageKey } from '../storage/adapter.js';

/**
 * The store's layout in its StorageAdapter. Every commit writes, in one batch, the records
 * of the documents it touched, their new Automerge chunks, one log entry, the transaction
 * index entry and the head position — so a crash leaves either all of it or none.
 *
 * ```
 * ['meta', 'peer']            PeerId of this store (all tabs of a profile share it)
 * ['meta', 'head']            last log position
 * ['meta', 'seq']             last local commit counter
 * ['doc', collection, id]     DocRecord
 * ['am', collection, id, n]   Automerge bytes: chunk n (a full save or one change)
 * ['log', position]           LogEntry (position zero-padded to sort)
 * ['tx', txId]                log positions holding that transaction (dedupe)
 * ['held', txId]              parts waiting for missing Automerge dependencies
 * ```
 */
export const keys = {
  peer: ['meta', 'peer'] as StorageKey,
  head: ['meta', 'head'] as StorageKey,
  seq: ['meta', 'seq'] as StorageKey,
  docPrefix: ['doc'] as StorageKey,
  doc: (collection: string, id: string): StorageKey => ['doc', collection, id],
  chunkPrefix: (collection: string, id: string): StorageKey => ['am', collection, id],
  chunk: (collection: string, id: string, n: number): StorageKey => ['am', collection, id, pad(n)],
  logPrefix: ['log'] as StorageKey,
  log: (pos: number): StorageKey => ['log', pad(pos)],
  tx: (id: TxId): StorageKey => ['tx', id],
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
}

/** One document's share of a logged transaction. */
export interface LogPart {
  readonly key: DocKey;
  /** Hashes of the Automerge changes it applied; the bytes live in the document. */
  readonly hashes: readonly string[];
  readonly deleted?: true;
}

/** One entry of the append-only log: a transaction (or the part of one) this store applied. */
export interface LogEntry {
  readonly pos: number;
  readonly id: TxId;
  readonly origin: PeerId;
  readonly seq: number;
  readonly time: number;
  readonly hint?: string;
  readonly parts: readonly LogPart[];
  readonly manifest: readonly DocKey[];
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function decode<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}
