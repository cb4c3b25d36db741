import { AtollError, ValidationError } from '@atoll/protocol';

/**
 * Something about a store as a whole: it is closed, or it cannot open — thrown itself by
 * `Store.open` on storage that belongs to another peer than the `peerId` option names.
 */
export class StoreError extends AtollError {}

/** The store was closed: `store.close()` was called or is in progress. Open a new store. */
export class StoreClosedError extends StoreError {
  constructor() {
    super('the store is closed: no new transactions are accepted (open the store again to continue)');
  }
}

/**
 * A read-write transaction (or `applyChangeset`) did not commit because an earlier one it ran
 * after — and whose changes it could see — failed to be written to storage. Commits that
 * arrive while a storage write is in flight are written together in the next one (group
 * commit), on top of the commits before them; when a write fails, everything built on it
 * fails too and nothing of it is kept. The storage failure is the `cause`: retry once storage
 * works again.
 */
export class CommitFailedError extends StoreError {
  constructor(hint: string | undefined, cause: unknown) {
    super(
      `transaction${hint ? ` '${hint}'` : ''} was not committed: an earlier transaction it ran after failed to be written to storage, and this one depended on it; nothing of it was written`,
      { cause },
    );
  }
}

/** The base of every error about how a transaction was used. */
export class TransactionError extends AtollError {}

/** A read-only transaction tried to write. Start a read-write transaction for writes. */
export class ReadOnlyTransactionError extends TransactionError {
  constructor(operation: string, hint: string | undefined) {
    super(`${operation} is a write, but transaction${hint ? ` '${hint}'` : ''} is read-only: start it without { readOnly: true } to write`);
  }
}

/** A `tx` was used after its block settled (or after `tx.rollback()`). Keep all uses inside the block. */
export class TransactionClosedError extends TransactionError {
  constructor(operation: string, hint: string | undefined, why: 'settled' | 'rolled back') {
    super(
      why === 'settled'
        ? `${operation} was called on transaction${hint ? ` '${hint}'` : ''} after its block settled: a tx is only usable inside its block (did a callback or timer capture it?)`
        : `${operation} was called on transaction${hint ? ` '${hint}'` : ''} after tx.rollback(): return from the block after rolling back`,
    );
  }
}

/**
 * The block returned while one of its operations had not been awaited (usually a missing
 * `await`). The transaction was rolled back, because its writes were not all accounted for.
 */
export class UnawaitedOperationError extends TransactionError {
  /** The operations that were not awaited, e.g. `tx.update('accounts', 'ann')`. */
  readonly operations: readonly string[];
  constructor(operations: readonly string[], hint: string | undefined, cause?: unknown) {
    super(
      `transaction${hint ? ` '${hint}'` : ''} was rolled back: its block returned without awaiting ${operations.join(', ')}; await every tx operation before the block returns`,
      cause === undefined ? undefined : { cause },
    );
    this.operations = operations;
  }
}

/**
 * A write or read-write transaction was started on the store from inside a read-write
 * transaction's block without going through its `tx`. It would wait for the outer
 * transaction forever, so it is refused.
 */
export class TransactionDeadlockError extends TransactionError {
  constructor(operation: string, holderHint: string | undefined) {
    super(
      `${operation} was called inside read-write transaction${holderHint ? ` '${holderHint}'` : ''}, which holds the write lock, so it would wait forever: use tx.transaction() for a nested transaction and tx's methods for reads and writes`,
    );
  }
}

/** The outer `tx` was used while a nested transaction it started is still running. */
export class NestedTransactionActiveError extends TransactionError {
  constructor(operation: string) {
    super(`${operation} was called on an outer transaction while its nested transaction is running: use the nested transaction's tx until it completes`);
  }
}

/** A document was inserted under an `_id` that already holds a live document. Use `upsert` to replace it. */
export class DocumentExistsError extends AtollError {
  constructor(collection: string, id: string) {
    super(`document ${collection}/${id} already exists: use tx.upsert() to replace it or tx.update() to change it`);
  }
}

/** A document that does not exist (or is deleted) was updated. Insert it first, or use `upsert`. */
export class DocumentNotFoundError extends AtollError {
  constructor(collection: string, id: string) {
    super(`document ${collection}/${id} does not exist (or was deleted): insert it first`);
  }
}

/**
 * A document value is not storable JSON (`NaN`, a `Date`, `undefined` in an array, a class
 * instance …), touches the reserved `_deleted` field, or changes `_id`. Store plain JSON; `path`
 * says where the problem is.
 */
export class InvalidDocumentError extends ValidationError {}

/**
 * A changeset could not be applied: malformed, or its Automerge changes are invalid. Nothing was
 * applied. The sender's data is bad; retrying it will not help.
 */
export class InvalidChangesetError extends ValidationError {}
