/**
 * `@atoll/storage-sqlite`: durable storage for Atoll peers running in Node — the relay, and
 * any server-side or desktop peer — on one SQLite file in WAL mode.
 *
 * @packageDocumentation
 */
export {
  SqliteStorageAdapter,
  SqliteStorageError,
  type SqliteDurability,
  type SqliteStorageOptions,
  type SqliteStorageSettings,
} from './sqlite-adapter.js';
