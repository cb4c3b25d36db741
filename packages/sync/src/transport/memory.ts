import { assert, ValidationError } from '@atoll/protocol';
import { TransportClosedError, type CloseInfo, type Transport } from './transport.js';

/** Options of {@link createMemoryTransportPair}. */
export interface MemoryTransportOptions {
  /**
   * Delivers each message (and a close) this many milliseconds after it was sent, on a timer,
   * instead of on the next microtask. Order is kept. Default 0 (microtask, fully deterministic).
   */
  readonly latencyMs?: number;
}

type Item =
  | { readonly kind: 'message'; readonly bytes: Uint8Array; ready: boolean }
  | { readonly kind: 'close'; readonly info: CloseInfo; ready: boolean };

/** Connects two ends; set by a static block so the link stays private to this module. */
let linkEnds: (a: MemoryTransport, b: MemoryTransport) => void;

/**
 * One end of an in-memory transport pair: the reference {@link Transport} used by tests and
 * by the multi-peer harness. Messages are copied on `send` (the two ends never share memory)
 * and delivered in order on a microtask, or after `latencyMs` on a timer.
 *
 * Besides the `Transport` contract it can simulate faults: {@link MemoryTransport.pause}
 * stops this end reading (what was sent to it queues up and the other end's
 * `bufferedAmount` grows), and {@link MemoryTransport.kill} drops the link as a crash would.
 *
 * Create ends with {@link createMemoryTransportPair}.
 */
export class MemoryTransport implements Transport {
  #peer: MemoryTransport | undefined;
  readonly #latencyMs: number;
  /** Items the other end sent to this end and this end has not delivered yet; `#head` is the first. */
  #inbox: (Item | undefined)[] = [];
  #head = 0;
  #inboxBytes = 0;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #paused = false;
  #messageHandler: ((message: Uint8Array) => void) | undefined;
  #closeHandler: ((info: CloseInfo) => void) | undefined;
  #closeInfo: CloseInfo | undefined;
  #closeDelivered = false;
  #drainScheduled = false;
  #draining = false;

  static {
    linkEnds = (a, b) => {
      a.#peer = b;
      b.#peer = a;
    };
  }

  /** @internal Use {@link createMemoryTransportPair}: an end on its own is not connected to anything. */
  constructor(latencyMs: number) {
    this.#latencyMs = latencyMs;
  }

  get #other(): MemoryTransport {
    const peer = this.#peer;
    assert(peer, () => 'a MemoryTransport is used without createMemoryTransportPair');
    return peer;
  }

  /** Bytes this end sent that the other end has not delivered to its handler yet. */
  get bufferedAmount(): number {
    return this.#other.#inboxBytes;
  }

  get closed(): boolean {
    return this.#closeInfo !== undefined;
  }

  /** Whether this end has stopped reading (see {@link MemoryTransport.pause}). */
  get paused(): boolean {
    return this.#paused;
  }

  send(message: Uint8Array): void {
    if (this.closed) throw new TransportClosedError();
    // new Uint8Array(view) copies exactly the view's bytes into a plain Uint8Array (never a Buffer).
    this.#other.#enqueue({ kind: 'message', bytes: new Uint8Array(message), ready: false });
  }

  onMessage(handler: (message: Uint8Array) => void): void {
    this.#messageHandler = handler;
    this.#schedule();
  }

  onClose(handler: (info: CloseInfo) => void): void {
    this.#closeHandler = handler;
    this.#schedule();
  }

  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    this.#finish({ code, reason, local: true });
    this.#other.#enqueue({ kind: 'close', info: { code, reason, local: false }, ready: false });
  }

  /**
   * Stops this end reading, as an application that no longer consumes its socket: messages
   * and a close sent to it queue up, and the sending end's `bufferedAmount` grows.
   */
  pause(): void {
    this.#paused = true;
  }

  /** Resumes reading: what queued up during {@link MemoryTransport.pause} is delivered in order. */
  resume(): void {
    this.#paused = false;
    this.#schedule();
  }

  /**
   * Drops the link as a crash or a network loss would: both ends close at once with code 1006
   * (`local: false`), and whatever is still queued in either direction is lost.
   */
  kill(): void {
    const info: CloseInfo = { code: 1006, reason: '', local: false };
    const other = this.#other;
    if (!this.closed) this.#finish(info);
    if (!other.closed) other.#finish(info);
  }

  #enqueue(item: Item): void {
    if (this.closed) return; // sent while this end's close was on its way: lost, as on a socket
    this.#inbox.push(item);
    if (item.kind === 'message') this.#inboxBytes += item.bytes.byteLength;
    if (this.#latencyMs > 0) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        item.ready = true;
        this.#schedule();
      }, this.#latencyMs);
      this.#timers.add(timer);
    } else {
      item.ready = true;
      this.#schedule();
    }
  }

  /** Closes this end: what was not delivered yet is dropped, and `onClose` is due. */
  #finish(info: CloseInfo): void {
    this.#closeInfo = info;
    this.#inbox = [];
    this.#head = 0;
    this.#inboxBytes = 0;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.#drain();
    });
  }

  #drain(): void {
    if (this.#draining) return; // a handler re-entered; the outer loop continues
    this.#draining = true;
    try {
      while (true) {
        if (this.#closeInfo) {
          const handler = this.#closeHandler;
          if (handler && !this.#closeDelivered) {
            this.#closeDelivered = true;
            handler(this.#closeInfo);
          }
          return;
        }
        if (this.#paused) return;
        const item = this.#inbox[this.#head];
        if (!item?.ready) return;
        if (item.kind === 'close') {
          this.#finish(item.info);
          continue;
        }
        const handler = this.#messageHandler;
        if (!handler) return;
        this.#take();
        handler(item.bytes);
      }
    } finally {
      this.#draining = false;
      // A throwing handler leaves the rest of the queue to a later turn instead of stalling it.
      if (this.#hasDeliverable()) this.#schedule();
    }
  }

  #take(): void {
    const item = this.#inbox[this.#head];
    if (item?.kind === 'message') this.#inboxBytes -= item.bytes.byteLength;
    this.#inbox[this.#head] = undefined; // let the bytes be collected
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#inbox.length) {
      this.#inbox = this.#inbox.slice(this.#head);
      this.#head = 0;
    }
  }

  #hasDeliverable(): boolean {
    if (this.#closeInfo) return this.#closeHandler !== undefined && !this.#closeDelivered;
    const item = this.#inbox[this.#head];
    return !this.#paused && item?.ready === true && (item.kind === 'close' || this.#messageHandler !== undefined);
  }
}

/**
 * Two connected in-memory transports: what one end sends, the other receives. The reference
 * implementation of {@link Transport}, for tests and the multi-peer harness.
 *
 * @example
 * const [a, b] = createMemoryTransportPair();
 * b.onMessage((m) => console.log(m)); // Uint8Array [1, 2, 3], on a microtask
 * a.send(new Uint8Array([1, 2, 3]));
 * b.pause(); // b stops reading: a.bufferedAmount grows with every send
 * a.kill(); // both ends close with code 1006, as if the process crashed
 */
export function createMemoryTransportPair(options: MemoryTransportOptions = {}): [MemoryTransport, MemoryTransport] {
  const latencyMs = options.latencyMs ?? 0;
  if (!(Number.isFinite(latencyMs) && latencyMs >= 0)) {
    throw new ValidationError(`latencyMs must be a finite number >= 0, got ${latencyMs}`, 'latencyMs');
  }
  const a = new MemoryTransport(latencyMs);
  const b = new MemoryTransport(latencyMs);
  linkEnds(a, b);
  return [a, b];
}
