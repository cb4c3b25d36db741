import { ValidationError } from '@atoll/protocol';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  ACTION,
  ACTION_DEL,
  ACTION_SET,
  CHANGE_CHUNK,
  INSERT,
  KEY_ACTOR,
  KEY_CTR,
  KEY_STR,
  OBJ_ACTOR,
  OBJ_CTR,
  PRED_ACTOR,
  PRED_CTR,
  PRED_NUM,
  VAL_META,
  VAL_RAW,
  VALUE_FALSE,
  VALUE_FLOAT,
  VALUE_INT,
  VALUE_NULL,
  VALUE_STRING,
  VALUE_TRUE,
  VALUE_UINT,
} from './change-format.js';

/**
 * A reader of Automerge change chunks for the shapes a peer receives by the thousand: a change
 * whose every operation puts a plain value (null, boolean, string, int, uint, float64) into a
 * field of the document root — over nothing (a document's creation) or over the values it
 * overwrites (an update, conflicts included) — or deletes a root field. For such a change it
 * returns what `A.decodeChange` returns, field for field, without a call into WebAssembly, at a
 * fraction of its cost (the SHA-256 of the chunk is most of what is left). Anything else it
 * leaves to Automerge by returning `undefined`: other operations, encodings Automerge never
 * writes, and every byte sequence Automerge might reject — so that whatever it returns,
 * Automerge would have returned too.
 *
 * The layout (https://automerge.org/automerge-binary-format-spec/, checked against
 * automerge-rs `storage/chunk.rs`, `storage/change.rs` and `columnar/`, and by experiment
 * against @automerge/automerge 3.5):
 *
 *     chunk   = magic(85 6f 4a 83) checksum(4) type(1 = change) uleb(length) body
 *     body    = uleb(#deps) hash(32)* uleb(#actor) actor uleb(seq) uleb(startOp) sleb(time)
 *               uleb(#message) message uleb(#others) (uleb(#actor) actor)*
 *               uleb(#columns) (uleb(spec) uleb(#data))* column-data* extra-bytes
 *
 * The hash is SHA-256 over `type length body` (everything after the checksum); the checksum
 * is its first four bytes.
 *
 * An operation's predecessors (the ops it overwrites or deletes) are three columns: how many
 * each op has (0x70, run-length encoded), then, for all of them in a row, the actor (0x71, an
 * index into the change's actors: 0 its author, i the i-th of the other actors) and the counter
 * (0x73, run-length encoded differences from the previous counter, starting at 0). Automerge
 * writes the last two only when some op has a predecessor, each op's predecessors in order of
 * (counter, actor id bytes), and the other actors in byte order. `A.decodeChange` prints them
 * as `"<counter>@<actor hex>"` sorted in that same order whatever the order stored; it prints a
 * counter of 0, but panics on a counter from 2^32 on and on an actor index past the actors
 * (and wraps an index of 2^32 around to 0). A delete (action 3) stores a null value; Automerge
 * reads any value there and prints none: `{ action: 'del', obj, key, pred }`. The reader takes
 * predecessors only in the order Automerge prints, with counters below 2^32 and indexes within
 * the actors, and deletes only with a null value; it leaves the rest to Automerge.
 */

/** What `A.decodeChange` returns for a change the reader understands (Automerge's field order). */
export interface ReadChange {
  readonly ops: (RootPut | RootDelete)[];
  readonly actor: string;
  readonly hash: string;
  readonly seq: number;
  readonly startOp: number;
  readonly time: number;
  readonly message: string | null;
  readonly deps: string[];
}

/**
 * A plain value put into a root field, as `A.decodeChange` reports it: `pred` names the ops it
 * overwrites (`"<counter>@<actor hex>"`, none for a new field, several for a conflicted one).
 */
export type RootPut =
  | { readonly action: 'set'; readonly obj: '_root'; readonly key: string; readonly value: string | boolean | null; readonly pred: string[] }
  | { readonly action: 'set'; readonly obj: '_root'; readonly key: string; readonly datatype: 'int' | 'uint' | 'float64'; readonly value: number; readonly pred: string[] };

