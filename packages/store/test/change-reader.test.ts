import { deflateRawSync } from 'node:zlib';
import * as A from '@automerge/automerge';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { unreachable, type JsonObject, type JsonValue } from '@atoll/protocol';
import { decodeChangeMeta, type ChangeMeta, type RootOp } from '../src/document/automerge.js';
import { ChangeChecksumError, readChange } from '../src/document/change-reader.js';
import { Counter, type Store } from '../src/index.js';
import { openTestStore } from './helpers.js';

// The change reader decodes the changes a peer receives by the thousand (creations, updates
// and deletes of plain root fields) without Automerge. These tests hold `decodeChangeMeta` to
// what it returned when Automerge decoded every change: the same hash, dependencies and created
// value (field order included) for every change Automerge accepts, and an error for every
// change Automerge refuses. Where the reader answers itself, it must answer exactly what
// `A.decodeChange` answers.

const stores: Store[] = [];
async function open(): Promise<Store> {
  const s = await openTestStore();
  stores.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

/** fast-check parameters from the environment (`ATOLL_SEED`, `ATOLL_RUNS`), so a failure replays. */
function runs(defaultRuns: number): { numRuns: number; seed?: number } {
  const seed = process.env['ATOLL_SEED'];
  const numRuns = Number(process.env['ATOLL_RUNS'] ?? defaultRuns);
  return seed === undefined ? { numRuns } : { numRuns, seed: Number(seed) };
}

// --- The reference: decodeChangeMeta as it was, Automerge decoding every change -------------

function referenceMeta(change: Uint8Array): ChangeMeta {
  const decoded = A.decodeChange(change);
  const { hash, deps, actor, seq, startOp } = decoded;
  return { hash, deps, actor, seq, startOp, creates: referenceCreated(decoded), rootOps: referenceRootOps(decoded) };
}

/** Root puts of plain values and root deletes, in order, straight from Automerge's decoding. */
function referenceRootOps(decoded: A.DecodedChange): RootOp[] | undefined {
  const ops: RootOp[] = [];
  for (const op of decoded.ops as (A.DecodedChange['ops'][number] & { insert?: boolean; elemId?: string })[]) {
    if (op.obj !== '_root' || typeof op.key !== 'string' || op.insert === true || op.elemId !== undefined) return undefined;
    if (op.action === 'del') ops.push({ key: op.key, delete: true, pred: op.pred });
    else if (op.action !== 'set') return undefined;
    else if (op.datatype === undefined ? op.value === null || typeof op.value === 'string' || typeof op.value === 'boolean' : ['int', 'uint', 'float64'].includes(op.datatype) && typeof op.value === 'number') ops.push({ key: op.key, value: op.value as JsonValue, pred: op.pred });
    else return undefined;
  }
  return ops;
}

/** The rules of `createdValue`, as they were written before the reader. */
function referenceCreated(decoded: A.DecodedChange): ChangeMeta['creates'] {
  if (decoded.deps.length > 0 || decoded.seq !== 1 || decoded.startOp !== 1) return undefined;
  const root: Record<string, JsonValue> = {};
  for (const op of decoded.ops as (A.DecodedChange['ops'][number] & { insert?: boolean; elemId?: string })[]) {
    if (op.action !== 'set' || op.obj !== '_root' || typeof op.key !== 'string' || op.insert === true || op.elemId !== undefined || op.pred.length > 0) return undefined;
    if (Object.prototype.hasOwnProperty.call(root, op.key)) return undefined;
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
    root[op.key] = v;
  }
  if (root['_deleted'] === true) return { value: undefined };
  const value: Record<string, JsonValue> = {};
  for (const key of Object.keys(root).sort(byCodePoint)) if (key !== '_deleted') value[key] = root[key] as JsonValue;
  return { value };
}

function byCodePoint(a: string, b: string): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

type Outcome = 'reader' | 'automerge' | 'refused' | 'checksum';

/**
 * Decodes `change` the old way and the new way and checks they agree; says who answered:
 * the reader, Automerge (the reader left it), nobody (Automerge refuses it), or the checksum
 * check (the one thing the new way refuses that Automerge accepts).
 */
function agree(change: Uint8Array): Outcome {
  const reference = attempt(() => referenceMeta(change));
  const actual = attempt(() => decodeChangeMeta(change));
  if (!reference.ok) {
    expect(actual.ok, 'Automerge refuses the change, so decodeChangeMeta must too').toBe(false);
    return 'refused';
  }
  if (!actual.ok) {
    expect(actual.error).toBeInstanceOf(ChangeChecksumError);
    expect(A.decodeChange(change).hash.slice(0, 8)).not.toBe(toHex(change.subarray(4, 8)));
    return 'checksum';
  }
  expect(actual.value).toStrictEqual(reference.value);
  // JSON text compares the order of the created fields too.
  expect(JSON.stringify(actual.value)).toBe(JSON.stringify(reference.value));
  const read = readChange(change);
  if (read === undefined) return 'automerge';
  // Field for field what Automerge decodes, ops included.
  expect(read).toStrictEqual(A.decodeChange(change));
  return 'reader';
}

function attempt<T>(f: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// --- Changes made by Automerge --------------------------------------------------------------

type Handle = ReturnType<typeof A.getBackend>;

function handle(actor?: string): Handle {
  return A.getBackend(actor === undefined ? A.init<unknown>() : A.init<unknown>({ actor }));
}

function commit(h: Handle, message: string | null = null, time = 1_700_000_000): Uint8Array {
  h.commit(message, time);
  return h.getLastLocalChange() as Uint8Array;
}

type Edit = { kind: 'put'; key: string; entry: [datatype: 'str' | 'int' | 'uint' | 'f64' | 'boolean' | 'null', value: string | number | boolean | null] } | { kind: 'del' | 'counter' | 'inc' | 'map' | 'list' | 'timestamp'; key: string };

/** Makes an edit of a root field: a plain put or delete (which the reader decodes), or another kind. */
function edit(h: Handle, e: Edit): void {
  switch (e.kind) {
    case 'put':
      h.put('_root', e.key, e.entry[1], e.entry[0]);
      return;
    case 'del':
      // Nothing, when the field is absent.
      h.delete('_root', e.key);
      return;
    case 'counter':
      h.put('_root', e.key, 1, 'counter');
      return;
    case 'inc':
      if ((h.getAll('_root', e.key) as unknown[][]).at(-1)?.[0] === 'counter') h.increment('_root', e.key, 2);
      return;
    case 'map':
      h.put(h.putObject('_root', e.key, {}), 'x', 1, 'int');
      return;
    case 'list':
      h.putObject('_root', e.key, ['x']);
      return;
    case 'timestamp':
      h.put('_root', e.key, new Date(5), 'timestamp');
      return;
    default:
      unreachable(e);
  }
}

/** The same change as a compressed chunk (type 2): the deflated body under the original checksum. */
function compressed(change: Uint8Array): Uint8Array {
  const { bodyStart } = header(change);
  const body = deflateRawSync(change.subarray(bodyStart));
  return new Uint8Array([...change.subarray(0, 8), 2, ...uleb(body.length), ...body]);
}

/**
 * Three actors put root field "k" concurrently (the middle one at counter 2: its first change
 * puts "n"), and the last merges the others: its next put or delete of "k" has three
 * predecessors, one of each actor.
 */
function conflict(): { changes: Uint8Array[]; merged: Handle } {
  const a = handle('aaaa');
  a.put('_root', 'k', 'a');
  const b = handle('bbbbbb');
  b.put('_root', 'n', 1, 'uint');
  const firstB = commit(b);
  b.put('_root', 'k', 'b');
  const c = handle('0c');
  c.put('_root', 'k', 'c');
  const changes = [commit(a), firstB, commit(b), commit(c)];
  c.applyChanges(changes);
  a.free();
  b.free();
  return { changes, merged: c };
}

/** Changes of every other shape, each with whether the reader decodes it itself. */
const shapes: { name: string; reader: boolean; changes: () => Uint8Array[] }[] = [
  {
    name: 'plain root fields',
    reader: true,
    changes: () => {
      const h = handle();
      h.put('_root', 'title', 'one');
      h.put('_root', 'n', -7, 'int');
      h.put('_root', 'u', 7, 'uint');
      h.put('_root', 'f', -0, 'f64');
      h.put('_root', 'ok', false);
      h.put('_root', 'none', null);
      return [commit(h)];
    },
  },
  {
    name: 'the tombstone flag',
    reader: true,
    changes: () => {
      const h = handle();
      h.put('_root', 'a', 1, 'int');
      h.put('_root', '_deleted', true, 'boolean');
      return [commit(h)];
    },
  },
  {
    name: 'an empty change',
    reader: true,
    changes: () => [A.emptyChange(A.init<unknown>())].map((d) => A.getLastLocalChange(d) as Uint8Array),
  },
  {
    name: 'a later change adding plain root fields (dependencies, seq 2)',
    reader: true,
    changes: () => {
      const h = handle();
      h.put('_root', 'a', 1, 'int');
      const first = commit(h);
      h.put('_root', 'b', 'x');
      return [first, commit(h, 'a message', -5)];
    },
  },
  {
    name: 'a nested map',
    reader: false,
    changes: () => {
      const h = handle();
      const m = h.putObject('_root', 'inner', {});
      h.put(m, 'deep', true);
      return [commit(h)];
    },
  },
  {
    name: 'a list',
    reader: false,
    changes: () => {
      const h = handle();
      const l = h.putObject('_root', 'xs', []);
      h.insert(l, 0, 1, 'int');
      h.insert(l, 1, 'two');
      return [commit(h)];
    },
  },
  {
    name: 'text',
    reader: false,
    changes: () => {
      const h = handle();
      const t = h.putObject('_root', 't', '');
      h.splice(t, 0, 0, 'hello');
      return [commit(h)];
    },
  },
  {
    name: 'a counter and its increment',
    reader: false,
    changes: () => {
      const h = handle();
      h.put('_root', 'c', 3, 'counter');
      const first = commit(h);
      h.increment('_root', 'c', 2);
      return [first, commit(h)];
    },
  },
  {
    name: 'a timestamp and bytes',
    reader: false,
    changes: () => {
      const h = handle();
      h.put('_root', 'at', new Date(5), 'timestamp');
      h.put('_root', 'raw', new Uint8Array([1, 2, 3]), 'bytes');
      return [commit(h)];
    },
  },
  {
    name: 'an overwrite and a delete (predecessors)',
    reader: true,
    changes: () => {
      const h = handle();
      h.put('_root', 'a', 'x');
      h.put('_root', 'b', 'y');
      const first = commit(h);
      h.put('_root', 'a', 'z');
      h.delete('_root', 'b');
      return [first, commit(h)];
    },
  },
  {
    name: 'a key set twice in one change',
    reader: true,
    changes: () => {
      const h = handle();
      h.put('_root', 'a', 'x');
      h.put('_root', 'a', 'y');
      return [commit(h)];
    },
  },
  {
    name: "two actors, one overwriting the other's value (other actors, two dependencies)",
    reader: true,
    changes: () => {
      const a = handle('aaaa');
      a.put('_root', 'k', 'from a');
      const fromA = commit(a);
      const b = handle('bbbbbb');
      b.put('_root', 'j', 'from b');
      const fromB = commit(b);
      b.applyChanges([fromA]);
      b.put('_root', 'k', 'b wins');
      return [fromA, fromB, commit(b)];
    },
  },
  {
    name: 'a put over a conflict of three actors',
    reader: true,
    changes: () => {
      const { changes, merged } = conflict();
      merged.put('_root', 'k', 'settled', 'str');
      merged.put('_root', 'n', 5, 'uint');
      return [...changes, commit(merged)];
    },
  },
  {
    name: 'a delete of a conflicted field',
    reader: true,
    changes: () => {
      const { changes, merged } = conflict();
      merged.delete('_root', 'k');
      return [...changes, commit(merged)];
    },
  },
  {
    name: 'plain values over a counter, a map, a list and text, and deletes of them',
    reader: true,
    changes: () => {
      const h = handle();
      h.put('_root', 'c', 1, 'counter');
      h.putObject('_root', 'm', { x: 1 });
      h.putObject('_root', 'l', [1]);
      h.putObject('_root', 't', 'text');
      h.putObject('_root', 'd', {});
      const first = commit(h);
      h.put('_root', 'c', 2, 'int');
      h.put('_root', 'm', null);
      h.put('_root', 'l', 'now a string');
      h.put('_root', 't', 1.5, 'f64');
      h.delete('_root', 'd');
      const second = commit(h);
      h.delete('_root', 'c');
      h.delete('_root', 'm');
      return [first, second, commit(h)];
    },
  },
  {
    name: 'a put over a value in a nested map',
    reader: false,
    changes: () => {
      const h = handle();
      const m = h.putObject('_root', 'm', { x: 1 });
      const first = commit(h);
      h.put(m, 'x', 2, 'int');
      return [first, commit(h)];
    },
  },
  {
    name: 'a delete from a list',
    reader: false,
    changes: () => {
      const h = handle();
      const l = h.putObject('_root', 'l', [1, 2]);
      const first = commit(h);
      h.delete(l, 0);
      return [first, commit(h)];
    },
  },
  {
    name: 'a put over a conflict and a nested map in one change',
    reader: false,
    changes: () => {
      const { changes, merged } = conflict();
      merged.put('_root', 'k', 'settled');
      merged.putObject('_root', 'm', {});
      return [...changes, commit(merged)];
    },
  },
  {
    name: 'a large change, compressed',
    reader: false,
    changes: () => {
      const h = handle();
      for (let i = 0; i < 30; i++) h.put('_root', `field${i}`, 'x'.repeat(20));
      const change = commit(h);
      return [change, compressed(change)];
    },
  },
];

describe('decodeChangeMeta with the change reader', () => {
  it('agrees with Automerge on flat documents written by a store, and decodes them itself (property)', async () => {
    const store = await open();
    const written: (Uint8Array | undefined)[] = [];
    store.onCommit((e) => written.push(e.changeset?.parts[0]?.changes[0]));
    const scalar = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(-0, 0, '', Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53, 1e300),
    );
    const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'binary', minLength: 30, maxLength: 40 }), fc.constantFrom('', '\uFEFFbom', 'é', '😀'));
    const flat = fc.dictionary(
      key.filter((k) => k !== '_id' && k !== '_deleted' && k !== '__proto__'),
      scalar,
      { maxKeys: 8 },
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(flat, async (value) => {
        written.length = 0;
        await store.insert('docs', { _id: `d${n++}`, ...value });
        expect(written).toHaveLength(1);
        const change = written[0] as Uint8Array;
        expect(agree(change)).toBe('reader');
        expect(decodeChangeMeta(change).creates).toBeDefined();
      }),
      runs(100),
    );
  });

  it('agrees with Automerge on flat changes made with every scalar type, any actor, time and message (property)', () => {
    const entry = fc.oneof(
      fc.tuple(fc.constant('str' as const), fc.string({ unit: 'binary', maxLength: 40 })),
      fc.tuple(fc.constant('int' as const), fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 60))),
      fc.tuple(fc.constant('uint' as const), fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(2 ** 53))),
      fc.tuple(fc.constant('f64' as const), fc.double()),
      fc.tuple(fc.constant('boolean' as const), fc.boolean()),
      fc.tuple(fc.constant('null' as const), fc.constant(null)),
    );
    const key = fc.oneof({ weight: 5, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) }, { weight: 1, arbitrary: fc.constant('_deleted') });
    const change = fc.record({
      actor: fc.uint8Array({ minLength: 1, maxLength: 32 }),
      fields: fc.array(fc.tuple(key, entry), { maxLength: 8 }),
      message: fc.option(fc.string({ unit: 'binary', maxLength: 20 })),
      time: fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(2 ** 60)),
    });
    const seen = new Map<Outcome, number>();
    const params = runs(400);
    fc.assert(
      fc.property(change, ({ actor, fields, message, time }) => {
        const h = handle(toHex(actor));
        for (const [k, [datatype, value]] of fields) h.put('_root', k, value, datatype);
        const change = commit(h, message, time);
        h.free();
        const outcome = agree(change);
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      }),
      params,
    );
    // The property saw changes the reader decodes, and changes Automerge refuses (a large int).
    if (params.numRuns >= 400) for (const outcome of ['reader', 'refused'] as const) expect(seen.get(outcome) ?? 0, outcome).toBeGreaterThan(0);
  });

  for (const shape of shapes) {
    it(`agrees with Automerge on ${shape.name}${shape.reader ? ', decoding it itself' : ', leaving it to Automerge'}`, () => {
      const changes = shape.changes();
      const outcomes = changes.map(agree);
      expect(outcomes[outcomes.length - 1]).toBe(shape.reader ? 'reader' : 'automerge');
    });
  }

  it('agrees with Automerge on every change a store writes for nested documents, updates, counters and deletes (property)', async () => {
    const store = await open();
    const changes: Uint8Array[] = [];
    store.onCommit((e) => {
      for (const part of e.changeset?.parts ?? []) changes.push(...part.changes);
    });
    const doc = fc.dictionary(
      fc.string({ maxLength: 4 }).filter((k) => k !== '_id' && k !== '_deleted' && k !== '__proto__'),
      fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>,
      { maxKeys: 4 },
    ) as fc.Arbitrary<JsonObject>;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(doc, doc, fc.integer({ min: -5, max: 5 }), async (first, second, step) => {
        const id = `n${n++}`;
        changes.length = 0;
        await store.insert('docs', { _id: id, ...first, visits: new Counter(1) });
        await store.update('docs', id, (d) => {
          for (const k of Object.keys(d)) if (k !== '_id' && k !== 'visits') delete d[k];
          Object.assign(d, second);
          d['visits'] = (d['visits'] as number) + step;
        });
        await store.delete('docs', id);
        for (const change of changes) expect(agree(change)).not.toBe('checksum');
      }),
      runs(40),
    );
  });

  it('agrees with Automerge on histories of several actors overwriting and deleting each other\'s fields, and decodes every update itself (property)', () => {
    const entry = fc.oneof(
      fc.tuple(fc.constant('str' as const), fc.string({ unit: 'binary', maxLength: 12 })),
      fc.tuple(fc.constant('int' as const), fc.maxSafeInteger()),
      fc.tuple(fc.constant('uint' as const), fc.maxSafeNat()),
      fc.tuple(fc.constant('f64' as const), fc.double()),
      fc.tuple(fc.constant('boolean' as const), fc.boolean()),
      fc.tuple(fc.constant('null' as const), fc.constant(null)),
    );
    // A few keys, so that actors write the same fields concurrently.
    const key = fc.constantFrom('a', 'b', 'c', 'é', '_deleted');
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), key, entry }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('del' as const), key }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('counter' as const, 'inc' as const, 'map' as const, 'list' as const, 'timestamp' as const), key }) },
    );
    const actors = 3;
    const step = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('change' as const), actor: fc.nat(actors - 1), ops: fc.array(op, { minLength: 1, maxLength: 4 }), message: fc.option(fc.string({ maxLength: 6 })), time: fc.maxSafeInteger() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('merge' as const), into: fc.nat(actors - 1), from: fc.nat(actors - 1) }) },
    );
    const history = fc.record({
      ids: fc.uniqueArray(fc.uint8Array({ minLength: 1, maxLength: 16 }), { minLength: actors, maxLength: actors, selector: toHex }),
      steps: fc.array(step, { minLength: 1, maxLength: 16 }),
    });
    const seen = { reader: 0, deletes: 0, otherActors: 0, severalPreds: 0 };
    const params = runs(150);
    fc.assert(
      fc.property(history, ({ ids, steps }) => {
        const hs = ids.map((id) => handle(toHex(id)));
        const changes: Uint8Array[] = [];
        for (const s of steps) {
          if (s.kind === 'merge') {
            if (s.into !== s.from) (hs[s.into] as Handle).applyChanges((hs[s.from] as Handle).getChanges([]));
            continue;
          }
          const h = hs[s.actor] as Handle;
          for (const o of s.ops) edit(h, o);
          if (h.pendingOps() > 0) changes.push(commit(h, s.message, s.time));
        }
        for (const h of hs) h.free();
        for (const change of changes) {
          const decoded = A.decodeChange(change);
          const plain = change[8] === 1 && referenceRootOps(decoded) !== undefined;
          expect(agree(change)).toBe(plain ? 'reader' : 'automerge');
          if (!plain) continue;
          seen.reader++;
          for (const o of decoded.ops) {
            if (o.action === 'del') seen.deletes++;
            if (o.pred.length > 1) seen.severalPreds++;
            if (o.pred.some((id) => !id.endsWith(`@${decoded.actor}`))) seen.otherActors++;
          }
        }
      }),
      params,
    );
    // The histories had updates the reader decoded: deletes, and puts over several values, and
    // over other actors' values.
    if (params.numRuns >= 150) for (const [what, n] of Object.entries(seen)) expect(n, what).toBeGreaterThan(0);
  });

  it('agrees with Automerge on every change a store writes for flat documents (inserts, updates, deletes), and decodes each itself (property)', async () => {
    const store = await open();
    const changes: Uint8Array[] = [];
    store.onCommit((e) => {
      for (const part of e.changeset?.parts ?? []) changes.push(...part.changes);
    });
    const scalar = fc.oneof(fc.constant(null), fc.boolean(), fc.string({ maxLength: 8 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
    const flat = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'ü'), scalar, { maxKeys: 4 });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(flat, fc.array(flat, { minLength: 1, maxLength: 3 }), fc.boolean(), async (first, updates, remove) => {
        const id = `f${n++}`;
        changes.length = 0;
        await store.insert('docs', { _id: id, ...first });
        for (const next of updates) {
          await store.update('docs', id, (d) => {
            for (const k of Object.keys(d)) if (k !== '_id') delete d[k];
            Object.assign(d, next);
          });
        }
        if (remove) await store.delete('docs', id);
        expect(changes.length).toBeGreaterThan(0);
        for (const change of changes) expect(agree(change)).toBe('reader');
      }),
      runs(40),
    );
  });

  it('names the values a put over a conflict overwrites as Automerge does: by counter, then actor', () => {
    const { merged } = conflict();
    merged.put('_root', 'k', 'settled');
    merged.delete('_root', 'n');
    const change = commit(merged);
    merged.free();
    const read = readChange(change);
    expect(read?.ops).toStrictEqual([
      { action: 'set', obj: '_root', key: 'k', value: 'settled', pred: ['1@0c', '1@aaaa', '2@bbbbbb'] },
      { action: 'del', obj: '_root', key: 'n', pred: ['1@bbbbbb'] },
    ]);
    expect(read).toStrictEqual(A.decodeChange(change));
  });

  it('reads a change that is a view into a larger buffer', () => {
    const change = shapes[0]!.changes()[0]!;
    const buffer = new Uint8Array(change.length + 7);
    buffer.set(change, 3);
    const view = buffer.subarray(3, 3 + change.length);
    expect(agree(view)).toBe('reader');
    expect(decodeChangeMeta(view)).toStrictEqual(decodeChangeMeta(change));
  });

  it('checks the checksum, which Automerge does not: a damaged change is refused whoever decodes it', () => {
    const flat = shapes[0]!.changes()[0]!;
    const nested = shapes[4]!.changes()[0]!;
    const packed = shapes[shapes.length - 1]!.changes()[1]!;
    for (const change of [flat, nested, packed]) {
      const damaged = change.slice();
      damaged[5]! ^= 0x10;
      // Automerge decodes it, under the hash of the bytes it was given…
      expect(A.decodeChange(damaged).hash.slice(0, 8)).not.toBe(toHex(damaged.subarray(4, 8)));
      // …the store does not take it.
      expect(() => decodeChangeMeta(damaged)).toThrow(ChangeChecksumError);
      expect(agree(damaged)).toBe('checksum');
    }
  });
});

