import { Packr, type Options } from 'msgpackr';
import type { z } from 'zod';
import { ValidationError } from './errors.js';
import { DEFAULTS, LIMITS } from './limits.js';
import { isMessageType, MESSAGE_SCHEMAS, type Message } from './messages/message.js';
import { plainDelivery } from './messages/replication.js';
import { scanMsgpack } from './msgpack-scan.js';
import { ProtocolError } from './protocol-error.js';

// Every option is spelled out because msgpackr's defaults are tuned for msgpackr talking to
// itself, and the wire must be plain msgpack that any implementation can read.
const PACKR_OPTIONS: Options & { skipValues: unknown[] } = {
  // Records and shared structures would make a frame depend on frames before it.
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  moreTypes: false,
  bundleStrings: false,
  useFloat32: 0,
  // Byte arrays must own their memory: a change kept by the store must not pin the whole
  // frame, nor alias a buffer the transport may reuse.
  copyBuffers: true,
  // Integers beyond 2^53 are not valid anywhere in the protocol; as numbers they fail validation
  // cleanly instead of arriving as BigInt.
  int64AsType: 'number',
  // An optional field set to `undefined` is absent, not msgpackr's private `undefined` extension.
  skipValues: [undefined],
};

const packr = new Packr(PACKR_OPTIONS);

/** Options of {@link decodeMessage}. */
export interface DecodeOptions {
  /** The largest frame accepted, in bytes; checked before decoding. */
  readonly maxBytes: number;
  /** The most msgpack values a frame may hold; {@link DEFAULTS.maxMessageItems} when absent. */
  readonly maxItems?: number;
}

/** Options of {@link encodeMessage}. */
export interface EncodeOptions {
  /**
   * Validate against the message's schema first (default `true`): a bad message is reported
   * here, where the bug is, rather than as a `malformed` error from the peer.
   */
  readonly validate?: boolean;
  /** The peer's advertised frame limit; a larger frame throws `too-large` instead of being sent. */
  readonly maxBytes?: number;
}

/**
 * Encodes one message as one msgpack frame. The result is a plain `Uint8Array` that owns its
 * whole `ArrayBuffer` (byteOffset 0), so it can be kept, or transferred to a worker, freely.
 * Unknown fields are dropped.
 *
 * @throws {ValidationError} when validation is on and `msg` does not match its schema.
 * @throws {ProtocolError} of kind `too-large` when the frame exceeds `maxBytes`.
 * @example
 * socket.send(encodeMessage({ type: 'ping', nonce: 1 }));
 */
export function encodeMessage(msg: Message, options: EncodeOptions = {}): Uint8Array {
  let value: unknown = msg;
  if (options.validate !== false) {
    const schema: z.ZodType = MESSAGE_SCHEMAS[msg.type];
    const result = schema.safeParse(msg);
    if (!result.success) {
      const first = result.error.issues[0];
      throw new ValidationError(`refusing to encode an invalid ${msg.type} message: ${formatIssues(result.error.issues)}`, first ? first.path.join('.') : '');
    }
    value = result.data;
  }
  const packed = packr.pack(value);
  if (options.maxBytes !== undefined && packed.byteLength > options.maxBytes) {
    throw new ProtocolError('too-large', `a ${msg.type} message of ${packed.byteLength} bytes exceeds the peer's limit of ${options.maxBytes}`);
  }
  // msgpackr returns a view into its shared, reused output buffer; copy out the frame.
  return new Uint8Array(packed);
}

/**
 * Decodes and validates one frame. Never returns an unvalidated message; every failure is a
 * {@link ProtocolError} the caller can send back with `toErrorMessage`:
 * - `too-large`: over `maxBytes` (checked before any decoding) or over `maxItems` values;
 * - `malformed`: not exactly one msgpack value, uses extension types, nests too deep, is not a
 *   map, has an unknown `type`, or does not match the schema of its type (the message says
 *   where: `invalid delivery message: parts.0.key: …`).
 *
 * Byte arrays in the result are plain `Uint8Array`s (never Node `Buffer`s) with their own memory.
 *
 * @example
 * const msg = decodeMessage(frame, { maxBytes: DEFAULTS.maxMessageBytes });
 * switch (msg.type) { … default: unreachable(msg); }
 */
export function decodeMessage(bytes: Uint8Array, options: DecodeOptions): Message {
  if (bytes.byteLength > options.maxBytes) {
    throw new ProtocolError('too-large', `frame of ${bytes.byteLength} bytes exceeds the limit of ${options.maxBytes}`);
  }
  scanMsgpack(bytes, { maxDepth: LIMITS.msgpackDepth, maxItems: options.maxItems ?? DEFAULTS.maxMessageItems });
  // msgpackr slices byte arrays with the source's own class: a Buffer source yields Buffers.
  const source = Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let raw: unknown;
  try {
    raw = packr.unpack(source);
  } catch (error) {
    throw new ProtocolError('malformed', `undecodable frame: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw new ProtocolError('malformed', `a message is a msgpack map, got ${describe(raw)}`);
  }
  const type = (raw as { type?: unknown }).type;
  if (!isMessageType(type)) {
    throw new ProtocolError('malformed', type === undefined ? 'message has no type' : `unknown message type ${describe(type)}`);
  }
  // The one message that comes once per transaction has a plain-code check for what is valid.
  const plain = type === 'delivery' ? plainDelivery(raw) : undefined;
  if (plain) return plain;
  const schema: z.ZodType = MESSAGE_SCHEMAS[type];
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ProtocolError('malformed', `invalid ${type} message: ${formatIssues(result.error.issues)}`, { cause: result.error });
  }
  return result.data as Message;
}

/** The first few issues as `path: message`, so a peer's log says exactly what was wrong. */
function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 3).map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`);
  if (issues.length > 3) shown.push(`and ${issues.length - 3} more`);
  return shown.join('; ');
}

/** A short, safe description of an untrusted value for an error text. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'a byte array';
  if (typeof value === 'number' || typeof value === 'boolean') return `a ${typeof value} (${value})`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
