import * as A from '@automerge/automerge';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '@atoll/protocol';
import { AutomergeDoc, decodeChangeMeta } from '../src/document/automerge.js';
import { MemoryStorageAdapter } from '../src/index.js';
import { recorder, storesClosedAfterEach } from './helpers.js';

// A document a store has never had, received as one change that only sets plain root fields,
// is stored without an Automerge document (its value comes from the decoded change) and loaded
// into Automerge the first time something needs it. These tests hold that path to what
// Automerge itself makes of the same change.

const open = storesClosedAfterEach();

/** What Automerge materializes from the changes alone: the reference for the value and its field order. */
function automergeValue(changes: readonly Uint8Array[]): JsonObject | undefined {
  const am = AutomergeDoc.load(changes, 'ffff');
  try {
    return am.toJson();
  } finally {
    am.free();
  }
}

const scalar = fc.oneof(fc.constant(null), fc.boolean(), fc.string({ unit: 'binary', maxLength: 8 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.maxSafeInteger());
const flatDoc = fc.dictionary(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }).filter((k) => k !== '_id' && k !== '_deleted' && k !== '__proto__'),
  scalar,
  { maxKeys: 8 },
);

describe('documents received as one creating change', () => {
  it('decodes the value of a flat creation exactly as Automerge materializes it, and of nothing else (property)', async () => {
    const writer = await open();
    const log = recorder(writer);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(flatDoc, async (value) => {
        const id = `d${n++}`;
        await writer.insert('docs', { _id: id, ...value });
        const change = log[log.length - 1]!.parts[0]!.changes[0]!;
        const meta = decodeChangeMeta(change);
        expect(meta.creates).toBeDefined();
        // JSON text compares field order too.
        expect(JSON.stringify(meta.creates!.value)).toBe(JSON.stringify(automergeValue([change])));
      }),
      { numRuns: 150 },
    );
  });

  it('the largest safe integer reads the same from the change and from Automerge (which materializes it as a BigInt)', async () => {
    const writer = await open();
    const log = recorder(writer);
    await writer.insert('docs', { _id: 'edge', max: Number.MAX_SAFE_INTEGER, min: Number.MIN_SAFE_INTEGER });
    const change = log[0]!.parts[0]!.changes[0]!;
    expect(decodeChangeMeta(change).creates).toEqual({ value: { max: Number.MAX_SAFE_INTEGER, min: Number.MIN_SAFE_INTEGER } });
    expect(automergeValue([change])).toEqual({ max: Number.MAX_SAFE_INTEGER, min: Number.MIN_SAFE_INTEGER });
  });

  it('leaves every other shape to Automerge: nested values, lists, counters, later changes, deletes', async () => {
    const writer = await open();
    const log = recorder(writer);
    await writer.insert('docs', { _id: 'nested', inner: { a: 1 } });
    await writer.insert('docs', { _id: 'list', xs: [1, 2] });
    await writer.transaction(async (tx) => {
      await tx.insert('docs', { _id: 'flat', a: 1 });
      await tx.update('docs', 'flat', (d) => void (d['a'] = 2));
    });
    await writer.update('docs', 'flat', (d) => void (d['b'] = 'x'));
    await writer.delete('docs', 'flat');
    const metas = log.map((cs) => decodeChangeMeta(cs.parts[0]!.changes[0]!));
    expect(metas.map((m) => m.creates === undefined)).toEqual([true, true, false, true, true]);
    // The one flat creation in a transaction that also updated it: one change, the final value.
    expect(metas[2]!.creates).toEqual({ value: { a: 2 } });
  });

  it('a store that receives such documents shows the same values, heads and history as one that loads them into Automerge', async () => {
    const writer = await open();
    const log = recorder(writer);
    await writer.insert('docs', { _id: 'a', title: 'one', n: 1, ok: true, none: null, f: 0.5 });
    await writer.transaction(async (tx) => {
      await tx.insert('docs', { _id: 'b', z: 1, y: 2 });
      await tx.insert('docs', { _id: 'c', nested: { deep: true } });
    });
    const reader = await open();
    const seen: number[] = [];
    reader.observe({ collection: 'docs' }, (docs) => seen.push(docs.length));
    for (const cs of log) expect((await reader.applyChangeset(cs)).status).toBe('applied');
    expect(seen).toEqual([0, 1, 3]);
    for (const id of ['a', 'b', 'c']) {
      expect(await reader.get('docs', id)).toEqual(await writer.get('docs', id));
      expect(reader.heads('docs', id)).toEqual(writer.heads('docs', id));
    }
    // Field order as Automerge gives it, whatever order the writer inserted them in.
    expect(Object.keys((await reader.get('docs', 'b'))!)).toEqual(['_id', ...Object.keys(automergeValue(log[1]!.parts[0]!.changes)!)]);
    const [first] = await reader.readLog(0);
    expect(await reader.valueBefore(first!, 'docs/a' as never)).toBeUndefined();
    expect(await reader.valueAfter(first!, 'docs/a' as never)).toEqual({ _id: 'a', title: 'one', n: 1, ok: true, none: null, f: 0.5 });
    // Shipping it on needs the change bytes only.
    expect((await reader.changesetFor(first!)).parts[0]!.changes).toEqual(log[0]!.parts[0]!.changes);
    // A repeat is a duplicate, from the deferred state and, once that is gone, from storage.
    expect((await reader.applyChangeset(log[0]!)).status).toBe('duplicate');
  });

  it('a later local edit, a later remote edit and a concurrent edit all merge on top of it', async () => {
    const writer = await open();
    const log = recorder(writer);
    await writer.insert('docs', { _id: 'a', title: 'one', n: 1 });
    const reader = await open();
    const readerLog = recorder(reader);
    await reader.applyChangeset(log[0]!);
    // Concurrent: the writer and the reader both edit the document the reader never loaded.
    await writer.update('docs', 'a', (d) => void (d['title'] = 'two'));
    await reader.update('docs', 'a', (d) => void (d['n'] = 2));
    await reader.applyChangeset(log[1]!);
    await writer.applyChangeset(readerLog[0]!);
    expect(await reader.get('docs', 'a')).toEqual({ _id: 'a', title: 'two', n: 2 });
    expect(await writer.get('docs', 'a')).toEqual(await reader.get('docs', 'a'));
    expect([...reader.heads('docs', 'a')!].sort()).toEqual([...writer.heads('docs', 'a')!].sort());
  });

  it('after a restart, and with a one-document Automerge cache, it loads from storage', async () => {
    const storage = new MemoryStorageAdapter();
    const writer = await open();
    const log = recorder(writer);
    for (let i = 0; i < 5; i++) await writer.insert('docs', { _id: `d${i}`, i });
    await writer.update('docs', 'd0', (d) => void (d['i'] = 10));
    const reader = await open({ storage, automergeCacheSize: 1 });
    for (const cs of log.slice(0, 5)) await reader.applyChangeset(cs);
    // d0 left the cache: its next change is applied to the state loaded from storage.
    expect((await reader.applyChangeset(log[5]!)).status).toBe('applied');
    expect((await reader.applyChangeset(log[1]!)).status).toBe('duplicate');
    await reader.close();
    const again = await open({ storage: storage.reopen() });
    expect(await again.find({ collection: 'docs' })).toEqual(await writer.find({ collection: 'docs' }));
    await again.update('docs', 'd3', (d) => void (d['i'] = 33));
    expect(await again.get('docs', 'd3')).toEqual({ _id: 'd3', i: 33 });
  });

  it('a creating change that also sets the tombstone flag makes a deleted document', async () => {
    const writer = await open();
    const log = recorder(writer);
    await writer.insert('docs', { _id: 'gone', a: 1 });
    // One change with no predecessors that creates the document deleted (the flag is what a
    // delete writes), in place of the writer's creation.
    const h = A.getBackend(A.init<unknown>());
    h.put('_root', 'a', 1, 'int');
    h.put('_root', '_deleted', true, 'boolean');
    h.commit(null, 0);
    const change = h.getLastLocalChange()!;
    expect(decodeChangeMeta(change).creates).toEqual({ value: undefined });
    expect(automergeValue([change])).toBeUndefined();
    const cs = log[0]!;
    const reader = await open();
    expect((await reader.applyChangeset({ ...cs, parts: [{ ...cs.parts[0]!, changes: [change] }] })).status).toBe('applied');
    expect(await reader.get('docs', 'gone')).toBeUndefined();
    expect(reader.has('docs', 'gone')).toBe(true); // a tombstone
  });

  it('edits made on top of the receiver\'s state are staged: values, heads and history match the writer\'s at every batch, and reach Automerge intact (property)', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), doc: fc.nat(2), field: fc.constantFrom('a', 'b', 'c'), value: scalar }),
      fc.record({ kind: fc.constant('unset' as const), doc: fc.nat(2), field: fc.constantFrom('a', 'b', 'c') }),
      fc.record({ kind: fc.constant('nested' as const), doc: fc.nat(2), value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), doc: fc.nat(2) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 30, maxLength: 30 }), async (ops, batchSizes) => {
        const writer = await open();
        const log = recorder(writer);
        const snapshots: unknown[] = [];
        for (const o of ops) {
          const id = `d${o.doc}`;
          const before = log.length;
          await writer.transaction(async (tx) => {
            const doc = await tx.get('docs', id);
            if (o.kind === 'delete') {
              if (doc) await tx.delete('docs', id);
            } else if (!doc) {
              await tx.insert('docs', { _id: id, a: 0 });
            } else {
              await tx.update('docs', id, (d) => {
                if (o.kind === 'set') d[o.field] = o.value;
                else if (o.kind === 'unset') delete d[o.field];
                else d['inner'] = { v: o.value };
              });
            }
          });
          if (log.length > before) snapshots.push(await writer.find({ collection: 'docs' }));
        }
        const reader = await open({ automergeCacheSize: 2 });
        let at = 0;
        for (let i = 0; at < log.length; i++) {
          const size = batchSizes[i % batchSizes.length] as number;
          await reader.applyChangesets(log.slice(at, at + size));
          at = Math.min(log.length, at + size);
          expect(await reader.find({ collection: 'docs' })).toEqual(snapshots[at - 1]);
        }
        for (const id of ['d0', 'd1', 'd2']) expect(reader.heads('docs', id)).toEqual(writer.heads('docs', id));
        // Automerge gets the staged changes: a local edit on the reader merges back exactly.
        const readerLog = recorder(reader);
        for (const doc of await reader.find({ collection: 'docs' })) await reader.update('docs', doc._id, (d) => void (d['z'] = 1));
        for (const cs of readerLog) await writer.applyChangeset(cs);
        expect(await writer.find({ collection: 'docs' })).toEqual(await reader.find({ collection: 'docs' }));
        for (const doc of await reader.find({ collection: 'docs' })) {
          const [entry] = await reader.entriesFor(readerLog.find((cs) => cs.parts[0]!.key === `docs/${doc._id}`)!.id);
          expect(await reader.valueAfter(entry!, `docs/${doc._id}` as never)).toEqual(doc);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('an edit concurrent with the receiver\'s state goes to Automerge and merges', async () => {
    const a = await open();
    const b = await open();
    const logA = recorder(a);
    const logB = recorder(b);
    await a.insert('docs', { _id: 'x', n: 1, s: 'a' });
    await b.applyChangeset(logA[0]!);
    // Both edit on top of the same state; each then receives the other's edit, which depends
    // on a state it no longer has.
    await a.update('docs', 'x', (d) => void (d['n'] = 2));
    await b.update('docs', 'x', (d) => void (d['s'] = 'b'));
    await a.applyChangeset(logB[0]!);
    await b.applyChangeset(logA[1]!);
    expect(await a.get('docs', 'x')).toEqual({ _id: 'x', n: 2, s: 'b' });
    expect(await b.get('docs', 'x')).toEqual(await a.get('docs', 'x'));
    // And a later edit on top of the merge is staged again on the other side.
    await a.update('docs', 'x', (d) => void (d['n'] = 3));
    await b.applyChangeset(logA[2]!);
    expect(await b.get('docs', 'x')).toEqual({ _id: 'x', n: 3, s: 'b' });
    expect(b.heads('docs', 'x')).toEqual(a.heads('docs', 'x'));
  });
});