// --- Chunks written by hand: encodings Automerge never writes, and malformed ones -----------

function uleb(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return out;
}

function sleb(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];

interface Parts {
  deps?: number[][];
  actor?: number[];
  seq?: number;
  startOp?: number;
  time?: number | bigint;
  message?: number[];
  others?: number[][];
  columns: [spec: number, data: number[]][];
  extra?: number[];
}

/** A change chunk with a valid checksum. */
function chunk(p: Parts): Uint8Array {
  const body: number[] = [...uleb(p.deps?.length ?? 0), ...(p.deps ?? []).flat()];
  const actor = p.actor ?? [0xab, 0xcd];
  body.push(...uleb(actor.length), ...actor, ...uleb(p.seq ?? 1), ...uleb(p.startOp ?? 1), ...sleb(p.time ?? 0));
  body.push(...uleb(p.message?.length ?? 0), ...(p.message ?? []), ...uleb(p.others?.length ?? 0));
  for (const other of p.others ?? []) body.push(...uleb(other.length), ...other);
  body.push(...uleb(p.columns.length));
  for (const [spec, data] of p.columns) body.push(...uleb(spec), ...uleb(data.length));
  for (const [, data] of p.columns) body.push(...data);
  body.push(...(p.extra ?? []));
  return withChecksum(new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, ...uleb(body.length), ...body]));
}

