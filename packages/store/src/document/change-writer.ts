import { sha256 } from '@noble/hashes/sha2.js';
import { ACTION, ACTION_DEL, ACTION_SET, CHANGE_CHUNK, INSERT, KEY_STR, PRED_ACTOR, PRED_CTR, PRED_NUM, VAL_META, VAL_RAW, VALUE_FALSE, VALUE_FLOAT, VALUE_INT, VALUE_NULL, VALUE_STRING, VALUE_TRUE } from './change-format.js';

/**
 * A writer of Automerge change chunks for the shape of most local commits: every operation
 * puts a plain value (string, int, float64, boolean, null) into a field of the document root,
 * or deletes a root field. For such a change it writes byte for byte the chunk Automerge 3.5
 * writes — `h.put`/`h.delete` on a handle whose fields hold exactly the given predecessors,
 * then `h.commit(null, time)` — without a call into WebAssembly. Byte for byte matters:
 * Automerge encodes a change again from its operations when it saves and loads a document,
 * and a change encoded any other way would come back under another hash.
 *
 * The layout is the one `change-reader.ts` describes. What makes an encoding Automerge's
 * (automerge-rs `storage/change/change_actors.rs`, `change_op_columns.rs`, hexane's RLE
 * state machine, checked by experiment against @automerge/automerge 3.5):
 *
 * - dependencies in ascending order of hash; no message is a message of length 0;
 * - the author is actor 0, the other actors of the predecessors follow in ascending byte order;
 * - an operation's predecessors in ascending (counter, actor bytes) order;
 * - columns in ascending order of specification, every empty one left out: a change of root
 *   puts has key strings, insert, action, value metadata, raw values (left out when every value
 *   is null, a boolean or an empty string) and predecessor counts, then predecessor actors
 *   and counters when some operation has a predecessor; a change without operations has none;
 * - run-length columns as hexane writes them: a repeated value is a run `n value`, values that
 *   differ from their neighbours gather in a literal run `-n value*` (a lone value too:
 *   `-1 value`), and a value equal to the last of a literal run ends it and starts a run of 2;
 *   delta columns are the run-length encoding of the differences from the previous value
 *   (from 0); the insert column (all false) is the one run length `n`;
 * - strings as UTF-8 with every lone surrogate replaced by U+FFFD (what wasm-bindgen hands to
 *   Rust), so two keys differing only in lone surrogates are one run;
 * - an int as the shortest signed LEB128, a float64 as its eight little-endian bytes (NaN
 *   payload and the sign of zero kept), in the value metadata `length << 4 | type`.
 */

/** A root operation: a put of a plain value into field `key`, or a delete of the field. */
export interface WriteOp {
  readonly key: string;
  readonly action: 'set' | 'del';
  /** The value put (absent for a delete). */
  readonly value?: string | number | boolean | null;
  /**
   * The value's Automerge type, as given to `h.put`. A string, boolean or null may go without;
   * a number may not (`h.put` makes a positive integer an int and any other number a float64,
   * where `A.change` makes every integer an int: the writer does not guess).
   */
  readonly datatype?: WriteDatatype;
  /**
   * The ids (`"<counter>@<actorHex>"`) of the operations this one overwrites or deletes: the
   * field's current values (`h.getAll(ROOT, key)`), in any order. Empty for a put into a new
   * field; a delete needs at least one.
   */
  readonly pred: readonly string[];
}

/** The plain-value types the writer writes, named as `h.put` names them. */
export type WriteDatatype = 'str' | 'int' | 'f64' | 'boolean' | 'null';

/** A change to write: what Automerge's `commit(null, time)` would record. */
export interface ChangeToWrite {
  /** The author, lowercase hex as Automerge prints it. */
  readonly actor: string;
  /** The author's number of changes in the document, this one included. */
  readonly seq: number;
  /** The counter of the first operation: the document's largest counter plus one. */
  readonly startOp: number;
  /** Seconds, as passed to `commit` (an integer). */
  readonly time: number;
  /**
   * The hashes (lowercase hex, in any order) of the changes this one depends on. Automerge's
   * are the document's heads and the author's own previous change when that is not one of
   * them (changes made on top of it elsewhere have been merged since).
   */
  readonly deps: readonly string[];
  readonly ops: readonly WriteOp[];
}

