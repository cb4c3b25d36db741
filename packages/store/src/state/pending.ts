import type { DocKey } from '@atoll/protocol';
import type { StorageBatch, StorageEntry, StorageKey } from '../storage/adapter.js';
import type { CommittedState, DocState, ReadView } from './committed.js';

/**
 * The state writers work on: the committed (durable) state plus the commits that wait for
 * their storage write (group commit). Readers outside a read-write transaction never see it.
 */
export class TipState implements ReadView {
  readonly #committed: CommittedState;
  readonly #byCollection = new Map<string, Map<string, DocState>>();
  readonly #byKey = new Map<DocKey, DocState>();

  constructor(committed: CommittedState) {
    this.#committed = committed;
  }

  get(collection: string, id: string): DocState | undefined {
    if (this.#byKey.size === 0) return this.#committed.get(collection, id);
    return this.#byCollection.get(collection)?.get(id) ?? this.#committed.get(collection, id);
  }

  *scan(collection: string): Iterable<DocState> {
    const mine = this.#byCollection.get(collection);
    if (!mine) {
      yield* this.#committed.scan(collection);
      return;
    }
    for (const state of this.#committed.scan(collection)) if (!mine.has(state.id)) yield state;
    yield* mine.values();
  }

  /** Whether a document has changes that are not durable yet (its Automerge state must stay cached). */
  has(key: DocKey): boolean {
    return this.#byKey.has(key);
  }

  get size(): number {
    return this.#byKey.size;
  }

  set(state: DocState): void {
    let coll = this.#byCollection.get(state.collection);
    if (!coll) this.#byCollection.set(state.collection, (coll = new Map()));
    coll.set(state.id, state);
    this.#byKey.set(state.key, state);
  }

  /** Drops `state` once it is committed, unless a later pending commit replaced it. */
  settle(state: DocState): void {
    if (this.#byKey.get(state.key) !== state) return;
    this.#byKey.delete(state.key);
    const coll = this.#byCollection.get(state.collection);
    coll?.delete(state.id);
    if (coll?.size === 0) this.#byCollection.delete(state.collection);
  }

  keys(): IterableIterator<DocKey> {
    return this.#byKey.keys();
  }

  clear(): void {
    this.#byKey.clear();
    this.#byCollection.clear();
  }
}

/**
 * Puts and deletes gathered from several commits into one storage batch. A storage batch
 * applies its puts before its deletes, so merging batches naively would let an earlier
 * commit's delete (compaction removing chunk 3) undo a later commit's put (the new chunk 3):
 * here the last operation on a key wins, as it would have if the commits were written one by one.
 */
export class BatchBuilder {
  readonly #ops = new Map<string, { readonly key: StorageKey; readonly value: Uint8Array | undefined }>();

  get size(): number {
    return this.#ops.size;
  }

  put(key: StorageKey, value: Uint8Array): void {
    const k = key.join('\u0000');
    this.#ops.delete(k);
    this.#ops.set(k, { key, value });
  }

  delete(key: StorageKey): void {
    const k = key.join('\u0000');
    this.#ops.delete(k);
    this.#ops.set(k, { key, value: undefined });
  }

  /** Appends `later`'s operations, which win over this builder's on the same keys. */
  merge(later: BatchBuilder): void {
    for (const [k, op] of later.#ops) {
      this.#ops.delete(k);
      this.#ops.set(k, op);
    }
  }

  toBatch(): StorageBatch {
    const put: StorageEntry[] = [];
    const del: StorageKey[] = [];
    for (const { key, value } of this.#ops.values()) {
      if (value === undefined) del.push(key);
      else put.push({ key, value });
    }
    return del.length === 0 ? { put } : { put, delete: del };
  }
}