function withChecksum(change: Uint8Array): Uint8Array {
  change.set(sha256(change.subarray(8)).subarray(0, 4), 4);
  return change;
}

function header(change: Uint8Array): { length: number; bodyStart: number } {
  let length = 0;
  let scale = 1;
  let pos = 9;
  for (;;) {
    const b = change[pos++];
    if (b === undefined) return { length: -1, bodyStart: change.length };
    length += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) return { length, bodyStart: pos };
  }
}

// One op, key "a", the string "x" — the columns Automerge writes for it, by specification.
const KEY = 0x15;
const INSERT = 0x34;
const ACTION = 0x42;
const META = 0x56;
const RAW = 0x57;
const PRED = 0x70;
const PRED_ACTOR = 0x71;
const PRED_CTR = 0x73;
const base: Record<number, number[]> = {
  [KEY]: [0x7f, 1, 0x61],
  [INSERT]: [1],
  [ACTION]: [0x7f, 1],
  [META]: [0x7f, 0x16],
  [RAW]: [0x78],
  [PRED]: [0x7f, 0],
};

/** The base columns with some replaced (`undefined` removes one), in ascending order. */
function columns(changes: Record<number, number[] | undefined> = {}): [number, number[]][] {
  const all: Record<number, number[] | undefined> = { ...base, ...changes };
  return Object.entries(all)
    .filter((e): e is [string, number[]] => e[1] !== undefined)
    .map(([spec, data]): [number, number[]] => [Number(spec), data])
    .sort((a, b) => a[0] - b[0]);
}