/** The deletion of a root field, as `A.decodeChange` reports it: no value, the ops it deletes in `pred`. */
export interface RootDelete {
  readonly action: 'del';
  readonly obj: '_root';
  readonly key: string;
  readonly pred: string[];
}

/**
 * A change whose stored checksum is not the start of its hash: the bytes were damaged in
 * storage or transit (Automerge itself does not check this when it decodes a change). Fetch
 * the change again from its source.
 */
export class ChangeChecksumError extends ValidationError {
  constructor(checksum: string, hash: string) {
    super(`change checksum ${checksum} is not the start of its hash ${hash}: the change bytes are damaged`);
  }
}

/**
 * Reads a change chunk: what `A.decodeChange` would return for it, or `undefined` when the
 * reader leaves the chunk to Automerge (see the module comment).
 *
 * @throws {ChangeChecksumError} when the chunk's checksum does not match its contents.
 *
 * @example
 * const decoded = readChange(bytes) ?? A.decodeChange(bytes);
 */
export function readChange(bytes: Uint8Array): ReadChange | undefined {
  try {
    return read(bytes);
  } catch (err) {
    if (err === unsupported) return undefined;
    throw err;
  }
}

/**
 * Checks that a change chunk's checksum (bytes 4–7) is the start of its hash, for chunks the
 * reader left to Automerge — which does not check it — such as compressed changes, whose
 * checksum is that of the uncompressed change.
 *
 * @throws {ChangeChecksumError} when it is not.
 */
export function verifyChecksum(bytes: Uint8Array, hash: string): void {
  const checksum = bytes.length >= 8 ? hex(bytes, 4, 8) : '';
  if (hash.slice(0, 8) !== checksum) throw new ChangeChecksumError(checksum, hash);
}

/** Thrown inside the reader for whatever it leaves to Automerge; never escapes `readChange`. */
const unsupported = new Error('left to Automerge');

/** More ops, or predecessors, than this are left to Automerge, so a small run-length encoding cannot make the reader allocate without bound. */
const MAX_OPS = 1 << 16;

/** Automerge panics on a predecessor's counter from here on. */
const MAX_COUNTER = 2 ** 32;

