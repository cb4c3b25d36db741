import * as A from '@automerge/automerge';
import { jsonEqual, type JsonObject, type JsonValue } from '@atoll/protocol';
import { InvalidDocumentError } from '../errors.js';
import { readChange, verifyChecksum, type ReadChange } from './change-reader.js';
import { writeChange, type WriteOp } from './change-writer.js';
import { isPlainObject, type FieldPath } from './json.js';

/**
 * The store drives Automerge through its low-level handle: transactions already hold the new
 * JSON value, so the store only needs Automerge to record the difference as a change, merge
 * remote changes, and give the merged value back. Skipping Automerge's materialized JS
 * document keeps a commit cheap.
 */
type Handle = ReturnType<typeof A.getBackend>;
type ObjId = string;
type Prop = string | number;

const ROOT = '_root';
/** The tombstone flag in the document root: set by a delete, removed by a revive. */
const DELETED = '_deleted';

/** What a committed local change produced. */
export interface LocalChange {
  readonly change: Uint8Array;
  readonly hash: string;
}

let template: Handle | undefined;

/**
 * An empty Automerge handle that writes as `actor`. `A.init` also builds the JS proxy document
 * the store never uses (three times the cost); forking one empty handle gives the same handle
 * — the datatypes `A.init` registers included — without it.
 */
function emptyHandle(actor: string): Handle {
  template ??= A.getBackend(A.init<unknown>());
  return template.fork(actor);
}

/** The ids of the operations whose values a root key holds, and whether the winner is a counter. */
interface Field {
  readonly ids: readonly string[];
  readonly counter: boolean;
}

const NO_VALUE: Field = { ids: [], counter: false };

/** An operation id as Automerge prints it. */
function opId(counter: number, actor: string): string {
  return `${counter}@${actor}`;
}

/** A change held by an {@link AutomergeDoc} but not yet given to Automerge. */
interface Staged {
  readonly change: Uint8Array;
  readonly hash: string;
}

/** Staged changes are given to Automerge at the latest when this many wait. */
const MAX_STAGED = 256;

/** One document's Automerge state, owned by a store. */
export class AutomergeDoc {
  /** Created on first need: a document received as one creating change may never need it. */
  #h: Handle | undefined;
  readonly #actor: string;
  /**
   * Changes that each follow the last (their dependencies are exactly the heads before them),
   * whose effect on the value the store worked out itself: they reach Automerge together, the
   * next time something needs it. Automerge's cost to apply changes grows with the document's
   * history and hardly with how many are applied at once (5 000 edits of one field: 2.7 ms for
   * one change, 0.3 ms per change ten at a time), so a hot document's stream of remote edits
   * costs a fraction, and a fresh peer catching up stores thousands of documents without
   * creating an Automerge document for any.
   */
  #staged: Staged[] = [];
  /**
   * What the store knows of the root's operations without asking Automerge, so that it can
   * write a local change that only puts plain values into root fields or deletes them itself
   * (`change-writer.ts`, the bytes Automerge would write) and stage it like a remote one.
   * Automerge's own cost for such a change (put, commit, reading the change back) grows with
   * the field's history and was most of a commit's CPU.
   *
   * `#fields` maps a root key to the ids of the operations whose values it holds now ([] for
   * no value) and whether the winning one is a counter; a key it lacks is asked of Automerge,
   * unless `#complete` says the map lists every key (a document the store built only from
   * changes it read). `#maxOp` is the largest operation counter in the document and `#seq` the
   * number of this actor's changes in it; `undefined` until known.
   */
  #fields = new Map<string, Field>();
  #complete = false;
  #maxOp: number | undefined;
  #seq: number | undefined;
  /**
   * The hash of this actor's last change in the document (`undefined` when it has none, or
   * while `#seq` is unknown and not recoverable): a new local change depends on it even when a
   * later head already does (Automerge does so), and `#seq` is recovered from it.
   */
  #lastLocal: string | undefined;

  private constructor(handle: Handle | undefined, actor: string) {
    this.#h = handle;
    this.#actor = actor;
  }

  /** A new, empty document that writes as `actor`. */
  static create(actor: string): AutomergeDoc {
    const doc = new AutomergeDoc(emptyHandle(actor), actor);
    doc.#complete = true;
    doc.#maxOp = 0;
    doc.#seq = 0;
    return doc;
  }

