import type { DocKey } from '@atoll/protocol';
import type { Doc } from '../document/json.js';

/** What a reader needs of a document. */
export interface DocView {
  readonly collection: string;
  readonly id: string;
  /** The frozen value with `_id`, or `undefined` for a tombstone. */
  readonly doc: Doc | undefined;
}

/** A document as the store holds it in memory. Immutable: a change replaces the object. */
export interface DocState extends DocView {
  readonly key: DocKey;
  readonly heads: readonly string[];
  /** Automerge chunks stored for the document. */
  readonly chunks: number;
  /** Chunk generation: how many times the chunks were compacted (see DocRecord.g). */
  readonly gen: number;
}

/** What a reader can see: the committed state, a snapshot of it, or a transaction's view. */
export interface ReadView {
  get(collection: string, id: string): DocView | undefined;
  /** Every document of a collection, tombstones included, in no particular order. */
  scan(collection: string): Iterable<DocView>;
}

const ABSENT = Symbol('absent');
type Saved = DocState | typeof ABSENT;

/**
 * The committed state, and the snapshots read-only transactions read from.
 *
 * A snapshot costs nothing to take: it starts empty and reads through to the live state.
 * When a commit is about to replace a document, it first saves the old state into every
 * open snapshot that has not saved one yet, so each snapshot keeps seeing the state as of
 * its start while the writer goes on. Closing a snapshot drops what it saved.
 */
export class CommittedState implements ReadView {
  readonly #collections = new Map<string, Map<string, DocState>>();
  readonly #snapshots = new Set<Snapshot>();

  get(collection: string, id: string): DocState | undefined {
    return this.#collections.get(collection)?.get(id);
  }

  scan(collection: string): Iterable<DocState> {
    return this.#collections.get(collection)?.values() ?? [];
  }

  /** Collections with at least one document, tombstones included. */
  collectionNames(): string[] {
    return [...this.#collections.keys()];
  }

  /** Replaces documents; open snapshots keep their view. */
  publish(states: Iterable<DocState>): void {
    for (const state of states) {
      let coll = this.#collections.get(state.collection);
      if (!coll) this.#collections.set(state.collection, (coll = new Map()));
      if (this.#snapshots.size > 0) {
        const old = coll.get(state.id);
        for (const snap of this.#snapshots) snap.preserve(state.collection, state.id, old ?? ABSENT);
      }
      coll.set(state.id, state);
    }
  }

  /** A consistent view of the state as it is now. Close it when done. */
  snapshot(): Snapshot {
    const snap = new Snapshot(this, () => this.#snapshots.delete(snap));
    this.#snapshots.add(snap);
    return snap;
  }

  get openSnapshots(): number {
    return this.#snapshots.size;
  }
}

/** A point-in-time view of a {@link CommittedState}. */
export class Snapshot implements ReadView {
  readonly #live: CommittedState;
  readonly #saved = new Map<string, Map<string, Saved>>();
  readonly #onClose: () => void;

  constructor(live: CommittedState, onClose: () => void) {
    this.#live = live;
    this.#onClose = onClose;
  }

  preserve(collection: string, id: string, old: Saved): void {
    let coll = this.#saved.get(collection);
    if (!coll) this.#saved.set(collection, (coll = new Map()));
    if (!coll.has(id)) coll.set(id, old);
  }

  get(collection: string, id: string): DocState | undefined {
    const saved = this.#saved.get(collection)?.get(id);
    if (saved !== undefined) return saved === ABSENT ? undefined : saved;
    return this.#live.get(collection, id);
  }

  *scan(collection: string): Iterable<DocState> {
    const saved = this.#saved.get(collection);
    if (!saved) {
      yield* this.#live.scan(collection);
      return;
    }
    for (const state of this.#live.scan(collection)) {
      const s = saved.get(state.id);
      if (s === undefined) yield state;
      else if (s !== ABSENT) yield s;
    }
    // The live state never drops a document (deletes are tombstones), so every document the
    // snapshot can see is still among the live ones.
  }

  close(): void {
    this.#onClose();
    this.#saved.clear();
  }
}