const ROOT = '_root';
function read(bytes: Uint8Array): ReadChange {
  if (bytes.length < 10 || bytes[0] !== 0x85 || bytes[1] !== 0x6f || bytes[2] !== 0x4a || bytes[3] !== 0x83) throw unsupported;
  // A compressed change (type 2) is deflated; Automerge inflates it.
  if (bytes[8] !== CHANGE_CHUNK) throw unsupported;
  const c = new Cursor(bytes, 9, bytes.length);
  const length = c.uint();
  // Automerge rejects a chunk shorter than its length and bytes after it.
  if (c.pos + length !== bytes.length) throw unsupported;

  const digest = hashOf(bytes.subarray(8));
  if (digest[0] !== bytes[4] || digest[1] !== bytes[5] || digest[2] !== bytes[6] || digest[3] !== bytes[7]) {
    throw new ChangeChecksumError(hex(bytes, 4, 8), hex(digest, 0, 32));
  }
  const hash = hex(digest, 0, 32);

  const depCount = c.uint();
  if (depCount > (c.end - c.pos) / 32) throw unsupported;
  const deps: string[] = [];
  for (let i = 0; i < depCount; i++) deps.push(hex(bytes, c.pos, (c.pos += 32)));
  const actorLength = c.uint();
  const actor = hex(bytes, c.pos, c.skip(actorLength));
  const seq = c.uint();
  const startOp = c.uint();
  // Automerge refuses a start op of 0, and one from 2^32 on ("counter too large").
  if (startOp === 0 || startOp >= 2 ** 32) throw unsupported;
  const time = c.int();
  const messageLength = c.uint();
  const message = messageLength === 0 ? null : text(bytes, c.pos, c.skip(messageLength));
  // The change's actors as op ids name them: its author, then the other actors.
  const otherActors = c.uint();
  if (otherActors > c.end - c.pos) throw unsupported;
  const actors = [actor];
  for (let i = 0; i < otherActors; i++) {
    const length = c.uint();
    actors.push(hex(bytes, c.pos, c.skip(length)));
  }

  // Column metadata: (specification, length) pairs in ascending order of specification, the
  // columns' data following in the same order. Automerge leaves out empty columns; the reader
  // takes only the columns its operations use.
  const columnCount = c.uint();
  let keysLength = 0;
  let insertLength = 0;
  let actionLength = 0;
  let metaLength = -1;
  let rawLength = 0;
  let predLength = 0;
  let predActorLength = -1;
  let predCtrLength = -1;
  let last = -1;
  for (let i = 0; i < columnCount; i++) {
    const spec = c.uint();
    const length = c.uint();
    if (spec <= last) throw unsupported;
    const previous = last;
    last = spec;
    switch (spec) {
      case OBJ_ACTOR:
      case OBJ_CTR:
      case KEY_ACTOR:
      case KEY_CTR:
        // All null (every op in the root, every key a string): written as nothing at all.
        if (length !== 0) throw unsupported;
        break;
      case KEY_STR:
        keysLength = length;
        break;
      case INSERT:
        insertLength = length;
        break;
      case ACTION:
        actionLength = length;
        break;
      case VAL_META:
        metaLength = length;
        break;
      case VAL_RAW:
        // Automerge refuses raw values without their metadata column.
        if (metaLength < 0) throw unsupported;
        rawLength = length;
        break;
      case PRED_NUM:
        predLength = length;
        break;
      case PRED_ACTOR:
        // Automerge reads the predecessors' actors and counters only as the two columns of the
        // group the count column opens; it refuses one without the other.
        if (previous !== PRED_NUM) throw unsupported;
        predActorLength = length;
        break;
      case PRED_CTR:
        if (previous !== PRED_ACTOR) throw unsupported;
        predCtrLength = length;
        break;
      default:
        throw unsupported;
    }
  }
  const keys = c.sub(keysLength);
  const insert = c.sub(insertLength);
  const action = c.sub(actionLength);
  const meta = c.sub(Math.max(metaLength, 0));
  const raw = c.sub(rawLength);
  const predCount = c.sub(predLength);
  const predActor = c.sub(Math.max(predActorLength, 0));
  const predCtr = c.sub(Math.max(predCtrLength, 0));
  // Automerge refuses a predecessor actor column without its counter column.
  if (predActorLength >= 0 && predCtrLength < 0) throw unsupported;
  // What follows the columns is the change's extra bytes, where Automerge keeps a change's
  // author (and reports it, with the bytes, from `decodeChange`); Atoll sets no author.
  if (!c.done()) throw unsupported;

  // Automerge counts the ops by the action column and reads that many values from every
  // other column, ignoring what is left over; the reader wants every column used up exactly.
  const actions = rle(action, MAX_OPS, readUint);
  const count = actions.length;
  const predCounts = rle(predCount, count, readUint);
  if (predCounts.length !== count || !allFalse(insert, count)) throw unsupported;
  const names = rle(keys, count, readString);
  const metas = rle(meta, count, readUint);
  if (names.length !== count || metas.length !== count) throw unsupported;
  const preds = predecessors(predCounts, predActor, predCtr, actors);
  const ops: (RootPut | RootDelete)[] = [];
  for (let i = 0; i < count; i++) {
    const key = names[i] as string;
    const valueMeta = metas[i] as number;
    const pred = preds[i] as string[];
    switch (actions[i] as number) {
      case ACTION_SET:
        ops.push(put(key, valueMeta, raw, pred));
        break;
      case ACTION_DEL:
        // Automerge writes a null value for a delete (and drops any other from what it prints).
        if (valueMeta !== VALUE_NULL) throw unsupported;
        ops.push({ action: 'del', obj: ROOT, key, pred });
        break;
      default:
        throw unsupported;
    }
  }
  if (!raw.done()) throw unsupported;

  return { ops, actor, hash, seq, startOp, time, message, deps };
}