  /** A document loaded from stored chunks (a full save and/or change bytes, in order). */
  static load(chunks: readonly Uint8Array[], actor: string): AutomergeDoc {
    // What the chunks hold is Automerge's to tell: the index starts unknown.
    const doc = new AutomergeDoc(emptyHandle(actor), actor);
    for (const chunk of chunks) doc.#handle.loadIncremental(chunk);
    return doc;
  }

  /**
   * A document made of one change that depends on nothing and only puts plain values into root
   * fields (`meta.creates` is set; its hash was checked by the caller), loaded into Automerge
   * only when something needs more than its hash.
   */
  static deferred(change: Uint8Array, meta: ChangeMeta, actor: string): AutomergeDoc {
    const doc = new AutomergeDoc(undefined, actor);
    doc.#complete = true;
    doc.#maxOp = 0;
    doc.#seq = meta.actor === actor ? undefined : 0;
    doc.#staged.push({ change, hash: meta.hash });
    doc.#indexOps(meta, meta.rootOps ?? []);
    return doc;
  }

  /**
   * Holds a change whose dependencies are exactly this document's heads (the caller checked,
   * and knows what it does to the value) without applying it yet. The heads are then its hash.
   * Returns `false`, holding nothing, when the change's operation counters or predecessors
   * are not those of this document's state — no honest change made on these heads looks so;
   * Automerge then applies it and decides.
   */
  stage(change: Uint8Array, meta: ChangeMeta): boolean {
    const ops = meta.rootOps;
    if (ops === undefined) return false;
    if (this.#maxOp !== undefined && meta.startOp !== this.#maxOp + 1) return false;
    const seen = new Map<string, readonly string[]>();
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as RootOp;
      const known = seen.get(op.key) ?? this.#knownIds(op.key);
      if (known !== undefined && !sameSet(op.pred, known)) return false;
      seen.set(op.key, op.delete ? [] : [opId(meta.startOp + i, meta.actor)]);
    }
    this.#staged.push({ change, hash: meta.hash });
    if (meta.actor === this.#actor) {
      this.#seq = undefined;
      this.#lastLocal = undefined;
    }
    this.#indexOps(meta, ops);
    if (this.#staged.length >= MAX_STAGED) void this.#handle;
    return true;
  }

  /** Records a change's root operations in the index (see `#fields`). */
  #indexOps(meta: { readonly actor: string; readonly startOp: number }, ops: readonly RootOp[]): void {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as RootOp;
      this.#fields.set(op.key, op.delete ? NO_VALUE : { ids: [opId(meta.startOp + i, meta.actor)], counter: false });
    }
    if (this.#maxOp !== undefined) this.#maxOp = Math.max(this.#maxOp, meta.startOp + ops.length - 1);
  }