/** A written change chunk and its hash (lowercase hex), what `commit` returns. */
export interface WrittenChange {
  readonly bytes: Uint8Array;
  readonly hash: string;
}

/**
 * Writes a change chunk: the bytes Automerge writes for the same change, and its hash. With no
 * operations it writes what `h.emptyChange(null, time)` writes.
 *
 * Automerge leaves out some operations a caller might ask for — a put of the value the field
 * already holds alone (by type and value, so 0 and -0 are one value, NaN differs from NaN), a
 * delete of a field with no value — and writes a put of a value a conflicted field already
 * holds (the winning one) as a delete of the others. The writer writes the operations it is
 * given; such a change is valid and keeps its hash, it is only not the one Automerge would
 * have made.
 *
 * @throws {TypeError} for a change outside the shape, or ill-formed (an actor that is not
 *   lowercase hex, an int that is not a safe integer, a value of another type than its
 *   datatype, a predecessor not before its operation, and the like).
 *
 * @example
 * const { bytes, hash } = writeChange({
 *   actor: 'a1b2', seq: 2, startOp: 5, time: 1_700_000_000, deps: [head],
 *   ops: [{ key: 'title', action: 'set', value: 'Hello', datatype: 'str', pred: ['3@a1b2'] }],
 * });
 */
export function writeChange(change: ChangeToWrite): WrittenChange {
  const { actor, seq, startOp, time, deps, ops } = change;
  if (typeof actor !== 'string' || actor.length === 0 || actor.length % 2 !== 0) throw notHex('actor', actor);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new TypeError(`seq ${seq} is not a positive integer`);
  const count = ops.length;
  if (!Number.isSafeInteger(startOp) || startOp < 1 || startOp + count > MAX_COUNTER + 1) throw new TypeError(`startOp ${startOp} is not a counter from 1 below 2^32 for ${count} operations`);
  if (!Number.isSafeInteger(time)) throw new TypeError(`time ${time} is not an integer number of seconds`);

  prepareOps(ops, actor, startOp);
  const sortedDeps = sortDeps(deps);

  // The columns, one after another, each remembered by its end.
  const c = cols;
  c.reset();
  columnCount = 0;
  if (count > 0) {
    const strings = stringRle.start(c);
    for (let i = 0; i < count; i++) strings.append(keys[i] as string);
    strings.finish();
    column(KEY_STR);
    c.uleb(count);
    column(INSERT);
    let rle = uintRle.start(c);
    for (let i = 0; i < count; i++) rle.append(actions[i] as number);
    rle.finish();
    column(ACTION);
    rle = uintRle.start(c);
    for (let i = 0; i < count; i++) rle.append(metas[i] as number);
    rle.finish();
    column(VAL_META);
    c.bytes(raw.buf, 0, raw.length);
    column(VAL_RAW);
    rle = uintRle.start(c);
    for (let i = 0; i < count; i++) rle.append(predCounts[i] as number);
    rle.finish();
    column(PRED_NUM);
    if (predTotal > 0) {
      rle = uintRle.start(c);
      for (let i = 0; i < predTotal; i++) rle.append(predActorIndex[i] as number);
      rle.finish();
      column(PRED_ACTOR);
      rle = intRle.start(c);
      let prev = 0;
      for (let i = 0; i < predTotal; i++) {
        const counter = predCounters[i] as number;
        rle.append(counter - prev);
        prev = counter;
      }
      rle.finish();
      column(PRED_CTR);
    }
  }

  // The body goes after room for the chunk header, which is written once its length is known.
  const b = body;
  b.length = HEADER_ROOM;
  b.uleb(sortedDeps.length);
  for (const dep of sortedDeps) {
    // Most often the previous change of the same writer: its digest is at hand.
    if (dep === lastHash) b.bytes(lastDigest, 0, 32);
    else if (!b.hex(dep)) throw notHex('dependency', dep);
  }
  b.uleb(actor.length / 2);
  if (!b.hex(actor)) throw notHex('actor', actor);
  b.uleb(seq);
  b.uleb(startOp);
  b.sleb(time);
  b.uleb(0); // no message
  b.uleb(othersCount);
  for (let i = 0; i < othersCount; i++) {
    const other = others[i] as string;
    b.uleb(other.length / 2);
    if (!b.hex(other)) throw notHex('predecessor actor', other);
  }
  b.uleb(columnCount);
  for (let i = 0; i < columnCount; i++) {
    b.uleb(columnSpecs[i] as number);
    b.uleb((columnEnds[i] as number) - (i === 0 ? 0 : (columnEnds[i - 1] as number)));
  }
  b.bytes(c.buf, 0, c.length);

  // magic(4) checksum(4) type(1) uleb(length), ending where the body starts.
  const length = b.length - HEADER_ROOM;
  const start = HEADER_ROOM - 9 - ulebLength(length);
  const buf = b.buf;
  b.length = start + 9;
  b.uleb(length);
  buf[start] = 0x85;
  buf[start + 1] = 0x6f;
  buf[start + 2] = 0x4a;
  buf[start + 3] = 0x83;
  buf[start + 8] = CHANGE_CHUNK;
  const bytes = buf.slice(start, HEADER_ROOM + length);

  pristine._cloneInto(hasher);
  hasher.update(bytes.subarray(8));
  hasher.digestInto(digest);
  for (let i = 0; i < 4; i++) bytes[4 + i] = digest[i] as number;
  for (let i = 0; i < 32; i++) {
    const d = digest[i] as number;
    lastDigest[i] = d;
    hexChars[2 * i] = HEX_CHARS[d >> 4] as number;
    hexChars[2 * i + 1] = HEX_CHARS[d & 15] as number;
  }
  lastHash = ascii.decode(hexChars);
  return { bytes, hash: lastHash };
}

