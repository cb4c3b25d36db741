// Opening a connection: the schema, its upgrades, and the ways an open can fail. Kept apart
// from the adapter so the schema version can be varied in tests (a `blocked` open can only
// happen when the version goes up, which this package's own version never does yet).
import { StorageError } from '@atoll/store';
import { wrap, type DBSchema, type IDBPDatabase } from 'idb';
import { IndexedDbBlockedError } from './errors.js';

/** The one object store: IndexedDB array keys (the storage key's segments) to bytes. */
export const STORE = 'entries';

/**
 * The schema version. Bump it with a new step in {@link upgrade}; every open tab then gets a
 * `versionchange` and closes its connection so the upgrade can run.
 */
export const SCHEMA_VERSION = 1;

/** The database's shape, for idb's typed transactions. */
export interface AtollDbSchema extends DBSchema {
  [STORE]: { key: string[]; value: Uint8Array };
}

/** A connection, wrapped by idb. */
export type AtollDb = IDBPDatabase<AtollDbSchema>;

/**
 * How long an open waits after `blocked` before giving up. Chromium reports `blocked` even for a
 * connection that is already closing (closed a moment before, or finishing its last transaction),
 * so `blocked` alone is no reason to fail; a connection that is still open after this long is
 * not going to close.
 */
export const BLOCKED_GRACE_MS = 5_000;

/**
 * Opens `name` at `version` and runs the schema upgrades. Written on the raw request rather than
 * idb's `openDB` because `openDB` always uses the global `indexedDB`, and callers (tests, workers)
 * pass their own factory.
 */
export function openConnection(factory: IDBFactory, name: string, version: number, blockedGraceMs = BLOCKED_GRACE_MS): Promise<AtollDb> {
  return new Promise<AtollDb>((resolve, reject) => {
    let request: IDBOpenDBRequest;
    try {
      request = factory.open(name, version);
    } catch (error) {
      reject(new StorageError(`cannot open IndexedDB database "${name}": ${describe(error)}`, { cause: error }));
      return;
    }
    // Once the promise has been rejected for being blocked, a later success must not leak a
    // connection nobody will close (it would block every later upgrade in turn).
    let settled = false;
    let giveUp: ReturnType<typeof setTimeout> | undefined;
    request.onupgradeneeded = (event) => upgrade(request.result, event.oldVersion);
    request.onblocked = (event) => {
      giveUp ??= setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(
          new IndexedDbBlockedError(
            `IndexedDB database "${name}" must be upgraded from version ${event.oldVersion} to ${version}, but another ` +
              'connection to it (another tab or worker of this app, or other code) does not close: close the other tabs and open again',
          ),
        );
      }, blockedGraceMs);
    };
    request.onsuccess = () => {
      clearTimeout(giveUp);
      const db = request.result;
      if (settled) {
        db.close();
        return;
      }
      settled = true;
      if (!db.objectStoreNames.contains(STORE)) {
        db.close();
        reject(new StorageError(`IndexedDB database "${name}" exists but was not created by @atoll/storage-indexeddb: use another name`));
        return;
      }
      resolve(wrap(db) as AtollDb);
    };
    request.onerror = (event) => {
      // Without this, the failed open would also be reported as an uncaught error on window.
      event.preventDefault();
      clearTimeout(giveUp);
      if (settled) return;
      settled = true;
      const error = request.error;
      const message =
        error?.name === 'VersionError'
          ? `IndexedDB database "${name}" has a newer schema than this code (version ${version}) understands: ` +
            'it was written by a newer version of the app; update or reload it'
          : `cannot open IndexedDB database "${name}": ${describe(error)}`;
      reject(new StorageError(message, { cause: error }));
    };
  });
}

/** Brings a database from `oldVersion` (0: it did not exist) to {@link SCHEMA_VERSION}. */
function upgrade(db: IDBDatabase, oldVersion: number): void {
  // Array keys, out of line: IndexedDB orders them element by element and strings by code
  // unit, exactly like compareStorageKeys, so ranges need no encoding of their own.
  if (oldVersion < 1) db.createObjectStore(STORE);
}

/** `Name: message` for DOMExceptions and errors, for messages that say what went wrong. */
export function describe(error: unknown): string {
  if (error instanceof Error || (typeof DOMException !== 'undefined' && error instanceof DOMException)) {
    return `${error.name}: ${error.message}`;
  }
  return String(error);
}