/** One value op on key "a": its metadata and raw bytes. */
const value = (meta: number[], raw: number[]): [number, number[]][] => columns({ [META]: [0x7f, ...meta], [RAW]: raw.length > 0 ? raw : undefined });

/**
 * The op on key "a" (a put of "x", or with `del` a delete) over predecessors given as (actor
 * index, counter) pairs, the actor and counter columns written as one literal run each, or as
 * given. The change has two other actors, "bb" and "01" (index 1 and 2; the author is "abcd").
 */
function over(preds: [actor: number, counter: number | bigint][], p: { del?: boolean; actors?: number[] | undefined; counters?: number[] | undefined } = {}): Uint8Array {
  let last = 0n;
  const deltas = preds.map(([, counter]) => {
    const delta = BigInt(counter) - last;
    last = BigInt(counter);
    return delta;
  });
  const literal = <T>(xs: T[], encode: (x: T) => number[]): number[] | undefined => (xs.length === 0 ? undefined : [...sleb(-xs.length), ...xs.flatMap(encode)]);
  return chunk({
    startOp: 10,
    others: [[0xbb], [0x01]],
    columns: columns({
      ...(p.del === true ? { [ACTION]: [0x7f, 3], [META]: [0x7f, 0], [RAW]: undefined } : {}),
      [PRED]: [0x7f, ...uleb(preds.length)],
      [PRED_ACTOR]: 'actors' in p ? p.actors : literal(preds, ([actor]) => uleb(actor)),
      [PRED_CTR]: 'counters' in p ? p.counters : literal(deltas, sleb),
    }),
  });
}