/** Room before the body for the chunk header: 9 bytes and the body length (below 2^35). */
const HEADER_ROOM = 14;
/** Automerge refuses a change whose counters reach 2^32 ("counter too large"). */
const MAX_COUNTER = 2 ** 32 - 1;


// --- Per-call state, reused: the writer is on the hot path of every local commit -------------
// Arrays are written by index up to a count kept aside: setting an array's length costs more
// than the rest of a small change's layout.

/** The keys, well formed. */
const keys: string[] = [];
const actions: number[] = [];
const metas: number[] = [];
const predCounts: number[] = [];
/** Every operation's predecessors, one after another, each operation's sorted. */
const predCounters: number[] = [];
const predActors: string[] = [];
/** Index of each predecessor's actor: 0 the author, then `others` from 1. */
const predActorIndex: number[] = [];
let predTotal = 0;
/** The other actors, sorted. */
const others: string[] = [];
let othersCount = 0;
const columnSpecs: number[] = [];
const columnEnds: number[] = [];
let columnCount = 0;

/** Ends column `spec` at the end of `cols`; an empty column is left out, as Automerge does. */
function column(spec: number): void {
  const start = columnCount === 0 ? 0 : (columnEnds[columnCount - 1] as number);
  if (cols.length === start) return;
  columnSpecs[columnCount] = spec;
  columnEnds[columnCount++] = cols.length;
}

/** Checks the operations and lays them out in the arrays above, raw values in `raw`. */
function prepareOps(ops: readonly WriteOp[], actor: string, startOp: number): void {
  raw.reset();
  othersCount = 0;
  predTotal = 0;
  const count = ops.length;
  for (let i = 0; i < count; i++) {
    const op = ops[i] as WriteOp;
    if (typeof op.key !== 'string') throw new TypeError(`operation ${i}: the key is not a string`);
    keys[i] = wellFormed(op.key);
    if (op.action === 'set') {
      actions[i] = ACTION_SET;
      metas[i] = putValue(op, i);
    } else if (op.action === 'del') {
      if (op.value !== undefined || op.datatype !== undefined) throw new TypeError(`operation ${i}: a delete has no value`);
      if (op.pred.length === 0) throw new TypeError(`operation ${i}: a delete needs the ids of the values it deletes`);
      actions[i] = ACTION_DEL;
      metas[i] = VALUE_NULL;
    } else {
      throw new TypeError(`operation ${i}: unknown action ${String(op.action)}`);
    }
    predCounts[i] = addPreds(op.pred, startOp + i, actor, i);
  }
  if (othersCount > 1) {
    others.length = othersCount;
    others.sort();
  }
  for (let i = 0; i < predTotal; i++) {
    const a = predActors[i] as string;
    predActorIndex[i] = a === actor ? 0 : otherIndex(a) + 1;
  }
}

