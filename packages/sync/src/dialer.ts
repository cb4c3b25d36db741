import { ProtocolError } from '@atoll/protocol';
import type { Logger } from '@atoll/store';
import type { Connection } from './connection.js';
import type { Transport } from './transport/transport.js';

/** Options of `SyncPeer.dial`. */
export interface DialOptions {
  /** First retry delay. Default 250 ms. */
  readonly minDelayMs?: number;
  /** Longest retry delay. Default 10 s. */
  readonly maxDelayMs?: number;
  /** Randomness for the jitter (tests pass a seeded one). Default Math.random. */
  readonly random?: () => number;
}

/** What a dialer is doing. */
export type DialerStatus = 'connecting' | 'open' | 'waiting' | 'failed' | 'stopped';

/**
 * Keeps one outgoing connection up. After a close it waits `min(max, min·2^attempt)` scaled
 * by a random factor in [0.5, 1) — exponential backoff with jitter, so a relay that restarts
 * is not hit by every client at once — then dials again; a successful handshake resets the
 * backoff. An `auth` or `version` error stops it: retrying cannot fix those.
 */
export class Dialer {
  readonly #connect: (transport: Transport) => Connection;
  readonly #open: () => Promise<Transport>;
  readonly #logger: Logger;
  readonly #min: number;
  readonly #max: number;
  readonly #random: () => number;
  #status: DialerStatus = 'connecting';
  #connection: Connection | undefined;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  readonly stopped: Promise<void>;
  #resolveStopped!: () => void;
  #listeners = new Set<(status: DialerStatus) => void>();
  /** Why the last attempt failed, if it did. */
  lastError: Error | undefined;

  constructor(connect: (transport: Transport) => Connection, open: () => Promise<Transport>, options: DialOptions, logger: Logger) {
    this.#connect = connect;
    this.#open = open;
    this.#logger = logger;
    this.#min = options.minDelayMs ?? 250;
    this.#max = options.maxDelayMs ?? 10_000;
    this.#random = options.random ?? Math.random;
    this.stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
  }

  get status(): DialerStatus {
    return this.#status;
  }

  /** The current connection, while there is one. */
  get connection(): Connection | undefined {
    return this.#connection;
  }

  /** Calls `listener` on every status change; returns the function that stops it. */
  onStatus(listener: (status: DialerStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Dials now if waiting (e.g. the browser came back online). */
  retryNow(): void {
    this.#attempt = 0;
    this.#wake?.();
  }

  start(): void {
    void this.#run();
  }

  /** Stops dialing and closes the current connection. */
  stop(): void {
    if (this.#status === 'stopped') return;
    this.#set('stopped');
    this.#connection?.close(1000, 'dialer stopped');
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (!this.#stopped()) {
      this.#set('connecting');
      let fatal = false;
      let retryAfter = 0;
      try {
        const transport = await this.#open();
        if (this.#stopped()) {
          transport.close(1000, 'dialer stopped');
          break;
        }
        const connection = this.#connect(transport);
        this.#connection = connection;
        try {
          await connection.opened;
          this.#attempt = 0;
          this.lastError = undefined;
          this.#set('open');
        } catch (err) {
          this.lastError = err as Error;
        }
        const info = await connection.closedInfo;
        this.#connection = undefined;
        fatal = info.code === 4401 || info.code === 4426;
        retryAfter = connection.retryAfterMs;
      } catch (err) {
        this.lastError = err as Error;
        fatal = err instanceof ProtocolError && (err.kind === 'auth' || err.kind === 'version');
      }
      if (this.#stopped()) break;
      if (fatal) {
        this.#logger.error(`stopped dialing: ${this.lastError?.message ?? 'the remote refused this peer'}`);
        this.#set('failed');
        break;
      }
      // A remote that asked to be left alone for a while (rate-limited) gets at least that.
      const delay = Math.max(retryAfter, Math.min(this.#max, this.#min * 2 ** this.#attempt) * (0.5 + this.#random() / 2));
      this.#attempt++;
      this.#set('waiting');
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, delay);
        (this.#timer as { unref?: () => void }).unref?.();
      });
      clearTimeout(this.#timer);
      this.#wake = undefined;
    }
    this.#resolveStopped();
  }

  #stopped(): boolean {
    return this.#status === 'stopped';
  }

  #set(status: DialerStatus): void {
    if (this.#status === status || (this.#status === 'stopped' && status !== 'stopped')) return;
    this.#status = status;
    for (const l of this.#listeners) l(status);
  }
}
