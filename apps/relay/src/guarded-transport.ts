import { ErrorKind, ProtocolError, encodeMessage, toErrorMessage } from '@atoll/protocol';
import type { CloseInfo, Transport } from '@atoll/sync';

/**
 * The per-connection limit on incoming messages: a token bucket of `burst` messages refilled
 * at `messagesPerSecond`. Past it the relay reads more slowly instead of dropping anything —
 * the frames wait, and the peer gets a non-fatal `rate-limited` error with `retryAfterMs` — and
 * when more than `maxQueuedMessages` messages or `maxQueuedBytes` bytes are waiting, the peer
 * is flooding: it gets a fatal `rate-limited` error and the connection is closed (4429).
 *
 * A well-behaved peer never gets that far: it keeps at most its backpressure window (4 MiB by
 * default) of deliveries unacknowledged, and the relay acknowledges only what it has applied.
 */
export interface RateLimitOptions {
  /** Sustained rate. Default 1000 messages per second. */
  readonly messagesPerSecond: number;
  /** Messages accepted at once before the rate applies. Default 2000. */
  readonly burst: number;
  /** Messages held back, waiting for the rate, before the connection is closed. Default 50 000. */
  readonly maxQueuedMessages: number;
  /** Bytes held back, waiting for the rate, before the connection is closed. Default 32 MiB, or twice the frame limit if that is more. */
  readonly maxQueuedBytes: number;
}

/** The relay's default {@link RateLimitOptions}. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = Object.freeze({
  messagesPerSecond: 1_000,
  burst: 2_000,
  maxQueuedMessages: 50_000,
  maxQueuedBytes: 32 * 1024 * 1024,
});

/** Close code of a connection closed for flooding (the same as `@atoll/sync` uses for `rate-limited`). */
export const RATE_LIMITED_CLOSE_CODE = 4429;

/** What a {@link GuardedTransport} reports. */
export interface GuardHooks {
  /** A frame went by, in either direction (counted before any limit applies). */
  frame(direction: 'sent' | 'received', bytes: number): void;
  /** The transport reported `rate-limited` to the peer; `fatal` when it also closed the connection. */
  rateLimited(fatal: boolean): void;
}

/**
 * Wraps the transport of one accepted connection, in front of the sync peer: counts the bytes
 * going each way and enforces the message rate limit on what comes in. Everything else
 * (decoding, validation, the protocol) is the sync peer's job.
 */
export class GuardedTransport implements Transport {
  readonly #inner: Transport;
  readonly #limit: RateLimitOptions | false;
  readonly #hooks: GuardHooks;
  readonly #now: () => number;
  #handler: ((message: Uint8Array) => void) | undefined;
  #tokens: number;
  #refilledAt: number;
  #held: Uint8Array[] = [];
  #heldHead = 0;
  #heldBytes = 0;
  #warned = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(inner: Transport, limit: RateLimitOptions | false, hooks: GuardHooks, now: () => number = () => performance.now()) {
    this.#inner = inner;
    this.#limit = limit;
    this.#hooks = hooks;
    this.#now = now;
    this.#tokens = limit ? limit.burst : 0;
    this.#refilledAt = now();
  }

  get bufferedAmount(): number {
    return this.#inner.bufferedAmount;
  }

  get closed(): boolean {
    return this.#stopped || this.#inner.closed;
  }

  send(message: Uint8Array): void {
    this.#inner.send(message);
    this.#hooks.frame('sent', message.byteLength);
  }

  onMessage(handler: (message: Uint8Array) => void): void {
    const first = this.#handler === undefined;
    this.#handler = handler;
    // The inner transport keeps what arrives until a handler is set; take over only now.
    if (first) this.#inner.onMessage((message) => this.#receive(message));
  }

  onClose(handler: (info: CloseInfo) => void): void {
    this.#inner.onClose((info) => {
      this.#stop();
      handler(info);
    });
  }

  close(code?: number, reason?: string): void {
    this.#stop();
    this.#inner.close(code, reason);
  }

  /** Messages held back by the rate limit right now. */
  get queued(): number {
    return this.#held.length - this.#heldHead;
  }

  #receive(message: Uint8Array): void {
    if (this.#stopped) return;
    this.#hooks.frame('received', message.byteLength);
    const limit = this.#limit;
    if (!limit) {
      this.#handler?.(message);
      return;
    }
    this.#refill(limit);
    if (this.queued === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#handler?.(message);
      return;
    }
    this.#held.push(message);
    this.#heldBytes += message.byteLength;
    if (this.queued > limit.maxQueuedMessages || this.#heldBytes > limit.maxQueuedBytes) {
      this.#flooded(limit);
      return;
    }
    if (!this.#warned) {
      this.#warned = true;
      this.#report(
        new ProtocolError(ErrorKind.RateLimited, `more than ${limit.messagesPerSecond} messages per second (burst ${limit.burst}): reading more slowly`, {
          fatal: false,
          retryAfterMs: this.#drainMs(limit),
        }),
      );
      this.#hooks.rateLimited(false);
    }
    this.#schedule(limit);
  }

  #refill(limit: RateLimitOptions): void {
    const now = this.#now();
    this.#tokens = Math.min(limit.burst, this.#tokens + ((now - this.#refilledAt) / 1000) * limit.messagesPerSecond);
    this.#refilledAt = now;
  }

  /** How long the held messages take to be read at the sustained rate. */
  #drainMs(limit: RateLimitOptions): number {
    return Math.min(86_400_000, Math.ceil((this.queued / limit.messagesPerSecond) * 1000));
  }

  #schedule(limit: RateLimitOptions): void {
    if (this.#timer !== undefined || this.#stopped) return;
    const wait = Math.max(1, Math.ceil(((1 - this.#tokens) / limit.messagesPerSecond) * 1000));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#drain(limit);
    }, wait);
  }

  #drain(limit: RateLimitOptions): void {
    this.#refill(limit);
    while (!this.#stopped && this.queued > 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      const message = this.#held[this.#heldHead] as Uint8Array;
      this.#heldHead++;
      this.#heldBytes -= message.byteLength;
      this.#handler?.(message);
    }
    if (this.#stopped) return;
    if (this.queued === 0) {
      this.#held = [];
      this.#heldHead = 0;
      this.#warned = false;
    } else {
      if (this.#heldHead > 1024 && this.#heldHead * 2 > this.#held.length) {
        this.#held = this.#held.slice(this.#heldHead);
        this.#heldHead = 0;
      }
      this.#schedule(limit);
    }
  }

  #flooded(limit: RateLimitOptions): void {
    this.#report(
      new ProtocolError(
        ErrorKind.RateLimited,
        `flooding: more than ${limit.maxQueuedMessages} messages or ${limit.maxQueuedBytes} bytes waiting at ${limit.messagesPerSecond} messages per second; closing`,
        { fatal: true, retryAfterMs: this.#drainMs(limit) },
      ),
    );
    this.#hooks.rateLimited(true);
    this.close(RATE_LIMITED_CLOSE_CODE, 'rate-limited');
  }

  #report(error: ProtocolError): void {
    try {
      this.send(encodeMessage(toErrorMessage(error)));
    } catch {
      // The connection is already closing; the close code tells the same story.
    }
  }

  #stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#held = [];
    this.#heldHead = 0;
    this.#heldBytes = 0;
  }
}
