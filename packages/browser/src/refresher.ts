import type { Logger, Store } from '@atoll/store';

/** How long a hidden follower lets announcements pile up before it catches up. */
export const HIDDEN_FOLLOWER_DELAY_MS = 1_000;

/** In a visible page, at the next frame; this long at most if the page stops rendering frames. */
const VISIBLE_FALLBACK_MS = 50;

/**
 * Brings a store up to date with the commits other tabs announce, coalescing bursts.
 *
 * A refresh takes the profile's write lock (it must not read a commit half-way), so every
 * refresh in every tab delays every writer: with one refresh per commit per other tab, a tab
 * writing in a loop would slow down with each tab opened. So announcements are gathered and
 * applied together:
 *
 * - in a visible page, once per animation frame — a live query still updates in the frame
 *   after the commit;
 * - in the hidden leader, at once: it ships the other tabs' commits to the relay;
 * - in a hidden follower, at most about once a second (nobody is looking), and at once when
 *   the page becomes visible again.
 *
 * An announcement this store has already caught up with (its own write caught up first) costs
 * nothing.
 */
export class Refresher {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #isLeader: () => boolean;
  #pending = false;
  #cancel: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #idle: Promise<void> | undefined;
  #resolveIdle: (() => void) | undefined;

  constructor(store: Store, logger: Logger, isLeader: () => boolean) {
    this.#store = store;
    this.#logger = logger;
    this.#isLeader = isLeader;
  }

  /** Another tab committed at log position `pos`; omit it to catch up whatever happened. */
  request(pos = Number.POSITIVE_INFINITY): void {
    if (this.#store.closed || pos <= this.#store.position) return;
    this.#pending = true;
    this.#next();
  }

  /** Runs a refresh that waits for its turn now (the page became visible, this tab leads). */
  hurry(): void {
    if (this.#cancel === undefined) return;
    this.#cancel();
    this.#cancel = undefined;
    this.#start();
  }

  /** Drops what is scheduled (the store is closing) and resolves once a running refresh is done. */
  async stop(): Promise<void> {
    this.#pending = false;
    if (this.#cancel !== undefined) {
      this.#cancel();
      this.#cancel = undefined;
      this.#next();
    }
    await this.idle();
  }

  /** Resolves when nothing is scheduled or running. */
  idle(): Promise<void> {
    return this.#idle ?? Promise.resolve();
  }

  #next(): void {
    if (this.#cancel !== undefined || this.#running !== undefined) return;
    if (!this.#pending || this.#store.closed) {
      this.#pending = false;
      this.#resolveIdle?.();
      this.#idle = this.#resolveIdle = undefined;
      return;
    }
    this.#idle ??= new Promise<void>((resolve) => (this.#resolveIdle = resolve));
    this.#cancel = this.#schedule(() => {
      this.#cancel = undefined;
      this.#start();
    });
  }

  #start(): void {
    this.#pending = false;
    this.#running = this.#refresh().finally(() => {
      this.#running = undefined;
      this.#next();
    });
  }

  async #refresh(): Promise<void> {
    try {
      await this.#store.refresh();
    } catch (err) {
      if (!this.#store.closed) this.#logger.error('catching up with another tab’s commit failed; the next write or announcement tries again', { error: err });
    }
  }

  /** Calls `run` when it is this page's turn (see the class comment); returns the canceller. */
  #schedule(run: () => void): () => void {
    const doc = (globalThis as { document?: Document }).document;
    const hidden = doc?.visibilityState === 'hidden';
    if (hidden && this.#isLeader()) {
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) run();
      });
      return () => void (cancelled = true);
    }
    // A frame, if the page is visible; the timer covers a page hidden in the meantime (it
    // would not render another frame).
    let frame: number | undefined;
    const fire = () => {
      clearTimeout(timer);
      if (frame !== undefined) cancelAnimationFrame(frame);
      run();
    };
    const timer = setTimeout(fire, hidden ? HIDDEN_FOLLOWER_DELAY_MS : VISIBLE_FALLBACK_MS);
    if (!hidden && typeof requestAnimationFrame === 'function') frame = requestAnimationFrame(fire);
    return () => {
      clearTimeout(timer);
      if (frame !== undefined) cancelAnimationFrame(frame);
    };
  }
}
