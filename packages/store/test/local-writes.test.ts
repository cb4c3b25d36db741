import * as A from '@automerge/automerge';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonEqual, type JsonObject, type JsonValue } from '@atoll/protocol';
import { AutomergeDoc, decodeChangeMeta } from '../src/document/automerge.js';
import { MemoryStorageAdapter } from '../src/index.js';
import { recorder, storesClosedAfterEach } from './helpers.js';

// A local change that only puts plain values into root fields or deletes them is written by the
// store (change-writer.ts) and staged, not made by Automerge. These tests hold it to what
// Automerge makes of the same edit: the same bytes, the same hash, the same heads, at every step,
// with remote changes (on top and concurrent) and reloads in between.

const open = storesClosedAfterEach();

type Handle = ReturnType<typeof A.getBackend>;
const ACTOR = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
const OTHER = '0b0b';

const scalar: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -0, 0.5, 2 ** 60),
);
const fieldName = fc.constantFrom('a', 'b', 'c', 'é', '😀', 'zz');
const flat = fc.dictionary(fieldName, scalar, { maxKeys: 4 });

/** The root of a handle as the store reads it (tombstone flag aside). */
function rootOf(h: Handle): JsonObject | undefined {
  const root = h.materialize('_root') as Record<string, unknown>;
  if (root['_deleted'] === true) return undefined;
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(root)) {
    if (k === '_deleted') continue;
    out[k] = (v instanceof A.Counter ? v.value : typeof v === 'bigint' ? Number(v) : A.isImmutableString(v) ? v.toString() : v) as JsonValue;
  }
  return out;
}

/** The edit as Automerge's own handle makes it: what AutomergeDoc's Automerge path does for a flat move. */
function referenceEdit(h: Handle, previous: JsonObject | undefined, next: JsonObject | undefined, seconds: number): { bytes: Uint8Array; hash: string } | undefined {
  if (next === undefined) {
    for (const key of h.keys('_root')) if (key !== '_deleted') h.delete('_root', key);
    h.put('_root', '_deleted', true, 'boolean');
  } else {
    const base = previous ?? {};
    for (const key of Object.keys(base)) if (!(key in next)) h.delete('_root', key);
    for (const [key, v] of Object.entries(next)) {
      if (key in base && jsonEqual(base[key], v)) continue;
      if (v === null) h.put('_root', key, null, 'null');
      else if (typeof v === 'string') h.put('_root', key, v, 'str');
      else if (typeof v === 'boolean') h.put('_root', key, v, 'boolean');
      else h.put('_root', key, v, Number.isSafeInteger(v) ? 'int' : 'f64');
    }
  }
  let hash: string;
  if (h.pendingOps() > 0) hash = h.commit(null, seconds) as string;
  // Creating a document with no fields is an empty change (as AutomergeDoc does).
  else if (previous === undefined && next !== undefined && h.getHeads().length === 0) hash = h.emptyChange(null, seconds);
  else return undefined;
  return { bytes: h.getLastLocalChange() as Uint8Array, hash };
}

const step = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('local' as const), next: flat }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remote' as const), next: flat, concurrent: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reload' as const) }) },
);