/**
 * Each op's predecessors as `A.decodeChange` prints them, from their counts (one per op) and
 * the actor and counter columns: in the order stored, which must be the order Automerge writes
 * and prints — by counter, then by actor id.
 */
function predecessors(counts: readonly number[], actorColumn: Cursor, counterColumn: Cursor, actors: readonly string[]): string[][] {
  let total = 0;
  for (const n of counts) total += n;
  if (total > MAX_OPS) throw unsupported;
  const indexes = rle(actorColumn, total, readUint);
  const deltas = rle(counterColumn, total, readInt);
  if (indexes.length !== total || deltas.length !== total) throw unsupported;
  const out: string[][] = [];
  let k = 0;
  let counter = 0;
  for (const n of counts) {
    const pred: string[] = [];
    let lastCounter = -1;
    let lastActor = '';
    for (let j = 0; j < n; j++, k++) {
      counter += deltas[k] as number;
      const actor = actors[indexes[k] as number];
      if (counter < 0 || counter >= MAX_COUNTER || actor === undefined) throw unsupported;
      // Hex strings compare as the bytes they spell.
      if (counter < lastCounter || (counter === lastCounter && actor < lastActor)) throw unsupported;
      lastCounter = counter;
      lastActor = actor;
      pred.push(`${counter}@${actor}`);
    }
    out.push(pred);
  }
  return out;
}

/** The op putting the next raw value, described by `meta`, into root field `key` over the ops `pred`. */
function put(key: string, meta: number, raw: Cursor, pred: string[]): RootPut {
  const type = meta % 16;
  const length = (meta - type) / 16;
  switch (type) {
    case VALUE_NULL:
    case VALUE_FALSE:
    case VALUE_TRUE:
      if (length !== 0) throw unsupported;
      return { action: 'set', obj: ROOT, key, value: type === VALUE_NULL ? null : type === VALUE_TRUE, pred };
    case VALUE_UINT:
    case VALUE_INT: {
      // A LEB128 number filling exactly the value's length.
      const field = raw.sub(length);
      const value = type === VALUE_UINT ? field.uint() : field.int();
      if (!field.done()) throw unsupported;
      return { action: 'set', obj: ROOT, key, datatype: type === VALUE_UINT ? 'uint' : 'int', value, pred };
    }
    case VALUE_FLOAT: {
      if (length !== 8) throw unsupported;
      for (let i = 0; i < 8; i++) float64Bytes[i] = raw.byte();
      return { action: 'set', obj: ROOT, key, datatype: 'float64', value: float64View.getFloat64(0, true), pred };
    }
    case VALUE_STRING:
      return { action: 'set', obj: ROOT, key, value: text(raw.buf, raw.pos, raw.skip(length)), pred };
    default:
      // Bytes, counters, timestamps and types this reader does not know.
      throw unsupported;
  }
}

/**
 * SHA-256 of `data` into a buffer reused by the next call. One hasher is reset from a pristine
 * copy instead of building a new one per change: for a 100-byte change that halves the cost of
 * the hash, which is most of the reader's.
 */
function hashOf(data: Uint8Array): Uint8Array {
  pristine._cloneInto(hasher);
  hasher.update(data);
  hasher.digestInto(digestBytes);
  return digestBytes;
}

const pristine = sha256.create();
const hasher = sha256.create();
const digestBytes = new Uint8Array(32);

const float64Bytes = new Uint8Array(8);
const float64View = new DataView(float64Bytes.buffer);

/** A position in a byte range; every read past the range, or of an encoding Automerge would not write, gives up. */
class Cursor {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  done(): boolean {
    return this.pos >= this.end;
  }

  byte(): number {
    if (this.pos >= this.end) throw unsupported;
    return this.buf[this.pos++] as number;
  }

