import { TransportClosedError, type CloseInfo, type Transport } from '@atoll/sync';

/**
 * The part of the WHATWG WebSocket API the adapter uses. The browser's `WebSocket` has it, and
 * so does the `ws` package's (with `binaryType` 'nodebuffer' its messages are `Buffer`s, with
 * 'arraybuffer' `ArrayBuffer`s, and a text frame is a string in both).
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { readonly code: number; readonly reason: string }) => void): void;
  addEventListener(type: 'open' | 'error', listener: (event: unknown) => void): void;
}

const CLOSING = 2;

/** Close codes a `ws` socket may send. */
export const wsCanSend = (code: number): boolean =>
  (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);

/** Close codes a browser's `WebSocket.close` accepts (it throws on the others). */
export const browserCanSend = (code: number): boolean => code === 1000 || (code >= 3000 && code <= 4999);

/** The close frame's reason holds at most 123 bytes of UTF-8; a longer one is cut at a character boundary. */
export function fitCloseReason(reason: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(reason).byteLength <= 123) return reason;
  let fitted = '';
  let bytes = 0;
  for (const char of reason) {
    const size = encoder.encode(char).byteLength;
    if (bytes + size > 123) break;
    fitted += char;
    bytes += size;
  }
  return fitted;
}

/** Close codes of the `ws` errors that close a connection, in case the other side never answers the close. */
const WS_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007,
};

/**
 * Bytes of a binary message, or undefined for a text frame. A `Buffer` from `ws` becomes a
 * plain `Uint8Array` view of the same memory — `ws` never reuses it — unless the message is a
 * small part of a larger chunk, which is copied so that keeping the message does not keep the
 * whole chunk alive.
 */
function binaryPayload(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    const { buffer, byteOffset, byteLength } = data;
    return byteLength * 2 >= buffer.byteLength ? new Uint8Array(buffer, byteOffset, byteLength) : new Uint8Array(new Uint8Array(buffer, byteOffset, byteLength));
  }
  return undefined;
}

type Event = { readonly kind: 'message'; readonly bytes: Uint8Array } | { readonly kind: 'close'; readonly info: CloseInfo };

/** Options of {@link SocketTransport}. */
export interface SocketTransportOptions {
  /** Called before each send: may hold the frames of one turn together (see `coalesceWrites`). */
  readonly beforeSend?: () => void;
}

/**
 * A {@link Transport} over one open WebSocket (browser or `ws`). It only accepts binary
 * frames: a text frame is a protocol violation and closes the connection with 1003.
 */
export class SocketTransport implements Transport {
  readonly #socket: WebSocketLike;
  readonly #canSend: (code: number) => boolean;
  /** Received events not yet handed to their handler; `#head` is the first. */
  #queue: Event[] = [];
  #head = 0;
  #flushing = false;
  #flushScheduled = false;
  #messageHandler: ((message: Uint8Array) => void) | undefined;
  #closeHandler: ((info: CloseInfo) => void) | undefined;
  /** Set by `close()`: what this side reports, whatever the socket says later. */
  #localClose: CloseInfo | undefined;
  /** Set when this side closes because the other broke the rules (a text frame, a frame too big). */
  #violation: CloseInfo | undefined;
  #socketClosed = false;
  readonly #beforeSend: (() => void) | undefined;

  /**
   * @param socket an open socket; the transport takes it over.
   * @param canSend which close codes the socket may send ({@link wsCanSend} or {@link browserCanSend}); others go out as 1000.
   */
  constructor(socket: WebSocketLike, canSend: (code: number) => boolean, options: SocketTransportOptions = {}) {
    this.#socket = socket;
    this.#canSend = canSend;
    this.#beforeSend = options.beforeSend;
    socket.addEventListener('message', (event) => this.#onData(event.data));
    socket.addEventListener('close', (event) => this.#onSocketClose(event.code, event.reason));
    socket.addEventListener('error', (event) => this.#onError(event));
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  get closed(): boolean {
    return this.#localClose !== undefined || this.#socketClosed || this.#socket.readyState >= CLOSING;
  }

  send(message: Uint8Array): void {
    if (this.closed) throw new TransportClosedError();
    this.#beforeSend?.();
    // Browsers cannot send views of a SharedArrayBuffer; Atoll never makes one.
    this.#socket.send(message as Uint8Array<ArrayBuffer>);
  }

  onMessage(handler: (message: Uint8Array) => void): void {
    this.#messageHandler = handler;
    this.#scheduleFlush();
  }

  onClose(handler: (info: CloseInfo) => void): void {
    this.#closeHandler = handler;
    this.#scheduleFlush();
  }

  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    const fitted = fitCloseReason(reason);
    this.#localClose = { code, reason: fitted, local: true };
    this.#queue = []; // nothing reaches the handler after close()
    this.#head = 0;
    this.#socket.close(this.#canSend(code) ? code : 1000, fitted);
  }

  #onData(data: unknown): void {
    if (this.#localClose || this.#violation) return;
    const bytes = binaryPayload(data);
    if (bytes) {
      this.#push({ kind: 'message', bytes });
    } else {
      this.#violation = { code: 1003, reason: 'Atoll accepts binary frames only', local: false };
      this.#socket.close(1003, this.#violation.reason);
    }
  }

  #onError(event: unknown): void {
    // `ws` reports a frame it refused (too big, bad UTF-8) as an error, then closes; remember
    // why, in case the other side never answers the close and the socket reports only 1006.
    const error = (event as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const code = typeof error?.code === 'string' ? WS_ERROR_CLOSE_CODES[error.code] : undefined;
    if (code !== undefined && !this.#localClose && !this.#violation) {
      this.#violation = { code, reason: typeof error?.message === 'string' ? error.message : '', local: false };
    }
  }

  #onSocketClose(code: number, reason: string): void {
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    this.#push({ kind: 'close', info: this.#localClose ?? this.#violation ?? { code, reason, local: false } });
  }

  #push(event: Event): void {
    this.#queue.push(event);
    this.#flush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Hands queued events to their handlers in order; an event without a handler waits, and so do those after it. */
  #flush(): void {
    if (this.#flushing) return; // a handler re-entered; the outer loop goes on
    this.#flushing = true;
    let threw = true;
    try {
      while (this.#head < this.#queue.length) {
        const event = this.#queue[this.#head] as Event;
        if (event.kind === 'message') {
          const handler = this.#messageHandler;
          if (!handler) break;
          this.#take();
          handler(event.bytes);
        } else {
          const handler = this.#closeHandler;
          if (!handler) break;
          this.#take();
          handler(event.info);
        }
      }
      threw = false;
    } finally {
      this.#flushing = false;
      // A throwing handler leaves the rest to a later turn instead of stalling it.
      if (threw) this.#scheduleFlush();
    }
  }

  #take(): void {
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
