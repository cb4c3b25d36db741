import { docKey, jsonEqual, type JsonObject, type Query } from '@atoll/protocol';
import { DocumentExistsError, DocumentNotFoundError, InvalidDocumentError, NestedTransactionActiveError, ReadOnlyTransactionError, TransactionClosedError, TransactionError, UnawaitedOperationError } from '../errors.js';
import { cloneJson, makeDoc, normalizeDocument, valueOf, type Doc, type FieldPath } from '../document/json.js';
import { prepareQuery, runQuery, type PreparedQuery } from '../query/run.js';
import type { ObserveCallback } from '../query/live.js';
import type { ReadView } from '../state/committed.js';
import { asyncOp, runOp, type OpPromise } from './op-promise.js';
import { TxScope, type Pending } from './scope.js';

/** What describes a running transaction (for logs and diagnostics), as Ditto's transaction info does. */
export interface TransactionInfo {
  /**
   * Unique within this JavaScript realm (process or tab), for correlating log lines. Not the
   * replicated transaction id, which is assigned at commit (`CommitEvent.entry.id`).
   */
  readonly id: string;
  /** The hint given to `store.transaction`, naming the transaction in logs. */
  readonly hint: string | undefined;
  /** Whether the transaction reads a snapshot and refuses writes. */
  readonly readOnly: boolean;
  /** `Date.now()` when the block started (after any wait for the write lock). */
  readonly startedAt: number;
}

/** Options of `store.transaction`. */
export interface TransactionOptions {
  /**
   * A name for the transaction in logs, watchdog reports and replicated changesets (cut to 256
   * characters). Other peers see it: keep secrets out.
   */
  readonly hint?: string;
  /** Read from a snapshot, concurrently with the writer; any write throws `ReadOnlyTransactionError`. */
  readonly readOnly?: boolean;
}

/**
 * A document value as given to `insert` and `upsert`: JSON (plus `Counter`s), with an optional
 * `_id`. Loosely typed on purpose — the value is checked at run time, which also catches what
 * the type system cannot (`NaN`, a `Date`, the reserved `_deleted`).
 */
export type DocInput = { readonly _id?: string } & { readonly [key: string]: unknown };

/** A mutable deep copy of a document handed to an `update` function; editing it changes nothing until the function returns. */
export type Draft = { _id: string; [key: string]: unknown };

/**
 * The handle a transaction block works through. Every method returns a promise that must be
 * awaited before the block returns; each operation is atomic on its own, so one that fails
 * (and is caught) leaves no trace and the transaction can go on.
 */
export interface Transaction {
  /** Id, hint, read-only flag and start time of this transaction, for logs. */
  readonly info: TransactionInfo;
  /** The document, or `undefined` if it does not exist or is deleted. */
  get<T extends JsonObject = JsonObject>(collection: string, id: string): Promise<Doc<T> | undefined>;
  /** Documents matching the query, as this transaction sees them (its own writes included). */
  find<T extends JsonObject = JsonObject>(query: Query): Promise<Doc<T>[]>;
  /** The first document matching the query, or `undefined`. */
  findOne<T extends JsonObject = JsonObject>(query: Query): Promise<Doc<T> | undefined>;
  /** Creates a document; without `_id` one is generated. Throws `DocumentExistsError` if the id is taken. */
  insert<T extends JsonObject = JsonObject>(collection: string, value: DocInput): Promise<Doc<T>>;
  /** Creates the document or replaces its whole value. */
  upsert<T extends JsonObject = JsonObject>(collection: string, value: DocInput): Promise<Doc<T>>;
  /**
   * Changes a document through a synchronous function that edits a draft copy (or returns a
   * new value). Fields that hold counters take `+=`/`-=` as increments.
   * Throws `DocumentNotFoundError` if the document does not exist.
   */
  update<T extends JsonObject = JsonObject>(collection: string, id: string, change: (draft: Draft) => void | DocInput): Promise<Doc<T>>;
  /** Deletes a document (a tombstone that replicates); resolves whether it existed. */
  delete(collection: string, id: string): Promise<boolean>;
  /**
   * A nested transaction (a savepoint): it sees this transaction's state; its writes become
   * part of this transaction only if its block completes; if it throws, they vanish and the
   * error is rethrown here, where it may be caught. While it runs, this `tx` is unusable
   * (`NestedTransactionActiveError`).
   *
   * @example
   * await store.transaction(async (tx) => {
   *   await tx.insert('categories', { _id: 'first' });
   *   try {
   *     await tx.transaction(async (inner) => {
   *       await inner.insert('categories', { _id: 'second' });
   *       throw new Error('abort'); // 'second' vanishes; 'first' stays
   *     });
   *   } catch {
   *     // caught: the outer transaction goes on and commits 'first'
   *   }
   * });
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T> | T, options?: { readonly hint?: string }): Promise<T>;
  /**
   * Watches a query inside this transaction: emits now, then after each write of this
   * transaction that changes the result; stops when the transaction ends. Callbacks run
   * synchronously inside the write that triggers them. Returns the function that stops it.
   *
   * @example
   * await store.transaction(async (tx) => {
   *   let open = 0;
   *   tx.observe({ collection: 'todos', where: { done: false } }, (docs) => { open = docs.length; });
   *   await tx.insert('todos', { title: 'write docs', done: false }); // `open` is already updated
   *   if (open > 100) throw new Error('too many open todos');
   * });
   */
  observe(query: Query, callback: ObserveCallback): () => void;
  /**
   * Discards everything this transaction (or nested transaction) wrote, without an error.
   * The block should return right after; `store.transaction` resolves with its value.
   */
  rollback(): void;
}

