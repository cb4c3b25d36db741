import { ValidationError } from './errors.js';
import { CollectionNameSchema } from './ids.js';
import { jsonEqual, type JsonValue } from './json.js';

/**
 * Operators on one field. A condition that is not an object of `$` operators means `$eq`.
 * Comparisons (`$gt` …) hold only between values of the same type (numbers with numbers,
 * strings with strings); a missing field matches only `$exists: false`, `$ne` and `$nin`.
 */
export interface Operators {
  readonly $eq?: JsonValue;
  readonly $ne?: JsonValue;
  readonly $gt?: number | string;
  readonly $gte?: number | string;
  readonly $lt?: number | string;
  readonly $lte?: number | string;
  readonly $in?: readonly JsonValue[];
  readonly $nin?: readonly JsonValue[];
  readonly $exists?: boolean;
  readonly $not?: Operators;
}

/** What a field in a filter is compared with: a value (equality) or operators. */
export type Condition = JsonValue | Operators;

/**
 * A serializable filter over documents: keys are dotted paths (`address.city`) or the
 * logical operators `$and`, `$or`, `$not`. All entries must hold (implicit `$and`).
 *
 * @example
 * const rich: Filter = { balance: { $gte: 1000 }, $or: [{ owner: 'ann' }, { 'tags.0': 'vip' }] };
 */
export interface Filter {
  readonly $and?: readonly Filter[];
  readonly $or?: readonly Filter[];
  readonly $not?: Filter;
  readonly [path: string]: Condition | readonly Filter[] | Filter | undefined;
}

/** One sort key: a dotted path and a direction (ascending by default). */
export interface OrderBy {
  readonly path: string;
  readonly direction?: 'asc' | 'desc';
}

/** A query over one collection. The same shape selects documents for subscriptions. */
export interface Query {
  readonly collection: string;
  readonly where?: Filter;
  readonly orderBy?: readonly OrderBy[];
  readonly limit?: number;
}

const FIELD_OPS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$not']);
const MAX_DEPTH = 32;

/** Throws {@link ValidationError} unless `filter` is a well-formed {@link Filter}. */
export function validateFilter(filter: unknown, path = 'where', depth = 0): asserts filter is Filter {
  if (depth > MAX_DEPTH) throw new ValidationError(`filter nests deeper than ${MAX_DEPTH}`, path);
  if (!isPlainObject(filter)) throw new ValidationError('a filter must be an object', path);
  for (const [key, value] of Object.entries(filter)) {
    const at = `${path}.${key}`;
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value)) throw new ValidationError(`${key} takes an array of filters`, at);
      value.forEach((f, i) => validateFilter(f, `${at}.${i}`, depth + 1));
    } else if (key === '$not') {
      validateFilter(value, at, depth + 1);
    } else if (key.startsWith('$')) {
      throw new ValidationError(`unknown filter operator ${key}`, at);
    } else {
      if (key.length === 0 || key.split('.').some((s) => s.length === 0)) {
        throw new ValidationError(`invalid field path ${JSON.stringify(key)}`, at);
      }
      validateCondition(value, at, depth + 1);
    }
  }
}

function validateCondition(cond: unknown, path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new ValidationError(`filter nests deeper than ${MAX_DEPTH}`, path);
  if (!isOperators(cond)) {
    validateJson(cond, path, depth);
    return;
  }
  for (const [op, arg] of Object.entries(cond)) {
    const at = `${path}.${op}`;
    if (!FIELD_OPS.has(op)) throw new ValidationError(`unknown field operator ${op}`, at);
    switch (op) {
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        if (typeof arg !== 'number' && typeof arg !== 'string') {
          throw new ValidationError(`${op} compares with a number or a string`, at);
        }
        break;
      case '$in':
      case '$nin':
        if (!Array.isArray(arg)) throw new ValidationError(`${op} takes an array`, at);
        arg.forEach((v, i) => validateJson(v, `${at}.${i}`, depth + 1));
        break;
      case '$exists':
        if (typeof arg !== 'boolean') throw new ValidationError('$exists takes true or false', at);
        break;
      case '$not':
        if (!isOperators(arg)) throw new ValidationError('$not on a field takes an object of operators', at);
        validateCondition(arg, at, depth + 1);
        break;
      default:
        validateJson(arg, at, depth + 1);
    }
  }
}

function validateJson(value: unknown, path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new ValidationError(`value nests deeper than ${MAX_DEPTH}`, path);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValidationError('numbers in filters must be finite', path);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => validateJson(v, `${path}.${i}`, depth + 1));
    return;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) validateJson(v, `${path}.${k}`, depth + 1);
    return;
  }
  throw new ValidationError(`not a JSON value (${typeof value})`, path);
}

