import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  DEFAULTS,
  LIMITS,
  MessageType,
  ProtocolError,
  ValidationError,
  ERROR_KINDS,
  decodeMessage,
  encodeMessage,
  protocolErrorFromMessage,
  toErrorMessage,
  type ErrorKind,
  type Message,
  type MessageOf,
} from '../src/index.js';
import { SAMPLES, kAnn, kBig, kBob, tx1 } from './samples.js';

const maxBytes = DEFAULTS.maxMessageBytes;
// A plain msgpack encoder, as another implementation (or an attacker) would use: no validation.
const raw = new Packr({ useRecords: false });
const frame = (value: unknown): Uint8Array => new Uint8Array(raw.pack(value));

function decodeError(bytes: Uint8Array, options = { maxBytes }): ProtocolError {
  try {
    decodeMessage(bytes, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error('decodeMessage accepted the frame');
}

function expectRejected(bytes: Uint8Array, kind: ErrorKind, text?: RegExp): ProtocolError {
  const error = decodeError(bytes);
  expect(error.kind).toBe(kind);
  if (text) expect(error.message).toMatch(text);
  return error;
}

const delivery = SAMPLES.delivery;

describe('round trip', () => {
  it.each(Object.values(MessageType))('%s survives encode → decode unchanged', (type) => {
    const msg = SAMPLES[type];
    const bytes = encodeMessage(msg);
    expect(decodeMessage(bytes, { maxBytes })).toEqual(msg);
  });

  it('encodes a plain Uint8Array that owns its buffer, not a view into msgpackr’s shared one', () => {
    const a = encodeMessage(SAMPLES.ping);
    const b = encodeMessage(SAMPLES.pong);
    expect(Object.getPrototypeOf(a)).toBe(Uint8Array.prototype);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(a.byteLength);
    expect(a.buffer).not.toBe(b.buffer);
  });

  it('decodes byte arrays as plain Uint8Arrays with equal content, from a Buffer frame too', () => {
    const withBuffers: MessageOf<'delivery'> = {
      ...delivery,
      parts: [{ key: kAnn, changes: [Buffer.from([1, 2, 3])] }, { key: kBob, changes: [new Uint8Array([4])] }],
    };
    const bytes = encodeMessage(withBuffers);
    for (const input of [bytes, Buffer.from(bytes)]) {
      const out = decodeMessage(input, { maxBytes }) as MessageOf<'delivery'>;
      const change = out.parts[0]?.changes[0];
      expect(Object.getPrototypeOf(change)).toBe(Uint8Array.prototype);
      expect(Buffer.isBuffer(change)).toBe(false);
      expect(Array.from(change ?? [])).toEqual([1, 2, 3]);
    }
  });

  it('gives decoded byte arrays their own memory, so mutating the frame afterwards changes nothing', () => {
    const bytes = encodeMessage(delivery);
    const out = decodeMessage(bytes, { maxBytes }) as MessageOf<'delivery'>;
    const change = out.parts[0]?.changes[0];
    expect(change?.buffer).not.toBe(bytes.buffer);
    bytes.fill(0);
    expect(change).toEqual(delivery.parts[0]?.changes[0]);
  });

  it('drops optional fields set to undefined and unknown fields instead of encoding them', () => {
    const msg = { ...SAMPLES.hello, token: undefined, extra: 'x' } as unknown as Message;
    const decoded = raw.unpack(encodeMessage(msg)) as Record<string, unknown>;
    expect('token' in decoded).toBe(false);
    expect('extra' in decoded).toBe(false);
  });

  it('round-trips long and non-ASCII strings and the largest safe integers', () => {
    const msg: MessageOf<'error'> = { type: 'error', kind: 'internal', message: 'ünïcödé ✓ '.repeat(90), fatal: true };
    expect(decodeMessage(encodeMessage(msg), { maxBytes })).toEqual(msg);
    const sync: MessageOf<'sync'> = { type: 'sync', since: Number.MAX_SAFE_INTEGER };
    expect(decodeMessage(encodeMessage(sync), { maxBytes })).toEqual(sync);
  });

  it('decodes a frame written by a plain msgpack encoder', () => {
    expect(decodeMessage(frame({ type: 'ping', nonce: 7 }), { maxBytes })).toEqual({ type: 'ping', nonce: 7 });
  });
});

describe('encodeMessage', () => {
  it('refuses an invalid message with a ValidationError naming the field', () => {
    const bad = { ...SAMPLES.ack, deliveries: -1 } as Message;
    expect(() => encodeMessage(bad)).toThrow(ValidationError);
    expect(() => encodeMessage(bad)).toThrow(/deliveries/);
  });

  it('encodes without validation when asked', () => {
    const bad = { ...SAMPLES.ack, deliveries: -1 } as Message;
    expect(() => decodeMessage(encodeMessage(bad, { validate: false }), { maxBytes })).toThrow(ProtocolError);
  });

  it('throws too-large when the frame exceeds the peer’s limit', () => {
    const big: MessageOf<'delivery'> = { ...delivery, parts: [{ key: kAnn, changes: [new Uint8Array(70_000)] }, delivery.parts[1]!] };
    expect(() => encodeMessage(big, { maxBytes: 64 * 1024 })).toThrow(expect.objectContaining({ kind: 'too-large' }) as Error);
  });
});

describe('decodeMessage rejects', () => {
  it('an oversized frame with too-large, before decoding it', () => {
    // Garbage: if it were decoded first, the error would be malformed.
    const bytes = new Uint8Array(1025).fill(0xc1);
    const error = decodeError(bytes, { maxBytes: 1024 });
    expect(error.kind).toBe('too-large');
    expect(error.fatal).toBe(true);
    expect(error.message).toMatch(/1025 bytes exceeds the limit of 1024/);
  });

  it('garbage bytes with malformed', () => {
    expectRejected(new Uint8Array([0xc1, 0x00, 0xff]), 'malformed', /undecodable/);
    expectRejected(new Uint8Array(0), 'malformed', /truncated/);
  });

  it('truncated msgpack with malformed', () => {
    const bytes = encodeMessage(SAMPLES.hello);
    expectRejected(bytes.subarray(0, bytes.length - 3), 'malformed', /truncated/);
  });

  it('trailing bytes after the message with malformed', () => {
    const bytes = encodeMessage(SAMPLES.ping);
    expectRejected(new Uint8Array([...bytes, 0xc0]), 'malformed', /trailing/);
  });

  it('msgpack extension types (Date, Set, undefined …) with malformed', () => {
    const dated = new Packr({ useRecords: false, moreTypes: true }).pack({ type: 'ping', nonce: 1, at: new Date(0), s: new Set([1]) });
    expectRejected(new Uint8Array(dated), 'malformed', /extension/);
    expectRejected(new Uint8Array([0x81, 0xa1, 0x78, 0xd4, 0x00, 0x00]), 'malformed', /extension/); // msgpackr's undefined
  });

  it('valid msgpack that is not a map with malformed', () => {
    for (const value of [42, 'hello', null, [1, 2], true, new Uint8Array([1])]) {
      expectRejected(frame(value), 'malformed', /a message is a msgpack map/);
    }
  });

  it('a map without a type, or with an unknown type, with malformed', () => {
    expectRejected(frame({ nonce: 1 }), 'malformed', /no type/);
    expectRejected(frame({ type: 'launch-missiles' }), 'malformed', /unknown message type "launch-missiles"/);
    expectRejected(frame({ type: 7 }), 'malformed', /unknown message type/);
    // A type inherited from Object.prototype is not a message type either.
    expectRejected(frame({ type: 'constructor' }), 'malformed', /unknown message type/);
    // The peer's text is echoed only in part.
    const long = expectRejected(frame({ type: 'x'.repeat(10_000) }), 'malformed');
    expect(long.message.length).toBeLessThan(200);
  });

  it('missing fields with malformed, naming the field', () => {
    expectRejected(frame({ type: 'hello', versions: [1], role: 'client', logId: 'l', maxBytes }), 'malformed', /invalid hello message: peerId/);
    expectRejected(frame({ type: 'sync' }), 'malformed', /invalid sync message: since/);
  });

  it('wrong field types with malformed', () => {
    expectRejected(frame({ type: 'ping', nonce: 'one' }), 'malformed', /nonce/);
    expectRejected(frame({ type: 'sync', since: -1 }), 'malformed', /since/);
    expectRejected(frame({ type: 'sync', since: 1.5 }), 'malformed', /since/);
    expectRejected(frame({ type: 'ack', pos: 1, deliveries: 2 ** 60 }), 'malformed', /deliveries/);
    expectRejected(frame({ ...SAMPLES.hello, role: 'admin' }), 'malformed', /role/);
    expectRejected(frame({ ...SAMPLES.error, kind: 'oops' }), 'malformed', /kind/);
    // Change bytes must be msgpack bin, not a string or an array of numbers.
    expectRejected(frame({ ...delivery, parts: [{ key: kAnn, changes: ['AQID'] }, delivery.parts[1]] }), 'malformed', /parts\.0\.changes\.0/);
    expectRejected(frame({ ...delivery, parts: [{ key: kAnn, changes: [[1, 2, 3]] }, delivery.parts[1]] }), 'malformed', /parts\.0\.changes\.0/);
  });

  it('oversized arrays and strings with malformed', () => {
    expectRejected(frame({ ...SAMPLES.hello, versions: Array.from({ length: LIMITS.versions + 1 }, (_, i) => i + 1) }), 'malformed', /versions/);
    expectRejected(frame({ ...SAMPLES.hello, token: 't'.repeat(LIMITS.tokenLength + 1) }), 'malformed', /token/);
    const keys = Array.from({ length: LIMITS.keysPerTransaction + 1 }, (_, i) => `people/${i}`);
    expectRejected(frame({ type: 'want', txId: 'a:1', keys }), 'malformed', /keys/);
    const subs = Array.from({ length: LIMITS.subscriptions + 1 }, (_, i) => ({ id: `s${i}`, collection: 'people' }));
    expectRejected(frame({ type: 'subscribe', subs }), 'malformed', /subs/);
    expectRejected(frame({ ...SAMPLES.error, message: 'x'.repeat(LIMITS.errorMessageLength + 1) }), 'malformed', /message/);
  });

  it('a change over the per-change byte limit with malformed', () => {
    const huge = new Uint8Array(LIMITS.changeBytes + 1);
    const msg = { ...delivery, parts: [{ key: kAnn, changes: [huge] }, delivery.parts[1]] };
    const bytes = frame(msg);
    const error = decodeError(bytes, { maxBytes: bytes.byteLength });
    expect(error.kind).toBe('malformed');
    expect(error.message).toMatch(/parts\.0\.changes\.0: a change may have at most/);
  });

  it('a bad DocKey with malformed', () => {
    expectRejected(frame({ type: 'want', txId: 'a:1', keys: ['no-slash'] }), 'malformed', /keys\.0: a DocKey is collection\/_id/);
    expectRejected(frame({ type: 'want', txId: 'a:1', keys: ['1bad/x'] }), 'malformed', /keys\.0/);
    expectRejected(frame({ type: 'want', txId: 'a:1', keys: ['people/'] }), 'malformed', /keys\.0/);
    expectRejected(frame({ ...delivery, manifest: [kAnn, kBob, 'nope'] }), 'malformed', /manifest\.2/);
  });

  it('a bad filter inside subscribe with malformed, naming the subscription', () => {
    const sub = (where: unknown): Uint8Array => frame({ type: 'subscribe', subs: [{ id: 'ok', collection: 'people' }, { id: 's', collection: 'people', where }] });
    expectRejected(sub({ age: { $regex: 'a' } }), 'malformed', /subs\.1\.where: unknown field operator \$regex/);
    expectRejected(sub({ $nor: [] }), 'malformed', /subs\.1\.where: unknown filter operator/);
    expectRejected(sub({ age: { $gt: [1] } }), 'malformed', /\$gt compares with a number or a string/);
    expectRejected(sub([{ a: 1 }]), 'malformed', /a filter must be an object/);
    expectRejected(sub({ '': 1 }), 'malformed', /invalid field path/);
    expectRejected(sub({ a: new Uint8Array(5) }), 'malformed', /not a JSON value/);
    // Size limits: too many nodes, too long a string.
    expectRejected(sub({ a: { $in: Array.from({ length: LIMITS.filterNodes }, (_, i) => i) } }), 'malformed', /at most 1024 nodes/);
    expectRejected(sub({ a: 'x'.repeat(LIMITS.filterStringLength + 1) }), 'malformed', /strings in a filter/);
    // Depth: a filter nested past validateFilter's limit.
    let deep: unknown = { a: 1 };
    for (let i = 0; i < 40; i++) deep = { $not: deep };
    expectRejected(sub(deep), 'malformed', /nests deeper/);
  });

  it('a bad subscription collection or duplicate ids with malformed', () => {
    expectRejected(frame({ type: 'subscribe', subs: [{ id: 's', collection: 'bad name' }] }), 'malformed', /subs\.0\.collection/);
    expectRejected(frame({ type: 'subscribe', subs: [{ id: 's', collection: 'a' }, { id: 's', collection: 'b' }] }), 'malformed', /subs\.1\.id: duplicate subscription id/);
  });

  it('nesting deeper than the msgpack limit with malformed, without recursing into it', () => {
    // 100 000 nested one-element arrays would overflow a recursive decoder's stack.
    const depth = 100_000;
    const bytes = new Uint8Array(depth + 1).fill(0x91);
    bytes[depth] = 0xc0;
    expectRejected(bytes, 'malformed', /nesting deeper than 100/);
  });

  it('a container announcing more entries than bytes remain with malformed, before allocating', () => {
    expectRejected(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]), 'malformed', /container of 4294967295 values/);
    expectRejected(new Uint8Array([0xdf, 0x7f, 0xff, 0xff, 0xff]), 'malformed', /container/);
  });

  it('a frame of more msgpack values than allowed with too-large', () => {
    // 200 000 empty maps: 200 KB on the wire, tens of MB as JS objects.
    const n = 200_000;
    const bytes = new Uint8Array(5 + n);
    bytes.set([0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    bytes.fill(0x80, 5);
    const error = decodeError(bytes, { maxBytes, maxItems: 100_000 } as { maxBytes: number });
    expect(error.kind).toBe('too-large');
    expect(error.message).toMatch(/more than 100000 msgpack values/);
  });

  it('never lets __proto__ in a frame reach an object’s prototype', () => {
    // {"type":"ping","nonce":1,"__proto__":{"polluted":true}} written by hand.
    const bytes = new Uint8Array([
      0x83, 0xa4, ...Buffer.from('type'), 0xa4, ...Buffer.from('ping'), 0xa5, ...Buffer.from('nonce'), 0x01,
      0xa9, ...Buffer.from('__proto__'), 0x81, 0xa8, ...Buffer.from('polluted'), 0xc3,
    ]);
    const msg = decodeMessage(bytes, { maxBytes });
    expect(msg).toEqual({ type: 'ping', nonce: 1 });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('delivery manifest rules', () => {
  const bad = (patch: Partial<Record<keyof MessageOf<'delivery'>, unknown>>): Uint8Array => frame({ ...delivery, ...patch });

  it('every manifest key is in parts or omitted, exactly once', () => {
    expectRejected(bad({ omitted: [] }), 'malformed', /manifest\.2: manifest key blobs\/b\/with\/slashes is neither in parts nor in omitted/);
    expectRejected(bad({ omitted: [{ key: kBig, reason: 'not-held' }, { key: kAnn, reason: 'not-subscribed' }] }), 'malformed', /omitted\.1\.key: key people\/ann is listed twice/);
    expectRejected(bad({ manifest: [kAnn, kBob] }), 'malformed', /omitted\.0\.key: key blobs\/b\/with\/slashes is not in the manifest/);
    expectRejected(bad({ manifest: [kAnn, kBob, kBig, kAnn] }), 'malformed', /manifest\.3: duplicate key/);
  });

  it('a transaction has at least one document, and at most the per-transaction limit', () => {
    expectRejected(bad({ manifest: [], parts: [], omitted: [], redacted: 0 }), 'malformed', /cannot both be empty/);
    expect(decodeMessage(bad({ manifest: [], parts: [], omitted: [], redacted: 3 }), { maxBytes })).toMatchObject({ redacted: 3 });
    expectRejected(bad({ redacted: LIMITS.keysPerTransaction }), 'malformed', /redacted: a transaction writes at most/);
  });

  it('omitted reasons are the protocol’s; not-permitted is never spelled out', () => {
    expectRejected(bad({ omitted: [{ key: kBig, reason: 'not-permitted' }] }), 'malformed', /omitted\.0\.reason/);
  });

  it('positions start at 1 and via is one of log, backfill, want', () => {
    expectRejected(bad({ pos: 0 }), 'malformed', /pos/);
    expectRejected(bad({ via: 'carrier-pigeon' }), 'malformed', /via/);
  });
});

describe('errors as messages', () => {
  it('a ProtocolError from decoding becomes an error message that itself encodes and decodes', () => {
    const error = decodeError(frame({ type: 'nope' }));
    const reply = toErrorMessage(error);
    expect(reply).toEqual({ type: 'error', kind: 'malformed', message: error.message, fatal: true });
    expect(decodeMessage(encodeMessage(reply), { maxBytes })).toEqual(reply);
  });

  it('any other error becomes a fatal internal error that does not leak its text', () => {
    expect(toErrorMessage(new Error('ENOENT: /var/lib/atoll/secret.db'))).toEqual({ type: 'error', kind: 'internal', message: 'internal error', fatal: true });
  });

  it('keeps txId, retryAfterMs and an overridden fatal flag, and truncates long texts to fit the schema', () => {
    const error = new ProtocolError('rate-limited', 'slow down '.repeat(200), { retryAfterMs: 500, txId: tx1, fatal: true });
    const reply = toErrorMessage(error);
    expect(reply).toMatchObject({ kind: 'rate-limited', fatal: true, retryAfterMs: 500, txId: tx1 });
    expect(reply.message.length).toBe(LIMITS.errorMessageLength);
    expect(decodeMessage(encodeMessage(reply), { maxBytes })).toEqual(reply);
  });

  it('a received error becomes a ProtocolError with the same kind and flags', () => {
    const error = protocolErrorFromMessage(SAMPLES.error);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ kind: 'forbidden', fatal: false, txId: tx1, name: 'ProtocolError' });
    expect(error.message).toMatch(/the peer reported forbidden: people\/ann is outside your write scope/);
  });

  it('each kind has its documented default fatality', () => {
    expect(Object.fromEntries(ERROR_KINDS.map((k) => [k, new ProtocolError(k, 'x').fatal]))).toEqual({
      auth: true,
      version: true,
      malformed: true,
      'too-large': true,
      forbidden: false,
      'rate-limited': false,
      'invalid-change': false,
      protocol: true,
      internal: true,
    });
  });
});
