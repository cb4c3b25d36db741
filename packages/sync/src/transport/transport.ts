import { AtollError } from '@atoll/protocol';

/** Why a transport closed. Codes follow WebSocket close codes where they apply. */
export interface CloseInfo {
  /** 1000 normal, 1001 going away, 1003 unsupported data (a text frame), 1006 abnormal (no close frame: crash or network loss), 1008 policy, 1009 too big, 4000+ Atoll. */
  readonly code: number;
  readonly reason: string;
  /** Whether this side called `close()`. */
  readonly local: boolean;
}

/**
 * One open, ordered, reliable, message-framed duplex connection to one remote peer: a
 * WebSocket, a MessagePort, or the in-memory pair used in tests. Each `send` is delivered to
 * the other side as one whole message, in order. The sync layer encodes and validates
 * messages; a transport only moves bytes.
 *
 * Events reach the handlers in the order they happened: every message received before the
 * connection closed goes to the message handler before `onClose` fires (so an `error`
 * message followed by a close is never lost), and an event waits until its handler is set.
 *
 * Implementations run `runTransportTests` from `@atoll/sync/testing`.
 */
export interface Transport {
  /**
   * Queues one message. Throws {@link TransportClosedError} once the transport is closed.
   * The transport may keep a reference to `message` until it is on the wire: do not modify
   * it after `send`.
   */
  send(message: Uint8Array): void;
  /** Bytes queued by `send` and not yet handed to the network: the sender's backpressure signal. */
  readonly bufferedAmount: number;
  /**
   * Sets the handler of incoming messages (one handler; a later call replaces it). Messages
   * received before a handler is set are kept and delivered to it. Each message is a
   * `Uint8Array` the receiver owns; it shares no memory with the sender's buffer.
   */
  onMessage(handler: (message: Uint8Array) => void): void;
  /**
   * Sets the handler called once when the transport closes, for whatever reason. If the
   * transport has already closed, a handler set later is still called (once, asynchronously).
   */
  onClose(handler: (info: CloseInfo) => void): void;
  /**
   * Closes the transport; the other side's `onClose` sees the code (default 1000) and reason
   * (default ''). Messages already sent are still delivered before the close; no message
   * reaches this side's handler after `close()` returns. Idempotent, and a no-op once the
   * transport has closed for another reason.
   */
  close(code?: number, reason?: string): void;
  /**
   * Whether it is closed: true as soon as `close()` is called or the close of the other side
   * (or the loss of the connection) is known — possibly a moment before `onClose` fires.
   */
  readonly closed: boolean;
}

/** A transport was used after it closed. Open a new connection (the sync layer reconnects by itself). */
export class TransportClosedError extends AtollError {
  constructor() {
    super('the transport is closed');
  }
}
