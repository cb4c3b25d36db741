import type { JsonObject, JsonValue } from '@atoll/protocol';
import { InvalidDocumentError } from '../errors.js';

/**
 * Marks a number field as a CRDT counter: concurrent increments on different peers add up
 * instead of one overwriting the other. In read values a counter is a plain number; write
 * `d.visits += 1` in `tx.update` and the store turns the difference into an increment.
 *
 * @example
 * await tx.insert('pages', { _id: 'home', visits: new Counter(0) });
 */
export class Counter {
  /**
   * @param value - The counter's starting value, a safe integer (increments are whole numbers
   *   in Automerge); anything else throws `InvalidDocumentError`.
   */
  constructor(readonly value: number = 0) {
    if (!Number.isSafeInteger(value)) throw new InvalidDocumentError(`a Counter holds a safe integer, got ${value}`);
  }
}

/**
 * A document as read from the store: its JSON value with its `_id`. Frozen all the way down, so
 * a value handed to a caller or a live query can never change the store behind its back.
 */
export type Doc<T extends JsonObject = JsonObject> = Readonly<T> & { readonly _id: string };

/** The fields Atoll keeps for itself inside documents. */
export const RESERVED_FIELDS = new Set(['_id', '_deleted']);

/** A path inside a document, for counters. */
export type FieldPath = readonly (string | number)[];

/** A normalized user value: plain JSON, plus the paths of counters it creates. */
export interface NormalizedValue {
  readonly value: JsonObject;
  readonly counters: readonly FieldPath[];
}

/**
 * Checks that `input` is storable and returns a normalized copy: plain objects, arrays,
 * strings, finite numbers (-0 becomes 0, as Automerge stores it), booleans and null; `undefined` object fields dropped (as JSON does);
 * `Counter`s turned into numbers with their paths recorded. `_id` is stripped (the key holds it).
 */
export function normalizeDocument(input: unknown, what: string): NormalizedValue {
  if (!isPlainObject(input)) throw new InvalidDocumentError(`${what} must be a plain object`);
  const counters: FieldPath[] = [];
  const out: Record<string, JsonValue> = {};
  for (const key of Object.keys(input)) {
    if (key === '_id') continue;
    if (key === '_deleted') throw new InvalidDocumentError(`${what}: the field _deleted is reserved by Atoll`, key);
    const v = input[key];
    if (v === undefined) continue;
    out[key] = normalizeValue(v, [key], counters, 1);
  }
  return { value: out, counters };
}

const MAX_DEPTH = 64;

function normalizeValue(v: unknown, path: (string | number)[], counters: FieldPath[], depth: number): JsonValue {
  if (depth > MAX_DEPTH) throw new InvalidDocumentError(`value nests deeper than ${MAX_DEPTH}`, path.join('.'));
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InvalidDocumentError(`numbers must be finite, got ${v}`, path.join('.'));
    // Automerge stores -0 as the integer 0, so the store keeps 0 too: every peer reads what was stored.
    return v === 0 ? 0 : v;
  }
  if (v instanceof Counter) {
    counters.push([...path]);
    return v.value;
  }
  if (Array.isArray(v)) {
    const arr: JsonValue[] = new Array<JsonValue>(v.length);
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      if (item === undefined) throw new InvalidDocumentError('arrays cannot hold undefined (use null)', [...path, i].join('.'));
      arr[i] = normalizeValue(item, [...path, i], counters, depth + 1);
    }
    return arr;
  }
  if (isPlainObject(v)) {
    const obj: Record<string, JsonValue> = {};
    for (const key of Object.keys(v)) {
      const item = v[key];
      if (item === undefined) continue;
      obj[key] = normalizeValue(item, [...path, key], counters, depth + 1);
    }
    return obj;
  }
  const kind = v instanceof Date ? 'a Date (store an ISO string or a number)' : v instanceof Uint8Array ? 'bytes' : typeof v;
  throw new InvalidDocumentError(`documents hold JSON values, not ${kind}`, path.join('.'));
}

/** A deep, mutable copy of a JSON value. */
export function cloneJson<T extends JsonValue>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x: JsonValue) => cloneJson(x)) as unknown as T;
  const out: Record<string, JsonValue> = {};
  for (const k of Object.keys(v)) out[k] = cloneJson((v as Record<string, JsonValue>)[k] as JsonValue);
  return out as T;
}

/** Freezes a JSON value all the way down, so values handed out cannot change the store. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/** The frozen document a reader sees: the value with its `_id` first. */
export function makeDoc(id: string, value: JsonObject): Doc {
  return deepFreeze({ _id: id, ...value });
}

/** The stored value of a document (without `_id`). */
export function valueOf(doc: Doc): JsonObject {
  const { _id, ...rest } = doc;
  return rest;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