  /** The ids of a root key's current operations if the index knows them without Automerge. */
  #knownIds(key: string): readonly string[] | undefined {
    return this.#fields.get(key)?.ids ?? (this.#complete ? [] : undefined);
  }

  /** A root key's current operations, asking Automerge when the index does not know them. */
  #field(key: string): Field {
    let field = this.#fields.get(key);
    if (field === undefined) {
      if (this.#complete) return NO_VALUE;
      // For a scalar the op id is the third element, for an object the second.
      const all = this.#handle.getAll(ROOT, key) as unknown as [string, unknown, string?][];
      const winner = all[all.length - 1];
      field = { ids: all.map((v) => (v.length > 2 ? (v[2] as string) : (v[1] as string))), counter: winner?.[0] === 'counter' };
      this.#fields.set(key, field);
    }
    return field;
  }

  /** Forgets what the index knows of the fields (Automerge changed them in ways not tracked). */
  #forgetFields(): void {
    this.#fields.clear();
    this.#complete = false;
  }

  get #handle(): Handle {
    const h = (this.#h ??= emptyHandle(this.#actor));
    if (this.#staged.length > 0) {
      const changes = this.#staged.map((s) => s.change);
      this.#staged = [];
      h.applyChanges(changes);
    }
    return h;
  }

  /** How many changes wait to be given to Automerge (for tests and diagnostics). */
  stagedCount(): number {
    return this.#staged.length;
  }

  heads(): string[] {
    const last = this.#staged[this.#staged.length - 1];
    if (last) return [last.hash];
    return this.#handle.getHeads();
  }

  /** Whether the document already holds the change with this hash. */
  hasChange(hash: string): boolean {
    if (this.#staged.some((s) => s.hash === hash)) return true;
    return this.#h !== undefined && this.#h.getChangeMetaByHash(hash) !== null;
  }

  /** The bytes of a change this document holds, or `null`. */
  getChange(hash: string): Uint8Array | null {
    const staged = this.#staged.find((s) => s.hash === hash);
    if (staged) return staged.change;
    return this.#h === undefined ? null : this.#h.getChangeByHash(hash);
  }

  /**
   * The value the document had just before the given changes (the heads they depend on, minus
   * themselves), or `undefined` if it did not exist or was deleted then.
   */
  valueBefore(hashes: readonly string[]): JsonObject | undefined {
    const own = new Set(hashes);
    const heads = new Set<string>();
    for (const hash of hashes) for (const dep of this.#handle.getChangeMetaByHash(hash)?.deps ?? []) if (!own.has(dep)) heads.add(dep);
    return heads.size === 0 ? undefined : this.#valueAt([...heads]);
  }

  /** The value the document had right after the given changes, as their author saw it. */
  valueAfter(hashes: readonly string[]): JsonObject | undefined {
    return hashes.length === 0 ? undefined : this.#valueAt([...hashes]);
  }

  #valueAt(heads: string[]): JsonObject | undefined {
    const root = toPlainJson(this.#handle.materialize(ROOT, heads)) as Record<string, JsonValue>;
    if (root[DELETED] === true) return undefined;
    delete root[DELETED];
    return root;
  }

  /** The whole document in one chunk (for compaction). */
  save(): Uint8Array {
    return this.#handle.save();
  }

  /** Hashes among `deps` that this document does not hold yet. */
  missing(deps: readonly string[]): string[] {
    return deps.filter((d) => !this.hasChange(d));
  }

  /**
   * Merges remote changes whose dependencies are all present. `actors` are the changes'
   * authors: one of this actor's made elsewhere (the same actor id on two stores) moves its
   * sequence number on, which then comes from Automerge at the next local change.
   */
  applyChanges(changes: Uint8Array[], actors: readonly string[]): void {
    const h = this.#handle;
    this.#forgetFields();
    this.#maxOp = undefined;
    if (actors.includes(this.#actor)) {
      this.#seq = undefined;
      this.#lastLocal = undefined;
    }
    h.applyChanges(changes);
  }

  /** Whether the document is a tombstone. */
  isDeleted(): boolean {
    return this.#handle.get(ROOT, DELETED) === true;
  }

  /** The current value as plain JSON, or `undefined` for a tombstone. */
  toJson(): JsonObject | undefined {
    if (this.isDeleted()) return undefined;
    return this.#rootJson();
  }

  /**
   * Records the move from `previous` (the value the store holds now, `undefined` when the
   * document is new or deleted) to `next` (`undefined` to delete) as one change.
   * Returns `undefined` when nothing changed.
   */
  commitJson(previous: JsonObject | undefined, next: JsonObject | undefined, counters: readonly FieldPath[], time: number): LocalChange | undefined {
    const seconds = Math.floor(time / 1000);
    if (counters.length === 0) {
      const plain = this.#commitPlain(previous, next, seconds);
      if (plain !== null) return plain;
    }
    const h = this.#handle;
    // Everything is read before the first write: Automerge commits pending operations as a
    // change of their own when asked for heads or a materialized value, and such a change
    // would never be shipped. The common case (a live document updated) needs no reads at all.
    const creating = previous === undefined && next !== undefined;
    const deleted = previous === undefined && this.isDeleted();
    const hadHistory = creating ? h.getHeads().length > 0 : true;
    const rootKeys = next === undefined ? h.keys(ROOT) : [];
    const base = creating ? this.#rootJson() : previous;
    try {
      if (next === undefined) {
        if (deleted || (previous === undefined && rootKeys.length === 0)) return undefined;
        // A tombstone: field edits concurrent with it still merge into the root, but the
        // flag keeps the document deleted (delete wins).
        for (const key of rootKeys) if (key !== DELETED) h.delete(ROOT, key);
        h.put(ROOT, DELETED, true, 'boolean');
      } else {
        if (deleted) h.delete(ROOT, DELETED);
        const counterSet = new Set(counters.map((p) => p.join('\u0000')));
        patchMap(h, ROOT, base ?? {}, next, [], counterSet);
      }
      let hash: string | null;
      if (h.pendingOps() > 0) hash = h.commit(null, seconds);
      // Creating a document with no fields still has to be a change, or it would not exist
      // anywhere else: an empty change gives it history.
      else if (creating && !hadHistory) hash = h.emptyChange(null, seconds);
      else return undefined;
      const change = h.getLastLocalChange();
      if (hash === null || change === null) return undefined;
      // Automerge made this change: what the index knew of the fields may be stale, and the
      // sequence number and operation counter come from the change when next needed.
      this.#forgetFields();
      this.#maxOp = undefined;
      this.#seq = undefined;
      this.#lastLocal = hash;
      // The hash is the document's only head now (a local change depends on every head): the
      // store records it as the heads without asking Automerge again — the test "a local
      // commit's hash is the document's only head" checks that this holds.
      return { change, hash };
    } catch (err) {
      h.rollback();
      throw err;
    }
  }

  /**
   * `commitJson` for a move that only puts plain values into root fields or deletes them (or
   * deletes the document): the change is written without Automerge and staged. `null` when the
   * move is of another kind, or the index cannot tell the predecessors; Automerge makes it then.
   */
  #commitPlain(previous: JsonObject | undefined, next: JsonObject | undefined, seconds: number): LocalChange | undefined | null {
    if (previous === undefined && (next === undefined || !this.#complete || this.heads().length > 0)) return null;
    const seq = this.#seq ?? this.#recoverSeq();
    if (seq === undefined) return null;
    const ops: WriteOp[] = [];
    if (next === undefined) {
      // A tombstone, as the Automerge path writes it: every field deleted, then the flag.
      if (!this.#complete) return null;
      for (const key of [...this.#fields.keys()].sort(byCodePoint)) {
        const ids = (this.#fields.get(key) as Field).ids;
        if (key !== DELETED && ids.length > 0) ops.push({ key, action: 'del', pred: ids });
      }
      ops.push({ key: DELETED, action: 'set', value: true, datatype: 'boolean', pred: this.#field(DELETED).ids });
    } else {
      const base = previous ?? {};
      for (const key of Object.keys(base)) if (!Object.prototype.hasOwnProperty.call(next, key)) ops.push({ key, action: 'del', pred: this.#field(key).ids });
      for (const key of Object.keys(next)) {
        const nv = next[key] as JsonValue;
        const had = Object.prototype.hasOwnProperty.call(base, key);
        if (had && jsonEqual(base[key], nv)) continue;
        if (nv !== null && typeof nv === 'object') return null;
        const field = this.#field(key);
        // A counter moved to another number is an increment (see patchProp).
        if (field.counter && typeof nv === 'number' && typeof base[key] === 'number') return null;
        const [value, datatype] = scalar(nv);
        ops.push({ key, action: 'set', value, datatype, pred: field.ids });
      }
      // Creating a document with no fields is an empty change: Automerge writes that one.
      if (ops.length === 0) return previous === undefined ? null : undefined;
    }
    const startOp = (this.#maxOp ?? this.#recoverMaxOp()) + 1;
    // Automerge makes a change depend on the heads and on the actor's previous change, even where
    // a head already does.
    const deps = this.heads();
    if (this.#lastLocal !== undefined && !deps.includes(this.#lastLocal)) deps.push(this.#lastLocal);
    const { bytes, hash } = writeChange({ actor: this.#actor, seq: seq + 1, startOp, time: seconds, deps, ops });
    this.#staged.push({ change: bytes, hash });
    this.#seq = seq + 1;
    this.#lastLocal = hash;
    this.#maxOp = startOp + ops.length - 1;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as WriteOp;
      this.#fields.set(op.key, op.action === 'del' ? NO_VALUE : { ids: [opId(startOp + i, this.#actor)], counter: false });
    }
    if (this.#staged.length >= MAX_STAGED) void this.#handle;
    return { change: bytes, hash };
  }

  /** This actor's number of changes in the document, from its last change made by Automerge. */
  #recoverSeq(): number | undefined {
    if (this.#lastLocal === undefined) return undefined;
    this.#seq = this.#handle.getChangeMetaByHash(this.#lastLocal)?.seq;
    return this.#seq;
  }

  /** The largest operation counter: a head's change has the largest of everything it depends on. */
  #recoverMaxOp(): number {
    const h = this.#handle;
    let max = 0;
    for (const head of h.getHeads()) max = Math.max(max, h.getChangeMetaByHash(head)?.maxOp ?? 0);
    return max;
  }

  /** The root as JSON without the tombstone flag (what a revive diffs against). */
  #rootJson(): JsonObject {
    const root = toPlainJson(this.#handle.materialize(ROOT)) as Record<string, JsonValue>;
    delete root[DELETED];
    return root;
  }

  /** Releases the WebAssembly memory. The document must not be used afterwards. */
  free(): void {
    this.#h?.free();
    this.#h = undefined;
    this.#staged = [];
    this.#forgetFields();
  }
}

/** One operation of a change that only puts plain values into, or deletes, root fields. */
export interface RootOp {
  readonly key: string;
  /** The value put; absent for a delete. */
  readonly value?: JsonValue;
  readonly delete?: true;
  /** The ids of the operations it overwrites (its predecessors), as Automerge prints them. */
  readonly pred: readonly string[];
}

/** What the store needs to know of a change before applying it. */
export interface ChangeMeta {
  readonly hash: string;
  readonly deps: string[];
  readonly actor: string;
  readonly seq: number;
  readonly startOp: number;
  /**
   * For the first change of a document that only puts plain values into root fields (what a
   * peer's insert of a flat document is), the value it creates: the document's value is then
   * known without an Automerge document (`value` is `undefined` for a tombstone). `undefined`
   * for any other change.
   */
  readonly creates?: { readonly value: JsonObject | undefined } | undefined;
  /**
   * The operations of a change that only puts plain values (null, booleans, strings, numbers)
   * into root fields or deletes root fields, in order; `undefined` for any other change.
   */
  readonly rootOps?: readonly RootOp[] | undefined;
}

/**
 * Decodes a change's hash and dependencies; throws on bytes that are not an Automerge change,
 * and on a change whose checksum does not match its contents. The change reader handles the
 * changes peers exchange most (plain root fields put or deleted: a flat document's creation,
 * update or deletion) without Automerge; Automerge decodes the rest.
 */
export function decodeChangeMeta(change: Uint8Array): ChangeMeta {
  let decoded: ReadChange | A.DecodedChange | undefined = readChange(change);
  if (decoded === undefined) {
    decoded = A.decodeChange(change);
    verifyChecksum(change, decoded.hash);
  }
  const rootOps = rootOpsOf(decoded);
  const { hash, deps, actor, seq, startOp } = decoded;
  return { hash, deps, actor, seq, startOp, creates: rootOps && createdValue(decoded, rootOps), rootOps };
}

function rootOpsOf(decoded: A.DecodedChange | ReadChange): RootOp[] | undefined {
  const out: RootOp[] = [];
  for (const op of decoded.ops as (A.DecodedChange['ops'][number] & { insert?: boolean; elemId?: string })[]) {
    if (op.obj !== ROOT || typeof op.key !== 'string' || op.insert === true || op.elemId !== undefined) return undefined;
    if (op.action === 'del') {
      out.push({ key: op.key, delete: true, pred: op.pred });
      continue;
    }
    if (op.action !== 'set') return undefined;
    const v: unknown = op.value;
    switch (op.datatype) {
      case undefined:
        if (v !== null && typeof v !== 'string' && typeof v !== 'boolean') return undefined;
        break;
      case 'int':
      case 'uint':
      case 'float64':
        if (typeof v !== 'number') return undefined;
        break;
      default:
        return undefined;
    }
    out.push({ key: op.key, value: v, pred: op.pred });
  }
  return out;
}

/**
 * The root a change creates if it is the first change of its document (no dependencies, the
 * actor's first change, operations counted from 1) and sets only scalar root fields, each once,
 * over nothing (no predecessors). Any other shape — nested objects, text, lists, counters,
 * timestamps, bytes, deletes, overwrites — is left to Automerge.
 */
function createdValue(decoded: A.DecodedChange | ReadChange, ops: readonly RootOp[]): ChangeMeta['creates'] {
  if (decoded.deps.length > 0 || decoded.seq !== 1 || decoded.startOp !== 1) return undefined;
  const root: Record<string, JsonValue> = {};
  for (const op of ops) {
    if (op.delete || op.pred.length > 0 || Object.prototype.hasOwnProperty.call(root, op.key)) return undefined;
    root[op.key] = op.value as JsonValue;
  }
  return { value: rootValue(root) };
}

/**
 * The value of a document whose root fields follow from `current` (its value now, `undefined`
 * for a document this store does not have) and a change's root operations, when the change
 * depends on exactly the document's heads — so its author saw this very value and every put
 * overwrites what is there. `null` when that cannot be told without Automerge: a tombstone now,
 * or operations whose predecessors do not fit the value (a put over a field with none, or
 * over nothing with some; a delete of a missing field) — no honest Automerge change looks so.
 */
export function valueAfterRootOps(current: JsonObject, ops: readonly RootOp[]): JsonObject | undefined | null {
  const root: Record<string, JsonValue> = { ...current };
  for (const op of ops) {
    const present = Object.prototype.hasOwnProperty.call(root, op.key);
    if (present !== op.pred.length > 0) return null;
    if (op.delete) delete root[op.key];
    else root[op.key] = op.value as JsonValue;
  }
  return rootValue(root);
}

/**
 * As `toJson` reads a root: the tombstone flag marks a deleted document and is never a field,
 * and the fields come in Automerge's order (by code point), not in the order of the ops.
 */
function rootValue(root: Record<string, JsonValue>): JsonObject | undefined {
  if (root[DELETED] === true) return undefined;
  const value: Record<string, JsonValue> = {};
  for (const key of Object.keys(root).sort(byCodePoint)) if (key !== DELETED) value[key] = root[key] as JsonValue;
  return value;
}

/** Whether two lists of distinct hashes or operation ids hold the same elements, in any order. */
export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** Orders strings as Automerge orders map keys: by Unicode code point (UTF-8 byte order). */
function byCodePoint(a: string, b: string): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function patchMap(h: Handle, obj: ObjId, prev: JsonObject, next: JsonObject, path: Prop[], counters: Set<string>): void {
  for (const key of Object.keys(prev)) if (!Object.prototype.hasOwnProperty.call(next, key)) h.delete(obj, key);
  for (const key of Object.keys(next)) {
    const nv = next[key] as JsonValue;
    const had = Object.prototype.hasOwnProperty.call(prev, key);
    const pv = had ? (prev[key] as JsonValue) : undefined;
    patchProp(h, obj, key, pv, nv, had, [...path, key], counters);
  }
}

function patchProp(h: Handle, obj: ObjId, prop: Prop, pv: JsonValue | undefined, nv: JsonValue, had: boolean, path: Prop[], counters: Set<string>): void {
  const isNewCounter = typeof nv === 'number' && counters.size > 0 && counters.has(path.join('\u0000'));
  if (had && !isNewCounter && jsonEqual(pv, nv)) return;
  const existing = had ? h.getWithType(obj, prop) : null;
  if (isNewCounter) {
    if (!Number.isSafeInteger(nv)) throw new InvalidDocumentError(`a counter holds whole numbers, got ${nv}`, path.join('.'));
    h.put(obj, prop, nv, 'counter');
  } else if (typeof nv === 'number' && existing?.[0] === 'counter' && typeof pv === 'number') {
    // A counter field moved from pv to nv: record the difference as an increment, so that
    // concurrent increments on other peers add up.
    if (!Number.isSafeInteger(nv)) throw new InvalidDocumentError(`a counter holds whole numbers, got ${nv}`, path.join('.'));
    h.increment(obj, prop, nv - pv);
  } else if (isPlainObject(nv) && isPlainObject(pv) && existing?.[0] === 'map') {
    patchMap(h, existing[1], pv, nv, path, counters);
  } else if (Array.isArray(nv) && Array.isArray(pv) && existing?.[0] === 'list') {
    patchList(h, existing[1], pv as readonly JsonValue[], nv as readonly JsonValue[], path, counters);
  } else if (nv !== null && typeof nv === 'object') {
    const child = h.putObject(obj, prop, Array.isArray(nv) ? [] : {});
    fill(h, child, nv, path, counters);
  } else {
    putScalar(h, obj, prop, nv);
  }
}

/**
 * Lists change by their common prefix and suffix: elements in between are patched in place
 * where both sides have one, then the rest is inserted or deleted. Concurrent inserts
 * elsewhere in the list survive.
 */
function patchList(h: Handle, list: ObjId, prev: readonly JsonValue[], next: readonly JsonValue[], path: Prop[], counters: Set<string>): void {
  const min = Math.min(prev.length, next.length);
  let start = 0;
  while (start < min && jsonEqual(prev[start], next[start]) && !hasCounterUnder(counters, [...path, start])) start++;
  let end = 0;
  while (end < min - start && jsonEqual(prev[prev.length - 1 - end], next[next.length - 1 - end]) && !hasCounterUnder(counters, [...path, next.length - 1 - end])) end++;
  const prevMid = prev.length - start - end;
  const nextMid = next.length - start - end;
  const common = Math.min(prevMid, nextMid);
  for (let i = 0; i < common; i++) {
    const at = start + i;
    patchProp(h, list, at, prev[at], next[at] as JsonValue, true, [...path, at], counters);
  }
  if (prevMid > nextMid) {
    h.splice(list, start + common, prevMid - nextMid, []);
  } else {
    for (let i = common; i < nextMid; i++) {
      const at = start + i;
      insertValue(h, list, at, next[at] as JsonValue, [...path, at], counters);
    }
  }
}

function hasCounterUnder(counters: Set<string>, path: Prop[]): boolean {
  if (counters.size === 0) return false;
  const prefix = path.join('\u0000');
  for (const c of counters) if (c === prefix || c.startsWith(`${prefix}\u0000`)) return true;
  return false;
}

function fill(h: Handle, obj: ObjId, value: JsonObject | readonly JsonValue[], path: Prop[], counters: Set<string>): void {
  if (Array.isArray(value)) {
    value.forEach((v: JsonValue, i) => insertValue(h, obj, i, v, [...path, i], counters));
  } else {
    for (const key of Object.keys(value)) {
      const v = (value as JsonObject)[key] as JsonValue;
      const p = [...path, key];
      if (typeof v === 'number' && counters.size > 0 && counters.has(p.join('\u0000'))) h.put(obj, key, v, 'counter');
      else if (v !== null && typeof v === 'object') fill(h, h.putObject(obj, key, Array.isArray(v) ? [] : {}), v, p, counters);
      else putScalar(h, obj, key, v);
    }
  }
}

function insertValue(h: Handle, list: ObjId, index: number, v: JsonValue, path: Prop[], counters: Set<string>): void {
  if (typeof v === 'number' && counters.size > 0 && counters.has(path.join('\u0000'))) h.insert(list, index, v, 'counter');
  else if (v !== null && typeof v === 'object') fill(h, h.insertObject(list, index, Array.isArray(v) ? [] : {}), v, path, counters);
  else {
    const [value, type] = scalar(v);
    h.insert(list, index, value, type);
  }
}

function putScalar(h: Handle, obj: ObjId, prop: Prop, v: JsonValue): void {
  const [value, type] = scalar(v);
  h.put(obj, prop, value, type);
}

// Strings are stored as scalars, so concurrent writes to one string field resolve to one of
// the writes (last writer wins by Automerge's rules) instead of interleaving characters.
function scalar(v: JsonValue): [string | number | boolean | null, 'str' | 'int' | 'f64' | 'boolean' | 'null'] {
  if (v === null) return [null, 'null'];
  if (typeof v === 'string') return [v, 'str'];
  if (typeof v === 'boolean') return [v, 'boolean'];
  if (typeof v === 'number') return [v, Number.isSafeInteger(v) ? 'int' : 'f64'];
  throw new TypeError('not a scalar');
}

/** Materialized Automerge values → plain JSON (counters and immutable strings unwrapped). */
function toPlainJson(v: unknown): JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return v;
  // Automerge materializes an int at the edge of the safe range (2^53 - 1) as a BigInt.
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof A.Counter) return v.value;
  if (A.isImmutableString(v)) return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(toPlainJson);
  if (typeof v === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const k of Object.keys(v)) out[k] = toPlainJson((v as Record<string, unknown>)[k]);
    return out;
  }
  return null;
}
