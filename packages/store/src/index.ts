/**
 * `@atoll/store`: the local transactional document store every Atoll peer owns — documents,
 * transactions, queries, live queries and changesets — and the `StorageAdapter` interface it
 * persists through. The guide is `docs/store.md`.
 *
 * @packageDocumentation
 */
export { Store, openStore, type ApplyOptions, type ApplyResult, type CommitEvent, type HeldChangeset, type StoreOptions, type Unsubscribe } from './store.js';
export type { Transaction, TransactionInfo, TransactionOptions, DocInput, Draft } from './transaction/transaction.js';
export type { WriterLock } from './transaction/lock.js';
export { tracksAsyncContext } from './transaction/context.js';
export { Counter, type Doc } from './document/json.js';
export type { ObserveCallback } from './query/live.js';
export type { LogEntry, LogPart } from './state/records.js';
export { consoleLogger, silentLogger, type Logger, type LogLevel } from './logger.js';
export {
  CommitFailedError,
  DocumentExistsError,
  DocumentNotFoundError,
  InvalidChangesetError,
  InvalidDocumentError,
  NestedTransactionActiveError,
  ReadOnlyTransactionError,
  StoreClosedError,
  StoreError,
  TransactionClosedError,
  TransactionDeadlockError,
  TransactionError,
  UnawaitedOperationError,
} from './errors.js';
export {
  StorageError,
  checkRangeOptions,
  checkStorageBatch,
  checkStorageKey,
  compareStorageKeys,
  type RangeOptions,
  type StorageAdapter,
  type StorageBatch,
  type StorageEntry,
  type StorageKey,
} from './storage/adapter.js';
export { MemoryStorageAdapter } from './storage/memory.js';
// Re-exported so that users of the store need no direct dependency on @atoll/protocol for the
// ids, query types and changesets that appear in the store's API. They are documented there.
export {
  AtollError,
  ValidationError,
  docKey,
  parseDocKey,
  type Changeset,
  type ChangesetPart,
  type Condition,
  type DocKey,
  type Filter,
  type JsonObject,
  type JsonValue,
  type Operators,
  type OrderBy,
  type PeerId,
  type Query,
  type TxId,
} from '@atoll/protocol';