const handmade: { name: string; expect: Outcome; change: () => Uint8Array }[] = [
  { name: 'the canonical encoding', expect: 'reader', change: () => chunk({ columns: columns() }) },
  { name: 'empty object and key columns written out', expect: 'reader', change: () => chunk({ columns: columns({ 0x01: [], 0x02: [], 0x11: [], 0x13: [] }) }) },
  { name: 'an empty key', expect: 'reader', change: () => chunk({ columns: columns({ [KEY]: [0x7f, 0] }) }) },
  { name: 'a key starting with a byte order mark', expect: 'reader', change: () => chunk({ columns: columns({ [KEY]: [0x7f, 4, ...utf8('\uFEFFk')] }) }) },
  { name: 'a long non-ASCII key', expect: 'reader', change: () => chunk({ columns: columns({ [KEY]: [0x7f, ...uleb(utf8('ключ'.repeat(10)).length), ...utf8('ключ'.repeat(10))] }) }) },
  {
    name: 'runs of keys, metadata and actions',
    expect: 'reader',
    change: () => chunk({ columns: columns({ [KEY]: [0x7e, 1, 0x61, 1, 0x62], [INSERT]: [2], [ACTION]: [2, 1], [META]: [2, 0x14], [RAW]: [0x01, 0x7f], [PRED]: [2, 0] }) }),
  },
  { name: 'a run of one key (two ops, same key)', expect: 'reader', change: () => chunk({ columns: columns({ [KEY]: [2, 1, 0x61], [INSERT]: [2], [ACTION]: [2, 1], [META]: [2, 0], [RAW]: undefined, [PRED]: [2, 0] }) }) },
  { name: 'two dependencies, in descending order', expect: 'reader', change: () => chunk({ deps: [new Array<number>(32).fill(0xee), new Array<number>(32).fill(0x11)], seq: 3, columns: columns() }) },
  { name: 'seq 0, start op 7, dependencies, a message and other actors', expect: 'reader', change: () => chunk({ seq: 0, startOp: 7, deps: [new Array<number>(32).fill(9)], message: utf8('hi ✓'), others: [[1], []], actor: [], columns: columns() }) },
  { name: 'a float, a uint, an int, true, false and null', expect: 'reader', change: () => chunk({ columns: columns({ [KEY]: [0x7a, 1, 0x61, 1, 0x62, 1, 0x63, 1, 0x64, 1, 0x65, 1, 0x66], [INSERT]: [6], [ACTION]: [6, 1], [META]: [0x7a, 0x85, 0x01, 0x23, 0x24, 0x02, 0x01, 0x00], [RAW]: [0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 0x80, 0x01, 0x80, 0x7f], [PRED]: [6, 0] }) }) },
  { name: 'trailing zero-length runs in the insert column', expect: 'reader', change: () => chunk({ columns: columns({ [INSERT]: [1, 0, 0] }) }) },
  { name: 'a put over one value', expect: 'reader', change: () => over([[0, 3]]) },
  { name: 'a put over a conflict of three actors (actor and counter columns as literal runs)', expect: 'reader', change: () => over([[2, 1], [0, 1], [1, 1], [1, 4]]) },
  { name: 'a put over values of one actor (runs of one actor and one counter step)', expect: 'reader', change: () => over([[1, 2], [1, 3], [1, 4]], { actors: [3, 1], counters: [0x7f, 2, 2, 1] }) },
  { name: 'a delete', expect: 'reader', change: () => over([[0, 7]], { del: true }) },
  { name: 'a delete of a conflicted field', expect: 'reader', change: () => over([[2, 5], [0, 6]], { del: true }) },
  { name: 'a delete over nothing', expect: 'reader', change: () => over([], { del: true }) },
  {
    name: 'a put and a delete sharing the predecessor columns',
    expect: 'reader',
    change: () =>
      chunk({
        others: [[0xbb]],
        startOp: 5,
        columns: columns({ [KEY]: [0x7e, 1, 0x61, 1, 0x62], [INSERT]: [2], [ACTION]: [0x7e, 1, 3], [META]: [0x7e, 0x16, 0], [PRED]: [0x7e, 2, 1], [PRED_ACTOR]: [0x7d, 0, 1, 0], [PRED_CTR]: [0x7d, 2, 0, 1] }),
      }),
  },
  { name: 'empty predecessor actor and counter columns written out', expect: 'reader', change: () => chunk({ columns: columns({ [PRED_ACTOR]: [], [PRED_CTR]: [] }) }) },
  { name: 'a predecessor counter of 0', expect: 'reader', change: () => over([[0, 0]]) },
  { name: 'a predecessor counter of 2^32 - 1', expect: 'reader', change: () => over([[1, 2 ** 32 - 1]]) },
  { name: 'the author again among the other actors', expect: 'reader', change: () => chunk({ others: [[0xab, 0xcd]], columns: columns({ [PRED]: [0x7f, 2], [PRED_ACTOR]: [0x7e, 1, 0], [PRED_CTR]: [2, 1] }) }) },
  { name: 'an empty other actor', expect: 'reader', change: () => chunk({ others: [[]], columns: columns({ [PRED]: [0x7f, 1], [PRED_ACTOR]: [0x7f, 1], [PRED_CTR]: [0x7f, 1] }) }) },
  { name: 'predecessors out of counter order (Automerge sorts them)', expect: 'automerge', change: () => over([[0, 2], [1, 1]]) },
  { name: 'predecessors of one counter out of actor order (Automerge sorts them)', expect: 'automerge', change: () => over([[1, 1], [0, 1]]) },
  { name: 'a delete with a value (Automerge drops it)', expect: 'automerge', change: () => chunk({ columns: columns({ [ACTION]: [0x7f, 3], [META]: [0x7f, 0x02], [RAW]: undefined, [PRED]: [0x7f, 1], [PRED_ACTOR]: [0x7f, 0], [PRED_CTR]: [0x7f, 1] }) }) },
  { name: 'a delete with a string value (Automerge drops it)', expect: 'automerge', change: () => chunk({ columns: columns({ [ACTION]: [0x7f, 3], [PRED]: [0x7f, 1], [PRED_ACTOR]: [0x7f, 0], [PRED_CTR]: [0x7f, 1] }) }) },
  { name: 'a predecessor actor index of 2^32 (Automerge wraps it to 0)', expect: 'automerge', change: () => over([[2 ** 32, 1]]) },
  { name: 'a predecessor left over', expect: 'automerge', change: () => over([[0, 1]], { actors: [2, 0], counters: [2, 1] }) },
  { name: 'an increment', expect: 'automerge', change: () => chunk({ columns: columns({ [ACTION]: [0x7f, 5], [META]: [0x7f, 0x14], [RAW]: [1], [PRED]: [0x7f, 1], [PRED_ACTOR]: [0x7f, 0], [PRED_CTR]: [0x7f, 1] }) }) },
  { name: 'an overlong number in the action column', expect: 'automerge', change: () => chunk({ columns: columns({ [ACTION]: [0x7f, 0x81, 0x00] }) }) },
  { name: 'a null with a length', expect: 'automerge', change: () => chunk({ columns: value([0x10], []) }) },
  { name: 'a null with a length and its bytes', expect: 'automerge', change: () => chunk({ columns: value([0x10], [0x78]) }) },
  { name: 'a key left over', expect: 'automerge', change: () => chunk({ columns: columns({ [KEY]: [0x7e, 1, 0x61, 1, 0x62] }) }) },
  { name: 'an insert flag left over', expect: 'automerge', change: () => chunk({ columns: columns({ [INSERT]: [2] }) }) },
  { name: 'a raw value byte left over', expect: 'automerge', change: () => chunk({ columns: columns({ [RAW]: [0x78, 0x79] }) }) },
  { name: 'a predecessor count left over', expect: 'automerge', change: () => chunk({ columns: columns({ [PRED]: [2, 0] }) }) },
  { name: 'an unknown column', expect: 'automerge', change: () => chunk({ columns: [...columns(), [0xe2, [5]]] }) },
  { name: 'expand and mark name columns', expect: 'automerge', change: () => chunk({ columns: [...columns(), [0x94, [0, 1]], [0xa5, [0x7f, 1, 0x61]]] }) },
  { name: 'extra bytes (an author)', expect: 'automerge', change: () => chunk({ columns: columns(), extra: [1, 2, 0xaa, 0xbb] }) },
  { name: 'a counter', expect: 'automerge', change: () => chunk({ columns: value([0x18], [5]) }) },
  { name: 'a timestamp', expect: 'automerge', change: () => chunk({ columns: value([0x19], [5]) }) },
  { name: 'bytes', expect: 'automerge', change: () => chunk({ columns: value([0x17], [5]) }) },
  { name: 'a value of an unknown type', expect: 'automerge', change: () => chunk({ columns: value([0x1e], [5]) }) },
  { name: 'a make-map action', expect: 'automerge', change: () => chunk({ columns: columns({ [ACTION]: [0x7f, 0], [META]: [0x7f, 0], [RAW]: undefined }) }) },
  { name: 'an int beyond 2^53', expect: 'refused', change: () => chunk({ columns: value([0x84, 0x01], sleb(2n ** 53n)) }) },
  { name: 'a uint beyond 2^53', expect: 'refused', change: () => chunk({ columns: value([0x83, 0x01], uleb(2n ** 53n)) }) },
  { name: 'a time beyond 2^53', expect: 'refused', change: () => chunk({ time: 2n ** 60n, columns: columns() }) },
  { name: 'start op 0', expect: 'refused', change: () => chunk({ startOp: 0, columns: columns() }) },
  { name: 'start op 2^32', expect: 'refused', change: () => chunk({ startOp: 2 ** 32, columns: columns() }) },
  { name: 'a key that is not UTF-8', expect: 'refused', change: () => chunk({ columns: columns({ [KEY]: [0x7f, 1, 0xff] }) }) },
  { name: 'a key that is a UTF-8 surrogate', expect: 'refused', change: () => chunk({ columns: columns({ [KEY]: [0x7f, 3, 0xed, 0xa0, 0x80] }) }) },
  { name: 'a string value that is not UTF-8', expect: 'refused', change: () => chunk({ columns: value([0x16], [0xc3]) }) },
  { name: 'a message that is not UTF-8', expect: 'refused', change: () => chunk({ message: [0xc3, 0x28], columns: columns() }) },
  { name: 'an object actor index beyond the actors', expect: 'refused', change: () => chunk({ columns: columns({ 0x01: [0x7f, 5], 0x02: [0x7f, 1] }) }) },
  { name: 'a predecessor counter of 2^32 (Automerge panics)', expect: 'refused', change: () => over([[0, 2 ** 32]]) },
  { name: 'a negative predecessor counter', expect: 'refused', change: () => over([[0, -1]]) },
  { name: 'a predecessor actor index beyond the actors (Automerge panics)', expect: 'refused', change: () => over([[3, 1]]) },
  { name: 'a predecessor actor column without its counter column', expect: 'refused', change: () => over([[0, 1]], { counters: undefined }) },
  { name: 'a predecessor counter column without its actor column', expect: 'refused', change: () => over([[0, 1]], { actors: undefined }) },
  { name: 'an empty predecessor actor column without its counter column', expect: 'refused', change: () => chunk({ columns: columns({ [PRED_ACTOR]: [] }) }) },
  { name: 'an empty predecessor counter column without its actor column', expect: 'refused', change: () => chunk({ columns: columns({ [PRED_CTR]: [] }) }) },
  { name: 'too few predecessor counters', expect: 'refused', change: () => over([[0, 1], [0, 2]], { counters: [0x7f, 1] }) },
  { name: 'a null run in the predecessor actor column', expect: 'refused', change: () => over([[0, 1]], { actors: [0, 1] }) },
  { name: 'no predecessor column', expect: 'refused', change: () => chunk({ columns: columns({ [PRED]: undefined }) }) },
  { name: 'too few inserts', expect: 'refused', change: () => chunk({ columns: columns({ [INSERT]: [] }) }) },
  { name: 'a null run ending the action column', expect: 'refused', change: () => chunk({ columns: columns({ [ACTION]: [0x7f, 1, 0, 0] }) }) },
  { name: 'a float of four bytes', expect: 'refused', change: () => chunk({ columns: value([0x45], [0, 0, 0x80, 0x3f]) }) },
  { name: 'a float of four bytes, four more following', expect: 'refused', change: () => chunk({ columns: value([0x45], [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]) }) },
  { name: 'a uint shorter than its length', expect: 'refused', change: () => chunk({ columns: value([0x23], [0x05, 0x00]) }) },
  { name: 'columns out of order', expect: 'refused', change: () => chunk({ columns: columns().reverse() }) },
  { name: 'a column twice', expect: 'refused', change: () => chunk({ columns: [...columns(), [PRED, [0x7f, 0]]] }) },
  { name: 'a deflated column', expect: 'refused', change: () => chunk({ columns: columns({ [KEY]: undefined, 0x1d: [0x7f, 1, 0x61] }) }) },
  { name: 'a truncated chunk', expect: 'refused', change: () => chunk({ columns: columns() }).subarray(0, 30) },
  { name: 'a byte after the chunk', expect: 'refused', change: () => new Uint8Array([...chunk({ columns: columns() }), 0]) },
  { name: 'bad magic bytes', expect: 'refused', change: () => withChecksum(Object.assign(chunk({ columns: columns() }), { 0: 0x84 })) },
  {
    name: 'an overlong chunk length',
    expect: 'refused',
    change: () => {
      const c = chunk({ columns: [] });
      return withChecksum(new Uint8Array([...c.subarray(0, 9), (c[9] as number) | 0x80, 0x00, ...c.subarray(10)]));
    },
  },
  { name: 'a damaged checksum', expect: 'checksum', change: () => Object.assign(chunk({ columns: columns() }), { 4: 0 }) },
];