  /** Skips `n` bytes and returns the new position. */
  skip(n: number): number {
    if (n > this.end - this.pos) throw unsupported;
    return (this.pos += n);
  }

  /** The next `n` bytes as a cursor of their own; this one moves past them. */
  sub(n: number): Cursor {
    const start = this.pos;
    return new Cursor(this.buf, start, this.skip(n));
  }

  /**
   * An unsigned LEB128 number of at most 2^53 - 1 in its shortest encoding (Automerge's header
   * parser refuses longer ones). Larger numbers, which Automerge cannot hand to JavaScript, give up.
   */
  uint(): number {
    let low = 0;
    let scale = 1;
    for (let n = 1; ; n++) {
      const b = this.byte();
      if ((b & 0x80) === 0) {
        if (b === 0 && n > 1) throw unsupported;
        const value = low + b * scale;
        if (value > Number.MAX_SAFE_INTEGER) throw unsupported;
        return value;
      }
      if (n === 8) throw unsupported;
      low += (b & 0x7f) * scale;
      scale *= 128;
    }
  }

  /** A signed LEB128 number within ±(2^53 - 1) in its shortest encoding. */
  int(): number {
    let low = 0;
    let scale = 1;
    let prev = 0;
    for (let n = 1; ; n++) {
      const b = this.byte();
      if ((b & 0x80) === 0) {
        if (n > 1 && ((b === 0 && (prev & 0x40) === 0) || (b === 0x7f && (prev & 0x40) !== 0))) throw unsupported;
        // The last group carries the sign: its value is b - 128 when bit 6 is set.
        const value = low + (b & 0x40 ? b - 0x80 : b) * scale;
        if (!Number.isSafeInteger(value)) throw unsupported;
        return value;
      }
      if (n === 8) throw unsupported;
      low += (b & 0x7f) * scale;
      scale *= 128;
      prev = b;
    }
  }
}

function readUint(c: Cursor): number {
  return c.uint();
}

function readInt(c: Cursor): number {
  return c.int();
}

function readString(c: Cursor): string {
  const length = c.uint();
  return text(c.buf, c.pos, c.skip(length));
}

/**
 * A run-length encoded column (signed count, then: count > 0 a value repeated count times,
 * count < 0 that many literal values, count 0 a run of nulls) of at most `count` values (the
 * caller checks how many), none null (no op the reader takes has a null there).
 */
function rle<T>(c: Cursor, count: number, value: (c: Cursor) => T): T[] {
  const out: T[] = [];
  while (!c.done()) {
    const n = c.int();
    if (n === 0 || Math.abs(n) > count - out.length) throw unsupported;
    if (n > 0) {
      const v = value(c);
      for (let i = 0; i < n; i++) out.push(v);
    } else {
      for (let i = 0; i < -n; i++) out.push(value(c));
    }
  }
  return out;
}

/**
 * Whether a boolean column (alternating run lengths, falses first) holds exactly `count`
 * values, all false. Zero-length runs after them are harmless: Automerge stops reading.
 */
function allFalse(c: Cursor, count: number): boolean {
  let value = true;
  let total = 0;
  while (!c.done()) {
    const n = c.uint();
    value = !value;
    if (n === 0) continue;
    if (value || n > count - total) return false;
    total += n;
  }
  return total === count;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += HEX[bytes[i] as number];
  return s;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 (as Rust's `str::from_utf8`): a leading byte order mark is kept, invalid bytes give up. */
function text(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 32) {
    let s = '';
    for (let i = start; i < end; i++) {
      const b = bytes[i] as number;
      if (b >= 0x80) return decodeUtf8(bytes, start, end);
      s += String.fromCharCode(b);
    }
    return s;
  }
  return decodeUtf8(bytes, start, end);
}

function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  try {
    return utf8.decode(bytes.subarray(start, end));
  } catch {
    // Automerge refuses invalid UTF-8 with its own error.
    throw unsupported;
  }
}
