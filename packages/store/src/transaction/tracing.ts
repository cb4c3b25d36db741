import type { Logger, LogLevel } from '../logger.js';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

interface TransactionDescription {
  readonly id: string;
  readonly hint: string | undefined;
  readonly readOnly: boolean;
  readonly startedAt: number;
}

interface Traced {
  readonly info: TransactionDescription;
  nextAt: number;
  count: number;
}

/**
 * Logs transactions that run long: each once after `firstMs`, then every `everyMs`, each time
 * one level louder (debug, info, warn, then error from there on), always naming its hint.
 *
 * One timer per store, armed for the earliest deadline, rather than one per transaction:
 * almost every transaction ends long before it could be logged, and creating and clearing a
 * timer for each showed in the profile of a commit.
 */
export class TransactionTracer {
  readonly #logger: Logger;
  readonly #firstMs: number;
  readonly #everyMs: number;
  readonly #running = new Set<Traced>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  constructor(logger: Logger, firstMs: number, everyMs: number) {
    this.#logger = logger;
    this.#firstMs = firstMs;
    this.#everyMs = everyMs;
  }

  /** Starts tracing a transaction; returns the function that stops it. */
  start(info: TransactionDescription): () => void {
    if (!(this.#firstMs >= 0) || !Number.isFinite(this.#firstMs)) return noop;
    const traced: Traced = { info, nextAt: info.startedAt + this.#firstMs, count: 0 };
    this.#running.add(traced);
    if (traced.nextAt < this.#timerAt) this.#arm(traced.nextAt);
    return () => void this.#running.delete(traced);
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - Date.now()));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const t of this.#running) {
      if (t.nextAt <= now) {
        this.#log(t, now);
        if (this.#everyMs > 0 && Number.isFinite(this.#everyMs)) t.nextAt = now + this.#everyMs;
        else {
          // Logged once and no interval: nothing more to say about it.
          this.#running.delete(t);
          continue;
        }
      }
      next = Math.min(next, t.nextAt);
    }
    if (next !== Infinity) this.#arm(next);
  }

  #log(t: Traced, now: number): void {
    const { info } = t;
    const level = LEVELS[Math.min(t.count, LEVELS.length - 1)] as LogLevel;
    t.count++;
    const elapsed = now - info.startedAt;
    this.#logger[level](
      `${info.readOnly ? 'read-only' : 'read-write'} transaction ${info.hint ? `'${info.hint}'` : '(no hint)'} has been running for ${elapsed} ms`,
      { id: info.id, hint: info.hint, elapsedMs: elapsed },
    );
  }
}

function noop(): void {}