/** Throws {@link ValidationError} unless `query` is a well-formed {@link Query}. */
export function validateQuery(query: unknown): asserts query is Query {
  if (!isPlainObject(query)) throw new ValidationError('a query must be an object');
  const { collection, where, orderBy, limit, ...rest } = query;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new ValidationError(`unknown query field ${extra[0]}`, extra[0]);
  if (!CollectionNameSchema.safeParse(collection).success) {
    throw new ValidationError(`invalid collection name ${JSON.stringify(collection)}`, 'collection');
  }
  if (where !== undefined) validateFilter(where);
  if (orderBy !== undefined) {
    if (!Array.isArray(orderBy)) throw new ValidationError('orderBy takes an array of { path, direction }', 'orderBy');
    orderBy.forEach((o: unknown, i) => {
      if (!isPlainObject(o) || typeof o['path'] !== 'string' || o['path'].length === 0) {
        throw new ValidationError('each orderBy entry needs a path', `orderBy.${i}`);
      }
      const dir = o['direction'];
      if (dir !== undefined && dir !== 'asc' && dir !== 'desc') {
        throw new ValidationError("direction is 'asc' or 'desc'", `orderBy.${i}.direction`);
      }
    });
  }
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0)) {
    throw new ValidationError('limit is a non-negative integer', 'limit');
  }
}

/** Reads a dotted path (`a.b.0.c`) from a value; `undefined` where it does not exist. */
export function getPath(value: unknown, path: string): unknown {
  let cur: unknown = value;
  let start = 0;
  while (start <= path.length) {
    let end = path.indexOf('.', start);
    if (end === -1) end = path.length;
    const seg = path.slice(start, end);
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      const i = Number(seg);
      if (!Number.isInteger(i) || i < 0) return undefined;
      cur = cur[i];
    } else {
      if (!Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
      cur = (cur as Record<string, unknown>)[seg];
    }
    start = end + 1;
  }
  return cur;
}

/** Whether `doc` satisfies `filter`. An absent filter matches everything. */
export function matchesFilter(filter: Filter | undefined, doc: unknown): boolean {
  if (filter === undefined) return true;
  for (const key in filter) {
    const value = filter[key];
    if (value === undefined) continue;
    if (key === '$and') {
      for (const f of value as readonly Filter[]) if (!matchesFilter(f, doc)) return false;
    } else if (key === '$or') {
      const fs = value as readonly Filter[];
      let any = false;
      for (const f of fs) {
        if (matchesFilter(f, doc)) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    } else if (key === '$not') {
      if (matchesFilter(value as Filter, doc)) return false;
    } else if (!matchesCondition(value as Condition, getPath(doc, key))) {
      return false;
    }
  }
  return true;
}

function matchesCondition(cond: Condition, actual: unknown): boolean {
  if (!isOperators(cond)) return actual !== undefined && jsonEqual(actual, cond);
  for (const op in cond) {
    const arg = (cond as Record<string, unknown>)[op];
    if (arg === undefined) continue;
    let ok: boolean;
    switch (op) {
      case '$eq':
        ok = actual !== undefined && jsonEqual(actual, arg);
        break;
      case '$ne':
        ok = actual === undefined || !jsonEqual(actual, arg);
        break;
      case '$gt':
        ok = sameKind(actual, arg) && (actual as number) > (arg as number);
        break;
      case '$gte':
        ok = sameKind(actual, arg) && (actual as number) >= (arg as number);
        break;
      case '$lt':
        ok = sameKind(actual, arg) && (actual as number) < (arg as number);
        break;
      case '$lte':
        ok = sameKind(actual, arg) && (actual as number) <= (arg as number);
        break;
      case '$in':
        ok = actual !== undefined && (arg as readonly unknown[]).some((v) => jsonEqual(actual, v));
        break;
      case '$nin':
        ok = actual === undefined || !(arg as readonly unknown[]).some((v) => jsonEqual(actual, v));
        break;
      case '$exists':
        ok = (actual !== undefined) === arg;
        break;
      case '$not':
        ok = !matchesCondition(arg, actual);
        break;
      default:
        ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

function sameKind(a: unknown, b: unknown): boolean {
  return (typeof a === 'number' || typeof a === 'string') && typeof a === typeof b;
}

const TYPE_RANK: Record<string, number> = { undefined: 0, object_null: 1, boolean: 2, number: 3, string: 4, object: 5 };

/**
 * Total order used by `orderBy`: missing < null < booleans < numbers < strings < arrays and
 * objects (compared by their JSON text), so every peer sorts the same way.
 */
export function compareValues(a: unknown, b: unknown): number {
  const ra = TYPE_RANK[a === null ? 'object_null' : typeof a] ?? 6;
  const rb = TYPE_RANK[b === null ? 'object_null' : typeof b] ?? 6;
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' || typeof a === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'string') return a < (b as string) ? -1 : a > (b as string) ? 1 : 0;
  if (ra === 5) {
    const ja = JSON.stringify(a);
    const jb = JSON.stringify(b);
    return ja < jb ? -1 : ja > jb ? 1 : 0;
  }
  return 0;
}

/** A comparator for the query's `orderBy`, or `undefined` when it has none. */
export function comparatorFor(orderBy: readonly OrderBy[] | undefined): ((a: unknown, b: unknown) => number) | undefined {
  if (!orderBy || orderBy.length === 0) return undefined;
  return (a, b) => {
    for (const o of orderBy) {
      const c = compareValues(getPath(a, o.path), getPath(b, o.path));
      if (c !== 0) return o.direction === 'desc' ? -c : c;
    }
    return 0;
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function isOperators(v: unknown): v is Operators {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}