interface TxObserver {
  readonly q: PreparedQuery;
  readonly callback: ObserveCallback;
  last: readonly Doc[];
}

let nextTxNumber = 1;

/** Creates a transaction id unique in this JavaScript realm. */
function newTxId(): string {
  return `tx${nextTxNumber++}`;
}

/** The implementation behind {@link Transaction}. Created by the store. */
export class TxImpl implements Transaction {
  readonly info: TransactionInfo;
  readonly scope: TxScope | undefined;
  readonly #view: ReadView;
  readonly #parent: TxImpl | undefined;
  readonly #newId: () => string;
  #state: 'open' | 'settled' | 'rolled back' = 'open';
  #nested: TxImpl | undefined;
  #ops: OpPromise<unknown>[] = [];
  #observers: TxObserver[] = [];

  constructor(options: { hint: string | undefined; readOnly: boolean; view: ReadView; parent?: TxImpl; newId: () => string }) {
    this.info = { id: newTxId(), hint: options.hint, readOnly: options.readOnly, startedAt: Date.now() };
    this.#parent = options.parent;
    this.#newId = options.newId;
    if (options.readOnly) {
      this.scope = undefined;
      this.#view = options.view;
    } else {
      this.scope = new TxScope(options.view);
      this.#view = this.scope;
    }
  }

  get rolledBack(): boolean {
    return this.#state === 'rolled back';
  }

  // ---- reads ---------------------------------------------------------------------------

