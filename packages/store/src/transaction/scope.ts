import type { FieldPath } from '../document/json.js';
import type { DocView, ReadView } from '../state/committed.js';

/** A write a transaction holds until it commits: the document's new value (or tombstone). */
export interface Pending extends DocView {
  /** Paths where this transaction creates a counter. */
  readonly counters: readonly FieldPath[];
}

/**
 * One level of a transaction's writes over what it reads through: the committed state for
 * a top-level transaction, the outer scope for a nested one (a savepoint). A nested scope
 * that completes is merged into its parent; one that fails is dropped.
 */
export class TxScope implements ReadView {
  readonly #parent: ReadView;
  readonly #writes = new Map<string, Map<string, Pending>>();

  constructor(parent: ReadView) {
    this.#parent = parent;
  }

  get(collection: string, id: string): DocView | undefined {
    return this.#writes.get(collection)?.get(id) ?? this.#parent.get(collection, id);
  }

  /** The pending write of this scope for a document, if any. */
  pending(collection: string, id: string): Pending | undefined {
    return this.#writes.get(collection)?.get(id);
  }

  *scan(collection: string): Iterable<DocView> {
    const mine = this.#writes.get(collection);
    if (!mine) {
      yield* this.#parent.scan(collection);
      return;
    }
    for (const state of this.#parent.scan(collection)) if (!mine.has(state.id)) yield state;
    yield* mine.values();
  }

  set(write: Pending): void {
    let coll = this.#writes.get(write.collection);
    if (!coll) this.#writes.set(write.collection, (coll = new Map()));
    coll.set(write.id, write);
  }

  /** Moves this scope's writes into `parent` (a nested transaction completed). */
  mergeInto(parent: TxScope): void {
    for (const coll of this.#writes.values()) for (const write of coll.values()) parent.set(write);
  }

  /** Every pending write, for the commit. */
  writes(): Pending[] {
    const out: Pending[] = [];
    for (const coll of this.#writes.values()) out.push(...coll.values());
    return out;
  }

  /** Collections this scope wrote to. */
  collections(): string[] {
    return [...this.#writes.keys()];
  }

  clear(): void {
    this.#writes.clear();
  }
}