describe('local changes written without Automerge', () => {
  it('are byte for byte the changes Automerge makes, through remote edits, conflicts and reloads (property)', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 2 ** 31 }), (steps, t0) => {
        const ref = A.getBackend(A.init<unknown>()).fork(ACTOR);
        const other = A.getBackend(A.init<unknown>()).fork(OTHER);
        let doc = AutomergeDoc.create(ACTOR);
        let value: JsonObject | undefined; // what the store holds
        let seconds = t0;
        try {
          for (const s of steps) {
            seconds += 1;
            if (s.kind === 'local' || s.kind === 'delete') {
              const next = s.kind === 'local' ? s.next : undefined;
              if (next === undefined && value === undefined) continue;
              // A revive of a tombstone diffs against Automerge's root; the reference does not model it.
              if (value === undefined && ref.getHeads().length > 0) continue;
              const expected = referenceEdit(ref, value, next, seconds);
              const got = doc.commitJson(value, next, [], seconds * 1000);
              expect(got?.hash).toBe(expected?.hash);
              if (expected) expect(Buffer.from(got!.change).toString('hex')).toBe(Buffer.from(expected.bytes).toString('hex'));
              value = rootOf(ref);
            } else if (s.kind === 'remote') {
              // The other actor edits either on top of everything (staged) or on what it last saw.
              if (!s.concurrent) other.applyChanges(ref.getChanges(other.getHeads()));
              const base = rootOf(other);
              const made = referenceEdit(other, base, { ...(base ?? {}), ...s.next }, seconds);
              if (!made) continue;
              ref.applyChanges([made.bytes]);
              const meta = decodeChangeMeta(made.bytes);
              const onTop = meta.deps.length === doc.heads().length && meta.deps.every((d) => doc.heads().includes(d));
              if (!(onTop && meta.rootOps && doc.stage(made.bytes, meta))) doc.applyChanges([made.bytes], [meta.actor]);
              value = rootOf(ref);
            } else {
              const saved = doc.save();
              doc.free();
              doc = AutomergeDoc.load([saved], ACTOR);
            }
            expect([...doc.heads()].sort()).toEqual([...ref.getHeads()].sort());
          }
          expect(doc.toJson()).toEqual(rootOf(ref));
          // Automerge re-derives every change from the saved document: the hashes must survive.
          const reloaded = AutomergeDoc.load([doc.save()], ACTOR);
          expect([...reloaded.heads()].sort()).toEqual([...ref.getHeads()].sort());
          reloaded.free();
        } finally {
          doc.free();
          ref.free();
          other.free();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a run of flat edits never calls into Automerge until its state is needed', () => {
    const doc = AutomergeDoc.create(ACTOR);
    let value: JsonObject | undefined;
    for (let i = 0; i < 200; i++) {
      const next = { n: i, title: `t${i % 7}` };
      doc.commitJson(value, next, [], 1_700_000_000_000 + i);
      value = next;
    }
    // 200 changes: staged, flushed to Automerge once at 256 — not yet.
    expect(doc.stagedCount()).toBe(200);
    expect(doc.toJson()).toEqual({ n: 199, title: 't3' });
    expect(doc.stagedCount()).toBe(0);
    doc.free();
  });

  it('nested values, counters and revivals still go to Automerge', () => {
    const doc = AutomergeDoc.create(ACTOR);
    doc.commitJson(undefined, { a: 1 }, [], 0);
    expect(doc.stagedCount()).toBe(1);
    doc.commitJson({ a: 1 }, { a: 1, inner: { x: 1 } }, [], 0);
    expect(doc.stagedCount()).toBe(0);
    expect(doc.toJson()).toEqual({ a: 1, inner: { x: 1 } });
    doc.commitJson({ a: 1, inner: { x: 1 } }, { a: 2, inner: { x: 1 } }, [], 0);
    expect(doc.stagedCount()).toBe(1); // the first local change after Automerge's is written again
    doc.commitJson({ a: 2, inner: { x: 1 } }, { a: 2, inner: { x: 1 }, c: 5 }, [['c']], 0);
    expect(doc.stagedCount()).toBe(0);
    expect(doc.toJson()).toEqual({ a: 2, inner: { x: 1 }, c: 5 });
    doc.free();
  });

  it('a remote change whose predecessors are not the current operations is not staged', () => {
    const writer = A.getBackend(A.init<unknown>()).fork(OTHER);
    writer.put('_root', 'a', 1, 'int');
    const first = writer.commit(null, 0) as string;
    const create = writer.getChangeByHash(first) as Uint8Array;
    const doc = AutomergeDoc.deferred(create, decodeChangeMeta(create), ACTOR);
    // A change on the same heads that puts over `a` as if it had no value: not what Automerge writes.
    const forger = A.getBackend(A.init<unknown>()).fork('0c0c');
    forger.applyChanges([create]);
    forger.put('_root', 'b', 1, 'int');
    forger.commit(null, 0);
    const honest = forger.getLastLocalChange() as Uint8Array;
    const meta = decodeChangeMeta(honest);
    expect(doc.stage(honest, meta)).toBe(true);
    const bad = { ...meta, rootOps: [{ key: 'a', value: 9, pred: [] }], startOp: meta.startOp + 1 };
    expect(doc.stage(honest, bad)).toBe(false);
    expect(doc.stage(honest, { ...meta, rootOps: [{ key: 'a', value: 9, pred: ['7@0c0c'] }] })).toBe(false);
    doc.free();
    writer.free();
    forger.free();
  });
});

describe('stores writing flat changes themselves', () => {
  it('reopen, compact and sync to the same values and heads as Automerge computes (property)', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), doc: fc.nat(2), field: fieldName, value: scalar }),
      fc.record({ kind: fc.constant('unset' as const), doc: fc.nat(2), field: fieldName }),
      fc.record({ kind: fc.constant('nested' as const), doc: fc.nat(2), value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), doc: fc.nat(2) }),
      fc.record({ kind: fc.constant('burst' as const), doc: fc.nat(2), count: fc.integer({ min: 1, max: 80 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 20 }), async (ops) => {
        let storage = new MemoryStorageAdapter();
        let writer = await open({ storage, automergeCacheSize: 2 });
        const all = recorder(writer);
        const apply = async (o: (typeof ops)[number], i: number): Promise<void> => {
          const id = `d${o.doc}`;
          await writer.transaction(async (tx) => {
            const doc = await tx.get('docs', id);
            if (o.kind === 'delete') {
              if (doc) await tx.delete('docs', id);
            } else if (!doc) {
              await tx.upsert('docs', { _id: id, a: i });
            } else {
              await tx.update('docs', id, (d) => {
                if (o.kind === 'set') d[o.field] = o.value;
                else if (o.kind === 'unset') delete d[o.field];
                else if (o.kind === 'nested') d['inner'] = { v: o.value };
                else d['n'] = i;
              });
            }
          });
        };
        for (const [i, o] of ops.entries()) {
          if (o.kind === 'burst') for (let k = 0; k < o.count; k++) await apply(o, i * 100 + k);
          else await apply(o, i);
          if (i % 5 === 4) {
            // Reopen on the same storage: the Automerge state comes back from saved chunks.
            await writer.close();
            storage = storage.reopen();
            writer = await open({ storage, automergeCacheSize: 2 });
            writer.onCommit((e) => void (e.source === 'local' && e.changeset && all.push(e.changeset)));
          }
        }
        const values = await writer.find({ collection: 'docs' });
        // Automerge, given every change each document's history holds, computes the same value.
        const reader = await open();
        await reader.applyChangesets(all);
        expect(await reader.find({ collection: 'docs' })).toEqual(values);
        for (const id of ['d0', 'd1', 'd2']) expect(reader.heads('docs', id)).toEqual(writer.heads('docs', id));
        for (const doc of values) {
          const changes = all.flatMap((cs) => cs.parts.filter((p) => p.key === `docs/${doc._id}`).flatMap((p) => p.changes));
          const am = AutomergeDoc.load(changes, 'ffff');
          expect({ _id: doc._id, ...am.toJson() }).toEqual(doc);
          am.free();
        }
      }),
      { numRuns: 40 },
    );
  });
});
