import { InvariantError } from '@atoll/protocol';
import type { Logger } from '@atoll/store';

/**
 * What this tab is in its profile: the `leader` holds the relay connection; a `follower` waits
 * for its turn; `closed` is the end.
 */
export type TabRole = 'follower' | 'leader' | 'closed';

/** What happens to an election: the browser grants the lock, or the peer closes. */
type ElectionEvent = 'granted' | 'close';

/**
 * The election's state machine (see docs/browser.md, "Leader election"). Every cell is
 * decided, so a new state or event does not compile until it is handled. `invalid` is a bug:
 * Web Locks never grant an exclusive lock twice to one request.
 */
const TRANSITIONS: Record<TabRole, Record<ElectionEvent, TabRole | 'invalid'>> = {
  follower: { granted: 'leader', close: 'closed' },
  leader: { granted: 'invalid', close: 'closed' },
  // A grant that arrives after close (the abort lost the race) is given back at once.
  closed: { granted: 'closed', close: 'closed' },
};

/**
 * Elects one leader among the tabs of a profile with an exclusive Web Lock: the tab holding
 * the lock leads until it closes its peer or dies (the browser then releases the lock), and
 * the next waiting request is granted — so there is never more than one leader, and as long
 * as a tab is open there is one.
 */
export class LeaderElection {
  readonly #lockName: string;
  readonly #locks: LockManager;
  readonly #logger: Logger;
  readonly #onLeader: () => void;
  readonly #abort = new AbortController();
  #role: TabRole = 'follower';
  #release: (() => void) | undefined;
  #request: Promise<unknown> = Promise.resolve();

  constructor(options: { lockName: string; locks: LockManager; logger: Logger; onLeader: () => void }) {
    this.#lockName = options.lockName;
    this.#locks = options.locks;
    this.#logger = options.logger;
    this.#onLeader = options.onLeader;
  }

  /** `follower`, `leader` or `closed`. */
  get role(): TabRole {
    return this.#role;
  }

  /**
   * Enters the election. Resolves once the first round is decided: this tab leads if no other
   * tab did (`onLeader` has then been called), or it follows and waits for its turn.
   */
  start(): Promise<void> {
    return new Promise<void>((decided) => {
      this.#request = this.#locks
        .request(this.#lockName, { mode: 'exclusive', ifAvailable: true }, (lock) => {
          if (lock !== null) {
            const held = this.#hold();
            decided();
            return held;
          }
          decided();
          this.#wait();
          return undefined;
        })
        .catch((err: unknown) => {
          decided();
          this.#logger.error(`could not take part in the leader election ("${this.#lockName}"): this tab will not sync`, { error: err });
        });
    });
  }

  /** Leaves the election: gives the lock back (another tab takes over) or stops waiting for it. */
  async close(): Promise<void> {
    this.#apply('close');
    this.#abort.abort();
    this.#release?.();
    await this.#request;
  }

  #wait(): void {
    if (this.#role === 'closed') return;
    this.#request = this.#locks.request(this.#lockName, { mode: 'exclusive', signal: this.#abort.signal }, () => this.#hold()).catch((err: unknown) => {
      if (!this.#abort.signal.aborted) this.#logger.error(`waiting to lead this profile failed ("${this.#lockName}"): this tab will not sync`, { error: err });
    });
  }

  /** The lock was granted: lead until close, holding it through the returned promise. */
  #hold(): Promise<void> {
    if (this.#apply('granted') !== 'leader') return Promise.resolve();
    const held = new Promise<void>((resolve) => (this.#release = resolve));
    try {
      this.#onLeader();
    } catch (err) {
      this.#logger.error('taking the lead threw', { error: err });
    }
    return held;
  }

  #apply(event: ElectionEvent): TabRole {
    const next = TRANSITIONS[this.#role][event];
    if (next === 'invalid') throw new InvariantError(`leader election: '${event}' while ${this.#role}`);
    this.#role = next;
    return next;
  }
}