/** Writes a put's raw value into `raw` and returns its value metadata. */
function putValue(op: WriteOp, i: number): number {
  const { value } = op;
  const datatype = op.datatype ?? inferred(value, i);
  switch (datatype) {
    case 'str':
      if (typeof value !== 'string') break;
      return raw.utf8(value) * 16 + VALUE_STRING;
    case 'int':
      if (typeof value !== 'number') break;
      if (!Number.isSafeInteger(value)) throw new TypeError(`operation ${i}: int ${value} is not a safe integer`);
      return raw.sleb(value) * 16 + VALUE_INT;
    case 'f64':
      if (typeof value !== 'number') break;
      raw.float64(value);
      return 8 * 16 + VALUE_FLOAT;
    case 'boolean':
      if (typeof value !== 'boolean') break;
      return value ? VALUE_TRUE : VALUE_FALSE;
    case 'null':
      if (value !== null) break;
      return VALUE_NULL;
    default:
      throw new TypeError(`operation ${i}: unknown datatype ${String(datatype)}`);
  }
  throw new TypeError(`operation ${i}: ${typeof value} ${String(value)} is not a value of datatype ${datatype}`);
}

/** The datatype of a value put without one (not a number: see `WriteOp.datatype`). */
function inferred(value: WriteOp['value'], i: number): WriteDatatype {
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'boolean';
  if (value === null) return 'null';
  if (typeof value === 'number') throw new TypeError(`operation ${i}: the number ${value} needs a datatype, int or f64`);
  throw new TypeError(`operation ${i}: a put needs a value`);
}

/** Parses and checks an operation's predecessors, appends them sorted; returns how many. */
function addPreds(pred: readonly string[], counter: number, actor: string, i: number): number {
  const first = predTotal;
  for (const id of pred) {
    if (typeof id !== 'string') throw new TypeError(`operation ${i}: predecessor ${String(id)} is not an op id`);
    const at = id.indexOf('@');
    const c = at > 0 && at <= 10 ? parseCounter(id, at) : -1;
    if (c < 1) throw new TypeError(`operation ${i}: predecessor ${id} is not an op id "<counter>@<actor>"`);
    if (c >= counter) throw new TypeError(`operation ${i}: predecessor ${id} does not come before the operation's own counter ${counter}`);
    const a = id.slice(at + 1);
    // Hex digits are checked as the actor is written.
    if (a.length === 0 || a.length % 2 !== 0) throw notHex(`operation ${i}: predecessor ${id}'s actor`, a);
    if (a !== actor && otherIndex(a) < 0) others[othersCount++] = a;
    // Insertion sort by (counter, actor): a field rarely has more than one value.
    let j = predTotal++;
    while (j > first) {
      const pc = predCounters[j - 1] as number;
      const pa = predActors[j - 1] as string;
      if (pc < c || (pc === c && pa < a)) break;
      if (pc === c && pa === a) throw new TypeError(`operation ${i}: predecessor ${id} is given twice`);
      predCounters[j] = pc;
      predActors[j] = pa;
      j--;
    }
    predCounters[j] = c;
    predActors[j] = a;
  }
  return predTotal - first;
}

function otherIndex(a: string): number {
  for (let i = 0; i < othersCount; i++) if (others[i] === a) return i;
  return -1;
}