describe('hand-written change chunks', () => {
  for (const c of handmade) {
    it(`${c.name}: ${c.expect === 'reader' ? 'the reader decodes it' : c.expect === 'automerge' ? 'left to Automerge' : c.expect === 'refused' ? 'refused, as by Automerge' : 'refused for its checksum'}`, () => {
      expect(agree(c.change())).toBe(c.expect);
    });
  }
});

// --- Mutation fuzzing -----------------------------------------------------------------------

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; byte: number }
  | { kind: 'delete'; at: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
);

function mutate(change: Uint8Array, m: Mutation): Uint8Array {
  const bytes = [...change];
  const at = bytes.length === 0 ? 0 : ('at' in m ? m.at : 0) % bytes.length;
  switch (m.kind) {
    case 'flip':
      bytes[at]! ^= m.mask;
      break;
    case 'set':
      bytes[at] = m.byte;
      break;
    case 'insert':
      bytes.splice(at, 0, m.byte);
      break;
    case 'delete':
      bytes.splice(at, 1);
      break;
    case 'truncate':
      bytes.length = at;
      break;
    case 'extend':
      bytes.push(...m.bytes);
      break;
  }
  return new Uint8Array(bytes);
}

/** The chunk's length and checksum made right again, so that a mutation reaches the body parser. */
function reframe(change: Uint8Array): Uint8Array {
  if (change.length < 10 || change[8] !== 1) return change;
  const { bodyStart } = header(change);
  const body = change.subarray(bodyStart);
  return withChecksum(new Uint8Array([...change.subarray(0, 9), ...uleb(body.length), ...body]));
}

describe('mutated changes', () => {
  it('whatever decodeChangeMeta accepts, Automerge accepts with the same result; whatever Automerge refuses, it refuses (property)', () => {
    const corpus = [...shapes.flatMap((s) => s.changes()), ...handmade.filter((h) => h.expect !== 'refused' && h.expect !== 'checksum').map((h) => h.change())];
    const seen = new Map<Outcome, number>();
    const params = runs(3000);
    fc.assert(
      fc.property(fc.constantFrom(...corpus), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), (change, mutations, fix) => {
        let bytes = mutations.reduce(mutate, change);
        if (fix) bytes = reframe(bytes);
        const outcome = agree(bytes);
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      }),
      params,
    );
    // The mutations reached every outcome: changes the reader decoded (a value or key changed),
    // ones it left to Automerge, ones both refused, and damage only the checksum revealed.
    if (params.numRuns >= 3000) for (const outcome of ['reader', 'automerge', 'refused', 'checksum'] as const) expect(seen.get(outcome) ?? 0, outcome).toBeGreaterThan(0);
  });
});