  get<T extends JsonObject = JsonObject>(collection: string, id: string): Promise<Doc<T> | undefined> {
    const what = `tx.get(${q(collection)}, ${q(id)})`;
    return this.#op(what, 'read', () => {
      docKey(collection, id);
      return this.#view.get(collection, id)?.doc as Doc<T> | undefined;
    });
  }

  find<T extends JsonObject = JsonObject>(query: Query): Promise<Doc<T>[]> {
    return this.#op(`tx.find(${q(query?.collection)})`, 'read', () => runQuery(this.#view, prepareQuery(query)) as Doc<T>[]);
  }

  findOne<T extends JsonObject = JsonObject>(query: Query): Promise<Doc<T> | undefined> {
    return this.#op(`tx.findOne(${q(query?.collection)})`, 'read', () => runQuery(this.#view, prepareQuery({ ...query, limit: 1 }))[0] as Doc<T> | undefined);
  }

  // ---- writes --------------------------------------------------------------------------

  insert<T extends JsonObject = JsonObject>(collection: string, value: DocInput): Promise<Doc<T>> {
    return this.#op(`tx.insert(${q(collection)}, ${q(idOf(value))})`, 'write', () => {
      const id = this.#idFor(value);
      docKey(collection, id);
      const { value: json, counters } = normalizeDocument(value, `the document ${collection}/${id}`);
      if (this.#view.get(collection, id)?.doc !== undefined) throw new DocumentExistsError(collection, id);
      return this.#write(collection, id, makeDoc(id, json), counters) as Doc<T>;
    });
  }

  upsert<T extends JsonObject = JsonObject>(collection: string, value: DocInput): Promise<Doc<T>> {
    return this.#op(`tx.upsert(${q(collection)}, ${q(idOf(value))})`, 'write', () => {
      const id = this.#idFor(value);
      docKey(collection, id);
      const { value: json, counters } = normalizeDocument(value, `the document ${collection}/${id}`);
      const current = this.#view.get(collection, id)?.doc;
      if (current !== undefined && counters.length === 0 && jsonEqual(valueOf(current), json)) return current as Doc<T>;
      return this.#write(collection, id, makeDoc(id, json), counters) as Doc<T>;
    });
  }

  update<T extends JsonObject = JsonObject>(collection: string, id: string, change: (draft: Draft) => void | DocInput): Promise<Doc<T>> {
    return this.#op(`tx.update(${q(collection)}, ${q(id)})`, 'write', () => {
      docKey(collection, id);
      if (typeof change !== 'function') throw new TransactionError('tx.update takes a function that changes a draft of the document');
      const current = this.#view.get(collection, id)?.doc;
      if (current === undefined) throw new DocumentNotFoundError(collection, id);
      const draft = cloneJson(current as JsonObject) as Draft;
      const returned = change(draft) as unknown;
      if (returned instanceof Promise) {
        // The draft would be read before the function finished: refuse rather than guess.
        returned.catch(() => {});
        throw new TransactionError(`${`tx.update(${q(collection)}, ${q(id)})`}: the update function must be synchronous (do async work before calling update)`);
      }
      const result = (returned === undefined ? draft : returned) as DocInput;
      if (result._id !== undefined && result._id !== id) {
        throw new InvalidDocumentError(`tx.update cannot change _id (${q(id)} → ${q(result._id)})`, '_id');
      }
      const { value: json, counters } = normalizeDocument(result, `the document ${collection}/${id}`);
      if (counters.length === 0 && jsonEqual(valueOf(current), json)) return current as Doc<T>;
      // Counters created earlier in this transaction stay counters.
      const earlier = this.scope?.pending(collection, id)?.counters ?? this.#inherited(collection, id);
      return this.#write(collection, id, makeDoc(id, json), earlier.length > 0 ? [...earlier, ...counters] : counters) as Doc<T>;
    });
  }

  delete(collection: string, id: string): Promise<boolean> {
    return this.#op(`tx.delete(${q(collection)}, ${q(id)})`, 'write', () => {
      docKey(collection, id);
      if (this.#view.get(collection, id)?.doc === undefined) return false;
      this.#write(collection, id, undefined, []);
      return true;
    });
  }

  // ---- nesting, observing, rollback ----------------------------------------------------

  transaction<T>(fn: (tx: Transaction) => Promise<T> | T, options: { readonly hint?: string } = {}): Promise<T> {
    const what = `tx.transaction(${options.hint !== undefined ? q(options.hint) : ''})`;
    const blocked = this.#unusable(what, 'read');
    if (blocked) return runOp(what, () => { throw blocked; });
    const child = new TxImpl({ hint: options.hint ?? this.info.hint, readOnly: this.info.readOnly, view: this.#view, parent: this, newId: this.#newId });
    this.#nested = child;
    const run = (async () => {
      try {
        const { value, rolledBack } = await runBlock(child, fn);
        if (!rolledBack && child.scope && this.scope) {
          const touched = child.scope.collections();
          child.scope.mergeInto(this.scope);
          this.#notifyObservers(touched);
        }
        return value;
      } finally {
        this.#nested = undefined;
      }
    })();
    const op = asyncOp(what, run);
    this.#ops.push(op);
    return op;
  }

  observe(query: Query, callback: ObserveCallback): () => void {
    const blocked = this.#unusable(`tx.observe(${q(query?.collection)})`, 'read');
    if (blocked) throw blocked;
    const prepared = prepareQuery(query);
    const observer: TxObserver = { q: prepared, callback, last: runQuery(this.#view, prepared) };
    this.#observers.push(observer);
    callback(observer.last);

    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  rollback(): void {
    const blocked = this.#unusable('tx.rollback()', 'read');
    if (blocked) throw blocked;
    this.#state = 'rolled back';
    this.scope?.clear();
    this.#observers = [];
  }

  // ---- lifecycle, used by the store ----------------------------------------------------

  /**
   * Called when the block resolved: the error to fail the transaction with if an operation
   * was not awaited or a nested transaction is still running, else `undefined`.
   */
  unfinished(): Error | undefined {
    const names = this.#ops.filter((op) => !op.observed).map((op) => op.description);
    if (this.#nested !== undefined) names.push(`tx.transaction(${this.#nested.info.hint !== undefined ? q(this.#nested.info.hint) : ''}) (still running)`);
    if (names.length === 0) return undefined;
    const failed = this.#ops.find((op) => !op.observed && op.failure !== undefined);
    return new UnawaitedOperationError([...new Set(names)], this.info.hint, failed?.failure?.reason);
  }

  /** Ends the transaction: every later use throws `TransactionClosedError`. */
  settle(): void {
    if (this.#state === 'open') this.#state = 'settled';
    this.#observers = [];
    this.#ops = [];
    this.#nested?.settle();
  }

  // ---- internals -----------------------------------------------------------------------

  #op<T>(what: string, kind: 'read' | 'write', fn: () => T): Promise<T> {
    const blocked = this.#unusable(what, kind);
    const op = runOp(what, blocked ? () => { throw blocked; } : fn);
    if (this.#state === 'open') this.#ops.push(op);
    return op;
  }

  #unusable(what: string, kind: 'read' | 'write'): Error | undefined {
    if (this.#state !== 'open') return new TransactionClosedError(what, this.info.hint, this.#state === 'rolled back' ? 'rolled back' : 'settled');
    if (this.#nested !== undefined) return new NestedTransactionActiveError(what);
    if (kind === 'write' && this.info.readOnly) return new ReadOnlyTransactionError(what, this.info.hint);
    return undefined;
  }

  #write(collection: string, id: string, doc: Doc | undefined, counters: readonly FieldPath[]): Doc | undefined {
    const pending: Pending = { collection, id, doc, counters };
    (this.scope as TxScope).set(pending);
    this.#notifyObservers([collection]);
    return doc;
  }

  /** Counter paths created by an outer transaction for a document not yet written here. */
  #inherited(collection: string, id: string): readonly FieldPath[] {
    for (let t = this.#parent; t; t = t.#parent) {
      const p = t.scope?.pending(collection, id);
      if (p) return p.counters;
    }
    return [];
  }

  #idFor(value: DocInput): string {
    if (value === null || typeof value !== 'object') throw new InvalidDocumentError('a document must be a plain object');
    const id = value._id;
    if (id === undefined) return this.#newId();
    if (typeof id !== 'string') throw new InvalidDocumentError(`_id must be a string, got ${typeof id}`, '_id');
    return id;
  }

  #notifyObservers(collections: readonly string[]): void {
    for (const o of this.#observers) {
      if (!collections.includes(o.q.query.collection)) continue;
      const next = runQuery(this.#view, o.q);
      if (next.length === o.last.length && next.every((d, i) => d === o.last[i])) continue;
      o.last = next;
      try {
        o.callback(next);
      } catch {
        // An observer's failure is its own: the write it observed stands (each operation is atomic).
      }
    }
  }
}

/**
 * Runs a block: resolves with its value (and whether it rolled back) once every operation it
 * started was awaited; rejects with the block's error, or `UnawaitedOperationError`.
 */
export async function runBlock<T>(tx: TxImpl, fn: (tx: Transaction) => Promise<T> | T): Promise<{ value: T; rolledBack: boolean }> {
  try {
    const value = await fn(tx);
    const unfinished = tx.unfinished();
    if (unfinished) throw unfinished;
    return { value, rolledBack: tx.rolledBack };
  } finally {
    tx.settle();
  }
}

function idOf(value: unknown): string | undefined {
  return value !== null && typeof value === 'object' && typeof (value as { _id?: unknown })._id === 'string' ? (value as { _id: string })._id : undefined;
}

function q(s: unknown): string {
  return s === undefined ? '' : JSON.stringify(s);
}
