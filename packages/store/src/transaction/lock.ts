import type { Logger } from '../logger.js';

/**
 * A lock shared by every store instance on the same storage (the tabs of a browser profile,
 * say): read-write transactions hold it while they run and commit. `@atoll/browser` provides
 * one on Web Locks. Within one store the writer queue is always FIFO; this lock only orders
 * the stores among themselves.
 */
export interface WriterLock {
  /** Resolves once the lock is held; call the returned function to release it. */
  acquire(hint: string | undefined): Promise<() => void>;
}

interface Holder {
  readonly hint: string | undefined;
  readonly since: number;
}

/**
 * The one-writer-at-a-time queue of a store. FIFO. A watchdog reports, naming the holder's
 * hint, a writer that has waited longer than `watchdogMs` — in a runtime without async
 * context tracking that is how a deadlock (a store write started inside a read-write block
 * without its `tx`) shows itself.
 */
export class WriterQueue {
  #holder: Holder | undefined;
  readonly #waiters: { hint: string | undefined; grant: () => void }[] = [];
  readonly #logger: Logger;
  readonly #watchdogMs: number;

  constructor(logger: Logger, watchdogMs: number) {
    this.#logger = logger;
    this.#watchdogMs = watchdogMs;
  }

  get holder(): Holder | undefined {
    return this.#holder;
  }

  get queued(): number {
    return this.#waiters.length;
  }

  /** Waits for the turn of a writer; the returned function ends it. */
  acquire(hint: string | undefined): Promise<() => void> {
    if (this.#holder === undefined) {
      this.#holder = { hint, since: Date.now() };
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => {
      const queuedAt = Date.now();
      let timer: ReturnType<typeof setInterval> | undefined;
      if (this.#watchdogMs > 0 && Number.isFinite(this.#watchdogMs)) {
        timer = setInterval(() => {
          const holder = this.#holder;
          this.#logger.warn(
            `transaction${hint ? ` '${hint}'` : ''} has waited ${Date.now() - queuedAt} ms for the write lock, held by transaction${holder?.hint ? ` '${holder.hint}'` : ''} for ${holder ? Date.now() - holder.since : 0} ms; if that transaction is waiting for this one, it is a deadlock: inside a read-write block, use its tx instead of the store`,
            { waiting: hint, holder: holder?.hint },
          );
        }, this.#watchdogMs);
        (timer as { unref?: () => void }).unref?.();
      }
      this.#waiters.push({
        hint,
        grant: () => {
          if (timer !== undefined) clearInterval(timer);
          this.#holder = { hint, since: Date.now() };
          resolve(this.#releaser());
        },
      });
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      this.#holder = undefined;
      next?.grant();
    };
  }
}
