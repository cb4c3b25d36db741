import { AtollError } from './errors.js';
import type { TxId } from './ids.js';
import { LIMITS } from './limits.js';
import type { ErrorMessage } from './messages/control.js';

/**
 * What went wrong, as a peer can act on it. Carried in the `kind` of an `error` message and of
 * a {@link ProtocolError}.
 */
export const ErrorKind = {
  /** The token in `hello` is missing or wrong. Fix the credentials; do not retry blindly. */
  Auth: 'auth',
  /** No common protocol version. Upgrade one side; do not retry blindly. */
  Version: 'version',
  /** A frame that is not msgpack, not a known message, or not valid for its type. */
  Malformed: 'malformed',
  /** A frame over the receiver's limit (in bytes or in msgpack values). */
  TooLarge: 'too-large',
  /** Authenticated, but not allowed: a write outside the peer's write scope, say. */
  Forbidden: 'forbidden',
  /** The peer sends faster than the receiver allows. */
  RateLimited: 'rate-limited',
  /** A changeset whose contents cannot be applied (invalid Automerge bytes, say); rejected whole. */
  InvalidChange: 'invalid-change',
  /** A well-formed message that is not valid in the connection's state (anything before `hello`, a second `sync` …). */
  Protocol: 'protocol',
  /** The sender failed for reasons of its own; the connection's state is unknown, so reconnect and resume. */
  Internal: 'internal',
} as const;
/** One of the {@link ErrorKind} values. */
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** Every {@link ErrorKind}, in a stable order (used by the `error` message schema). */
export const ERROR_KINDS = Object.freeze(Object.values(ErrorKind)) as readonly [ErrorKind, ...ErrorKind[]];

/**
 * How each kind is handled unless the sender says otherwise: `fatal` — the sender closes the
 * connection right after the `error`; `retry` — reconnecting (with backoff) may succeed without
 * anyone changing configuration.
 */
export const ERROR_KIND_INFO: { readonly [K in ErrorKind]: { readonly fatal: boolean; readonly retry: boolean } } = {
  auth: { fatal: true, retry: false },
  version: { fatal: true, retry: false },
  // After a bad frame the two sides may disagree on what was delivered or acknowledged;
  // starting over from the persisted cursor is the only state both can trust.
  malformed: { fatal: true, retry: true },
  'too-large': { fatal: true, retry: true },
  // The offending changeset is rejected whole and counted as processed; the rest flows on.
  forbidden: { fatal: false, retry: true },
  // A warning: the receiver reads more slowly for a while. It never drops a message silently.
  'rate-limited': { fatal: false, retry: true },
  'invalid-change': { fatal: false, retry: true },
  protocol: { fatal: true, retry: true },
  internal: { fatal: true, retry: true },
};

/** Options of a {@link ProtocolError} beyond its kind and text. */
export interface ProtocolErrorOptions extends ErrorOptions {
  /** Overrides the kind's default in {@link ERROR_KIND_INFO}. */
  readonly fatal?: boolean;
  /** The transaction the error is about (a rejected changeset). */
  readonly txId?: TxId;
  /** For `rate-limited`: how long the sender of the error asks the peer to hold back. */
  readonly retryAfterMs?: number;
}

/**
 * An error that crosses the wire: thrown by the codec and the connection state machine for bad
 * input from a peer, turned into an `error` message with {@link toErrorMessage}, and rebuilt
 * from a received one with {@link protocolErrorFromMessage}.
 *
 * @example
 * try {
 *   msg = decodeMessage(frame, { maxBytes });
 * } catch (err) {
 *   const reply = toErrorMessage(err);
 *   transport.send(encodeMessage(reply));
 *   if (reply.fatal) transport.close();
 * }
 */
export class ProtocolError extends AtollError {
  /** What the peer can do about it. */
  readonly kind: ErrorKind;
  /** Whether the connection is closed after this error is reported. */
  readonly fatal: boolean;
  /** The transaction the error is about, if any. */
  readonly txId: TxId | undefined;
  /** For `rate-limited`: how long to hold back, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(kind: ErrorKind, message: string, options: ProtocolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.fatal = options.fatal ?? ERROR_KIND_INFO[kind].fatal;
    this.txId = options.txId;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The `error` message that reports `error` to the peer. A {@link ProtocolError} keeps its kind,
 * text and flags; anything else is a bug or an environment failure on this side, reported as a
 * fatal `internal` error without its text, which could leak internals to an untrusted peer.
 */
export function toErrorMessage(error: unknown): ErrorMessage {
  if (!(error instanceof ProtocolError)) {
    return { type: 'error', kind: ErrorKind.Internal, message: 'internal error', fatal: true };
  }
  const text = error.message.length > LIMITS.errorMessageLength ? `${error.message.slice(0, LIMITS.errorMessageLength - 1)}…` : error.message;
  const msg: ErrorMessage = { type: 'error', kind: error.kind, message: text, fatal: error.fatal };
  if (error.txId !== undefined) msg.txId = error.txId;
  if (error.retryAfterMs !== undefined) msg.retryAfterMs = error.retryAfterMs;
  return msg;
}

/** Rebuilds the error a peer reported, so it can be thrown, logged or shown like a local one. */
export function protocolErrorFromMessage(msg: ErrorMessage): ProtocolError {
  const options: { fatal: boolean; txId?: TxId; retryAfterMs?: number } = { fatal: msg.fatal };
  if (msg.txId !== undefined) options.txId = msg.txId;
  if (msg.retryAfterMs !== undefined) options.retryAfterMs = msg.retryAfterMs;
  return new ProtocolError(msg.kind, `the peer reported ${msg.kind}: ${msg.message}`, options);
}