/** The decimal counter before `at`, or -1. */
function parseCounter(id: string, at: number): number {
  let n = 0;
  for (let k = 0; k < at; k++) {
    const d = id.charCodeAt(k) - 48;
    if (d < 0 || d > 9 || (k === 0 && d === 0)) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** The dependencies in ascending order (as Automerge writes them); hex digits are checked as they are written. */
function sortDeps(deps: readonly string[]): readonly string[] {
  for (const dep of deps) if (typeof dep !== 'string' || dep.length !== 64) throw notHex('dependency', dep);
  if (deps.length < 2) return deps;
  const sorted = deps.slice().sort();
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) throw new TypeError(`dependency ${sorted[i]} is given twice`);
  return sorted;
}

function notHex(what: string, value: unknown): TypeError {
  return new TypeError(`${what} ${String(value)} is not ${what === 'dependency' ? 'a hash' : 'an actor id'} in lowercase hex`);
}

/**
 * `s` with every lone surrogate replaced by U+FFFD, as Automerge receives it (so that two keys
 * Automerge sees as one are one run). `String.prototype.toWellFormed` is not everywhere yet.
 */
function wellFormed(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    return replaceLoneSurrogates(s);
  }
  return s;
}

function replaceLoneSurrogates(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += String.fromCharCode(c, d);
        i++;
        continue;
      }
    }
    out += c >= 0xd800 && c <= 0xdfff ? '\uFFFD' : String.fromCharCode(c);
  }
  return out;
}

// --- Bytes -----------------------------------------------------------------------------------

const utf8 = new TextEncoder();
const float64 = new DataView(new ArrayBuffer(8));
/** Strings longer than this go through `TextEncoder.encodeInto`; shorter ones are written by hand. */
const SHORT_STRING = 32;

/** A growable byte buffer, reused from call to call. */
class Bytes {
  buf = new Uint8Array(256);
  length = 0;

  reset(): void {
    this.length = 0;
  }

  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
  }

  bytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.room(n);
    // A short copy by hand: a subarray for `set` costs more than the loop.
    if (n > 64) this.buf.set(src.subarray(start, end), this.length);
    else for (let i = 0; i < n; i++) this.buf[this.length + i] = src[start + i] as number;
    this.length += n;
  }

  /** Unsigned LEB128 of a safe integer; returns its length. */
  uleb(n: number): number {
    this.room(8);
    const buf = this.buf;
    const start = this.length;
    let pos = start;
    while (n >= 0x80) {
      buf[pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    buf[pos++] = n;
    this.length = pos;
    return pos - start;
  }

  /** Signed LEB128 (shortest) of a safe integer; returns its length. */
  sleb(n: number): number {
    this.room(8);
    const buf = this.buf;
    const start = this.length;
    let pos = start;
    for (;;) {
      const low = n - Math.floor(n / 0x80) * 0x80; // 0..127, for negative n too
      n = (n - low) / 0x80;
      if ((n === 0 && (low & 0x40) === 0) || (n === -1 && (low & 0x40) !== 0)) {
        buf[pos++] = low;
        break;
      }
      buf[pos++] = low | 0x80;
    }
    this.length = pos;
    return pos - start;
  }

  float64(x: number): void {
    this.room(8);
    float64.setFloat64(0, x, true);
    for (let i = 0; i < 8; i++) this.buf[this.length++] = float64.getUint8(i);
  }

  /** An even number of lowercase hex digits as bytes; false, with garbage written, for anything else. */
  hex(s: string): boolean {
    this.room(s.length / 2);
    const buf = this.buf;
    let pos = this.length;
    let bad = 0;
    for (let i = 0; i < s.length; i += 2) {
      const high = HEX_VALUE[s.charCodeAt(i)] ?? 16;
      const low = HEX_VALUE[s.charCodeAt(i + 1)] ?? 16;
      bad |= high | low;
      buf[pos++] = (high << 4) | low;
    }
    this.length = pos;
    return bad < 16;
  }

  /** `s` as UTF-8, lone surrogates as U+FFFD; returns the byte length. */
  utf8(s: string): number {
    this.room(s.length * 3);
    const start = this.length;
    if (s.length > SHORT_STRING) {
      this.length += utf8.encodeInto(s, this.buf.subarray(start)).written;
      return this.length - start;
    }
    const buf = this.buf;
    let pos = start;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        buf[pos++] = c;
        continue;
      }
      if (c < 0x800) {
        buf[pos++] = 0xc0 | (c >> 6);
        buf[pos++] = 0x80 | (c & 0x3f);
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          buf[pos++] = 0xf0 | (cp >> 18);
          buf[pos++] = 0x80 | ((cp >> 12) & 0x3f);
          buf[pos++] = 0x80 | ((cp >> 6) & 0x3f);
          buf[pos++] = 0x80 | (cp & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      buf[pos++] = 0xe0 | (c >> 12);
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
      buf[pos++] = 0x80 | (c & 0x3f);
    }
    this.length = pos;
    return pos - start;
  }
}

/** Each character code's value as a lowercase hex digit, 16 for anything else. */
const HEX_VALUE = Uint8Array.from({ length: 128 }, (_, c) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : 16));

function ulebLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    length++;
  }
  return length;
}

const body = new Bytes();
const cols = new Bytes();
const raw = new Bytes();

/**
 * A run-length encoder writing into `out` as hexane does: a lone value, or values each unlike
 * the next, gather in a literal run (count -n); a repeated value is a run (count n). The
 * literal values wait in `literal` until the run ends, so its count can be written first.
 */
class Rle<T extends number | string> {
  private out = cols;
  private state: 'empty' | 'lone' | 'run' | 'literal' = 'empty';
  private value!: T;
  private count = 0;
  private readonly literal: T[] = [];
  private literalCount = 0;

  constructor(private readonly pack: (out: Bytes, value: T) => void) {}

  start(out: Bytes): this {
    this.out = out;
    this.state = 'empty';
    this.literalCount = 0;
    return this;
  }

  append(v: T): void {
    switch (this.state) {
      case 'empty':
        this.state = 'lone';
        this.value = v;
        return;
      case 'lone':
        if (v === this.value) {
          this.state = 'run';
          this.count = 2;
        } else {
          this.state = 'literal';
          this.literal[this.literalCount++] = this.value;
          this.value = v;
        }
        return;
      case 'run':
        if (v === this.value) {
          this.count++;
        } else {
          this.flushRun();
          this.state = 'lone';
          this.value = v;
        }
        return;
      case 'literal':
        // The value being the last of the run makes them a run of two instead.
        if (v === this.value) {
          this.flushLiteral();
          this.state = 'run';
          this.count = 2;
        } else {
          this.literal[this.literalCount++] = this.value;
          this.value = v;
        }
        return;
    }
  }

  finish(): void {
    switch (this.state) {
      case 'empty':
        return;
      case 'lone':
        this.out.sleb(-1);
        this.pack(this.out, this.value);
        return;
      case 'run':
        this.flushRun();
        return;
      case 'literal':
        this.literal[this.literalCount++] = this.value;
        this.flushLiteral();
        return;
    }
  }

  private flushRun(): void {
    this.out.sleb(this.count);
    this.pack(this.out, this.value);
  }

  private flushLiteral(): void {
    const n = this.literalCount;
    this.out.sleb(-n);
    for (let i = 0; i < n; i++) this.pack(this.out, this.literal[i] as T);
    this.literalCount = 0;
  }
}

const uintRle = new Rle<number>((out, v) => out.uleb(v));
const intRle = new Rle<number>((out, v) => out.sleb(v));
/** Strings, already well formed: uleb(UTF-8 length) then the bytes. */
const stringRle = new Rle<string>((out, v) => {
  out.uleb(utf8Length(v));
  out.utf8(v);
});

/** The UTF-8 length of a well-formed string. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c < 0xd800 || c > 0xdbff) n += 3;
    else {
      // A surrogate pair, one code point from U+10000.
      n += 4;
      i++;
    }
  }
  return n;
}

/** The hash of the last change written, and its bytes. */
let lastHash = '';
const lastDigest = new Uint8Array(32);

const pristine = sha256.create();
const hasher = sha256.create();
const digest = new Uint8Array(32);

/** The hash in hex is decoded from its ASCII digits: faster than joining 32 strings. */
const hexChars = new Uint8Array(64);
const HEX_CHARS = new TextEncoder().encode('0123456789abcdef');
const ascii = new TextDecoder('latin1');
