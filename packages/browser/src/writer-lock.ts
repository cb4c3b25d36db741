import { consoleLogger, type Logger, type WriterLock } from '@atoll/store';
import { webLocks } from './environment.js';
import { BrowserPeerError } from './errors.js';

/** Options of {@link webLockWriterLock}. */
export interface WebLockWriterLockOptions {
  /** The lock manager. Default `navigator.locks`. */
  readonly locks?: LockManager;
  /** Where a writer that waits too long is reported. Default {@link consoleLogger}. */
  readonly logger?: Logger;
  /**
   * A writer still waiting for the lock after this long is reported at `warn` (and again at
   * this interval): another tab holds it, perhaps in a transaction that never ends. Default
   * 10 000 ms; 0 or `Infinity` turns it off.
   */
  readonly watchdogMs?: number;
}

/**
 * A store `WriterLock` on the Web Locks API: an exclusive lock named `lockName`, shared by
 * every tab and worker of the origin, held from the moment a writer gets it until it calls
 * the returned release function. The browser releases it when the tab that holds it closes or
 * crashes, so a dead tab never blocks the others.
 *
 * `openBrowserPeer` uses one named `atoll:${name}:write`; use this directly only to build a
 * store by hand.
 *
 * @example
 * const store = await Store.open({
 *   storage: await IndexedDbStorageAdapter.open('my-app'),
 *   writerLock: webLockWriterLock('atoll:my-app:write'),
 * });
 */
export function webLockWriterLock(lockName: string, options: WebLockWriterLockOptions = {}): WriterLock {
  const locks = options.locks ?? webLocks();
  const logger = options.logger ?? consoleLogger;
  const watchdogMs = options.watchdogMs ?? 10_000;
  return {
    acquire: (hint) =>
      new Promise<() => void>((granted, failed) => {
        const queuedAt = Date.now();
        const watchdog =
          watchdogMs > 0 && Number.isFinite(watchdogMs)
            ? setInterval(() => {
                logger.warn(
                  `transaction${hint !== undefined ? ` '${hint}'` : ''} has waited ${Date.now() - queuedAt} ms for the write lock "${lockName}", held by another tab or store of this profile; a transaction there is taking long or never ends`,
                  { lock: lockName, waiting: hint },
                );
              }, watchdogMs)
            : undefined;
        // The lock is held while the callback's promise is pending: it settles when the writer
        // releases, which is also what `request` resolves with.
        locks
          .request(lockName, { mode: 'exclusive' }, () => {
            clearInterval(watchdog);
            return new Promise<void>((release) => {
              let released = false;
              granted(() => {
                if (released) return;
                released = true;
                release();
              });
            });
          })
          .catch((err: unknown) => {
            // Only reachable before the grant (the callback's promise never rejects): the
            // request itself failed, e.g. the document is no longer active.
            clearInterval(watchdog);
            failed(new BrowserPeerError(`could not request the write lock "${lockName}": ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
          });
      }),
  };
}
