import { StorageError } from '@atoll/store';

/**
 * Opening the database has to upgrade its schema, and a connection that is still open (an old
 * tab, a worker, or code that is not Atoll) has not closed when asked, a few seconds on. Atoll's
 * own connections close as soon as they are asked, so waiting longer could hang forever on one
 * that never will: the open fails instead. Close the other tabs of this app and open again.
 */
export class IndexedDbBlockedError extends StorageError {}

/**
 * Another connection (usually another tab running a newer version of the app) is upgrading or
 * deleting the database, so this connection closed itself to let it go ahead; every later call
 * on this adapter rejects with this error. The data this tab sees is no longer current: reload
 * the page, or open a new adapter once the other side is done.
 */
export class IndexedDbVersionChangeError extends StorageError {
  /** The version the other connection asked for, or `null` when it is deleting the database. */
  readonly newVersion: number | null;

  constructor(message: string, newVersion: number | null, options?: ErrorOptions) {
    super(message, options);
    this.newVersion = newVersion;
  }
}

/**
 * The browser closed the connection on its own: the user cleared site data, the disk failed,
 * or the storage backend crashed. Writes in flight were aborted (their promises rejected);
 * every later call rejects with this error. Open a new adapter to carry on.
 */
export class IndexedDbTerminatedError extends StorageError {}
