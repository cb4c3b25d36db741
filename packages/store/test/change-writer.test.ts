import * as A from '@automerge/automerge';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeChange, type ChangeToWrite, type WriteDatatype, type WriteOp } from '../src/document/change-writer.js';

// The change writer writes the chunk Automerge writes for a change of root puts and deletes,
// byte for byte: Automerge encodes every change again from its operations when it loads a
// document, so a chunk of any other encoding would come back under another hash. Every test
// here makes the change with Automerge too and compares the bytes and the hash.

/** fast-check parameters from the environment (`ATOLL_SEED`, `ATOLL_RUNS`), so a failure replays. */
function runs(defaultRuns: number): { numRuns: number; seed?: number } {
  const seed = process.env['ATOLL_SEED'];
  const numRuns = Number(process.env['ATOLL_RUNS'] ?? defaultRuns);
  return seed === undefined ? { numRuns } : { numRuns, seed: Number(seed) };
}

type Handle = ReturnType<typeof A.getBackend>;
type Value = string | number | boolean | null;

const ROOT = '_root';

function handle(actor: string): Handle {
  return A.getBackend(A.init<unknown>({ actor }));
}

/** `s` with lone surrogates as U+FFFD (`String.prototype.toWellFormed`, not in the ES2023 lib). */
function wellFormed(s: string): string {
  return (s as string & { toWellFormed(): string }).toWellFormed();
}

/** Automerge's order of op ids: by counter, then by actor. */
function byOpId(a: string, b: string): number {
  const [ca, aa] = a.split('@') as [string, string];
  const [cb, ab] = b.split('@') as [string, string];
  return Number(ca) - Number(cb) || (aa < ab ? -1 : aa > ab ? 1 : 0);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An operation the test asks of Automerge: a put (with or without a datatype) or a delete. */
type Intent = { key: string; kind: 'put'; value: Value; datatype: WriteDatatype | undefined } | { key: string; kind: 'del' };

/** The ids of a root field's current values, as Automerge reports them. */
function idsOf(h: Handle, key: string): string[] {
  return (h.getAll(ROOT, key) ?? []).map((entry) => String(entry[entry.length - 1]));
}

/**
 * What the store knows before a local change: the inputs of `writeChange` but the operations.
 * Automerge's dependencies are the heads and the actor's own last change (`ownLast`), which is
 * not a head when changes made on top of it elsewhere have been merged.
 */
function header(h: Handle, actor: string, seq: number, time: number, ownLast: string | undefined): Omit<ChangeToWrite, 'ops'> {
  const heads = h.getHeads();
  let maxOp = 0;
  for (const head of heads) maxOp = Math.max(maxOp, h.getChangeMetaByHash(head)?.maxOp ?? 0);
  const deps = ownLast === undefined || heads.includes(ownLast) ? heads : [...heads, ownLast];
  return { actor, seq, startOp: maxOp + 1, time, deps };
}

interface Made {
  /** Automerge's chunk and hash (`null` when it made no change). */
  expected: { bytes: Uint8Array; hash: string } | null;
  /** The same change for the writer: predecessors read from Automerge before each operation. */
  change: ChangeToWrite;
  /** Puts Automerge wrote as deletes (of the values other than the one already put). */
  rewritten: number;
}

/**
 * Applies `intents` to `h` as one local change and commits it, recording for the writer the
 * operations Automerge made. Automerge leaves some out (a put of the value a field already holds
 * alone, a delete of a field with no value) and writes a put of a value a conflicted field
 * already holds as a delete of the other values; the record follows what it did, which the
 * test checks against Automerge's own decoding of its change.
 */
function commitBoth(h: Handle, actor: string, seq: number, time: number, intents: readonly Intent[], ownLast?: string): Made {
  const head = header(h, actor, seq, time, ownLast);
  const ops: WriteOp[] = [];
  let rewritten = 0;
  for (const intent of intents) {
    const before = idsOf(h, intent.key);
    const pending = h.pendingOps();
    if (intent.kind === 'del') h.delete(ROOT, intent.key);
    else if (intent.datatype === undefined) h.put(ROOT, intent.key, intent.value);
    else h.put(ROOT, intent.key, intent.value, intent.datatype);
    if (h.pendingOps() === pending) continue;
    const id = `${head.startOp + ops.length}@${actor}`;
    const after = idsOf(h, intent.key);
    if (intent.kind === 'put' && after.includes(id)) {
      const op: WriteOp = { key: intent.key, action: 'set', value: intent.value, pred: before };
      ops.push(intent.datatype === undefined ? op : { ...op, datatype: intent.datatype });
    } else {
      if (intent.kind === 'put') rewritten++;
      ops.push({ key: intent.key, action: 'del', pred: before.filter((p) => !after.includes(p)) });
    }
  }
  const hash = h.commit(null, time);
  const bytes = h.getLastLocalChange();
  const expected = hash === null || bytes === null ? null : { bytes, hash };
  return { expected, change: { ...head, ops }, rewritten };
}

/** Checks the writer against Automerge's change, and that the written chunk is a change Automerge takes. */
function agree(made: Made, copy?: Handle, original?: Handle): void {
  const { expected, change } = made;
  if (expected === null) {
    expect(change.ops).toHaveLength(0);
    return;
  }
  // The test recorded what Automerge did.
  const decoded = A.decodeChange(expected.bytes);
  expect({ seq: decoded.seq, startOp: decoded.startOp, deps: [...decoded.deps].sort() }).toStrictEqual({ seq: change.seq, startOp: change.startOp, deps: [...change.deps].sort() });
  expect(decoded.ops.map((op) => ({ key: op.key, action: op.action, pred: [...op.pred].sort() }))).toStrictEqual(change.ops.map((op) => ({ key: wellFormed(op.key), action: op.action, pred: [...op.pred].sort() })));

  const written = writeChange(change);
  expect(toHex(written.bytes)).toBe(toHex(expected.bytes));
  expect(written.hash).toBe(expected.hash);
  // Whatever the order of the dependencies and predecessors given.
  const reversed = writeChange({ ...change, deps: [...change.deps].reverse(), ops: change.ops.map((op) => ({ ...op, pred: [...op.pred].reverse() })) });
  expect(reversed.hash).toBe(expected.hash);
  // Automerge decodes the chunk to the change given, and encodes that back to the same bytes
  // (not with a float: `encodeChange` reads its change through JSON, which loses NaN, the
  // infinities, -0 and the last bits of some floats).
  const read = A.decodeChange(written.bytes);
  expect({ ...read, ops: read.ops.map((op) => ({ key: op.key, action: op.action, pred: op.pred })) }).toStrictEqual({
    ops: change.ops.map((op) => ({ key: wellFormed(op.key), action: op.action, pred: [...op.pred].sort(byOpId) })),
    actor: change.actor,
    hash: written.hash,
    seq: change.seq,
    startOp: change.startOp,
    time: change.time,
    message: null,
    deps: [...change.deps].sort(),
  });
  if (change.ops.every((op) => op.datatype !== 'f64')) expect(toHex(A.encodeChange(read))).toBe(toHex(written.bytes));

  if (copy !== undefined && original !== undefined) {
    copy.applyChanges([written.bytes]);
    expect(copy.getHeads()).toStrictEqual([written.hash]);
    expect(copy.materialize(ROOT)).toStrictEqual(original.materialize(ROOT));
    for (const key of new Set(change.ops.map((op) => op.key))) expect(copy.getAll(ROOT, key)).toStrictEqual(original.getAll(ROOT, key));
  }
}

// --- Arbitraries --------------------------------------------------------------------------

const actorId = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 16, maxLength: 16 }) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 5, maxLength: 40 }) },
).map(toHex);

/** An actor id, sometimes one of a few that are prefixes of one another (the order of actors is by bytes). */
const someActor = fc.oneof({ weight: 4, arbitrary: actorId }, { weight: 1, arbitrary: fc.constantFrom('00', '0000', '00'.repeat(16), 'ff', 'ff00', 'fe'.repeat(16)) });

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 30, maxLength: 300 }) },
  { weight: 3, arbitrary: fc.constantFrom('', 'x', 'é', '😀', '\uFEFF', '\uD800', 'a\uDC00b', '\uD83D', 'ключ'.repeat(20), 'x'.repeat(127), 'y'.repeat(128)) },
);

const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('a', 'b', 'c', '', 'é', '😀', '\uD800', '\uDC00', 'long'.repeat(12)) }, { weight: 1, arbitrary: text });

const int = fc.oneof(
  fc.integer(),
  fc.integer({ min: -200, max: 200 }),
  fc.maxSafeInteger(),
  fc.constantFrom(0, -0, 1, -1, 63, 64, -64, -65, 2 ** 31, -(2 ** 31), 2 ** 32, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
);

const float = fc.oneof(fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 1.5, 3, Number.MIN_VALUE, Number.MAX_VALUE, 1e300));

const put: fc.Arbitrary<{ value: Value; datatype: WriteDatatype | undefined }> = fc.oneof(
  fc.record({ value: text, datatype: fc.constant('str' as const) }),
  fc.record({ value: int, datatype: fc.constant('int' as const) }),
  fc.record({ value: float, datatype: fc.constant('f64' as const) }),
  fc.record({ value: fc.boolean(), datatype: fc.constant('boolean' as const) }),
  fc.record({ value: fc.constant(null), datatype: fc.constant('null' as const) }),
  // Without a datatype: a string, boolean or null is itself (a number needs its datatype).
  fc.record({ value: fc.oneof(text, fc.boolean(), fc.constant(null)), datatype: fc.constant(undefined) }),
  // Few values, so that runs form in the value columns.
  fc.record({ value: fc.constantFrom('v', 'w'), datatype: fc.constant('str' as const) }),
  fc.record({ value: fc.constantFrom(1, 2), datatype: fc.constant('int' as const) }),
);

const intent: fc.Arbitrary<Intent> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(key, put).map(([k, p]): Intent => ({ key: k, kind: 'put', ...p })) },
  { weight: 1, arbitrary: key.map((k): Intent => ({ key: k, kind: 'del' })) },
);

type Step = { kind: 'edit'; replica: number; intents: Intent[] } | { kind: 'merge'; into: number; from: number };

const step = (replicas: number): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('edit' as const), replica: fc.nat(replicas - 1), intents: fc.array(intent, { minLength: 1, maxLength: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('merge' as const), into: fc.nat(replicas - 1), from: fc.nat(replicas - 1) }) },
  );

const time = fc.oneof(fc.constantFrom(0, 1_700_000_000, -1, 2 ** 31, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER), fc.integer(), fc.maxSafeInteger());

const scenario = fc
  .uniqueArray(someActor, { minLength: 1, maxLength: 4 })
  .chain((actors) =>
    fc.record({
      actors: fc.constant(actors),
      history: fc.array(step(actors.length), { maxLength: 14 }),
      local: fc.nat(actors.length - 1),
      // The replicas merged into the local one before its change: concurrent values, conflicts.
      merged: fc.subarray(actors.map((_, i) => i)),
      intents: fc.array(intent, { minLength: 1, maxLength: 12 }),
      time,
    }),
  );

/** Plays a history on one replica per actor; returns the replicas, each actor's number of changes and last change. */
function play(actors: readonly string[], history: readonly Step[]): { replicas: Handle[]; seqs: number[]; lasts: (string | undefined)[] } {
  const replicas = actors.map(handle);
  const seqs = actors.map(() => 0);
  const lasts: (string | undefined)[] = actors.map(() => undefined);
  let t = 1_600_000_000;
  for (const s of history) {
    if (s.kind === 'merge') {
      if (s.into !== s.from) (replicas[s.into] as Handle).merge(replicas[s.from] as Handle);
      continue;
    }
    const h = replicas[s.replica] as Handle;
    const made = commitBoth(h, actors[s.replica] as string, (seqs[s.replica] as number) + 1, t++, s.intents, lasts[s.replica]);
    if (made.expected !== null) {
      seqs[s.replica]!++;
      lasts[s.replica] = made.expected.hash;
    }
    agree(made);
  }
  return { replicas, seqs, lasts };
}

// --- Tests --------------------------------------------------------------------------------

describe('writeChange', () => {
  it('writes the bytes and hash Automerge writes, for any local change of root puts and deletes over any history (property)', () => {
    let conflicted = 0;
    let otherActors = 0;
    let skipped = 0;
    let ownLastNotHead = 0;
    const params = runs(300);
    fc.assert(
      fc.property(scenario, ({ actors, history, local, merged, intents, time }) => {
        const { replicas, seqs, lasts } = play(actors, history);
        const h = replicas[local] as Handle;
        for (const i of merged) if (i !== local) h.merge(replicas[i] as Handle);
        const copy = h.clone();
        const made = commitBoth(h, actors[local] as string, (seqs[local] as number) + 1, time, intents, lasts[local]);
        if (made.change.deps.length > h.getHeads().length) ownLastNotHead++;
        agree(made, copy, h);
        if (made.change.ops.some((op) => op.pred.length > 1)) conflicted++;
        if (made.change.ops.some((op) => op.pred.some((p) => !p.endsWith(`@${actors[local]}`)))) otherActors++;
        skipped += intents.length - made.change.ops.length;
        for (const r of [...replicas, copy]) r.free();
      }),
      params,
    );
    // The property reached what matters: fields with conflicts, other actors' predecessors, and
    // operations Automerge leaves out.
    if (params.numRuns >= 300) {
      expect(conflicted).toBeGreaterThan(5);
      expect(otherActors).toBeGreaterThan(20);
      expect(skipped).toBeGreaterThan(0);
      expect(ownLastNotHead).toBeGreaterThan(0);
    }
  });

  it('writes the bytes of changes of every scalar type into a fresh document (property)', () => {
    fc.assert(
      fc.property(actorId, fc.array(intent, { minLength: 1, maxLength: 20 }), time, (actor, intents, t) => {
        const h = handle(actor);
        agree(commitBoth(h, actor, 1, t, intents));
        h.free();
      }),
      runs(300),
    );
  });

  it('writes the empty change Automerge writes for no operations', () => {
    for (const [actor, time] of [
      ['aaaa', 0],
      ['0123456789abcdef0123456789abcdef', 1_700_000_000],
      ['ff', -5],
    ] as const) {
      const h = handle(actor);
      h.put(ROOT, 'a', 'x');
      h.commit(null, 1);
      const head = header(h, actor, 2, time, undefined);
      const hash = h.emptyChange(null, time);
      const written = writeChange({ ...head, ops: [] });
      expect(toHex(written.bytes)).toBe(toHex(h.getLastLocalChange() as Uint8Array));
      expect(written.hash).toBe(hash);
      const fresh = handle(actor);
      const freshHash = fresh.emptyChange(null, time);
      expect(writeChange({ actor, seq: 1, startOp: 1, time, deps: [], ops: [] }).hash).toBe(freshHash);
    }
  });

  it('writes times of 0, a typical second, and the largest and smallest safe integers', () => {
    for (const time of [0, 1_700_000_000, 63, 64, -64, -65, 2 ** 35, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      const h = handle('abcdef');
      agree(commitBoth(h, 'abcdef', 1, time, [{ key: 't', kind: 'put', value: time, datatype: 'int' }]));
    }
  });

  it('writes changes late in a long history: sequence numbers and counters of several bytes, many dependencies', () => {
    const actor = 'a1'.repeat(16);
    const h = handle(actor);
    // Counters into the thousands (several LEB128 bytes), in one change.
    for (let i = 0; i < 3000; i++) h.put(ROOT, `f${i % 50}`, i, 'int');
    h.commit(null, 1);
    let seq = 1;
    // Sequence numbers past 127.
    for (; seq < 200; ) {
      agree(commitBoth(h, actor, ++seq, 1_700_000_000 + seq, [{ key: `f${seq % 50}`, kind: 'put', value: `v${seq}`, datatype: 'str' }]));
    }
    const ownLast = h.getHeads()[0];
    // Many heads: concurrent changes of other actors, merged in.
    const peers = ['00', 'ffff', '7f'.repeat(16), '80', '0001'].map((peer) => {
      const p = handle(peer);
      p.merge(h);
      p.put(ROOT, 'f1', peer);
      p.put(ROOT, 'f2', peer);
      p.commit(null, 5);
      return p;
    });
    for (const p of peers) h.merge(p);
    expect(h.getHeads()).toHaveLength(peers.length);
    const made = commitBoth(h, actor, ++seq, 1_800_000_000, [
      { key: 'f1', kind: 'put', value: 'mine', datatype: 'str' },
      { key: 'f2', kind: 'del' },
      { key: 'f1', kind: 'put', value: 2.5, datatype: 'f64' },
      { key: 'new', kind: 'put', value: null, datatype: 'null' },
    ], ownLast);
    // The actor's last change is a dependency although it is no head any more.
    expect(made.change.deps).toHaveLength(peers.length + 1);
    expect(made.change.startOp).toBeGreaterThan(3000);
    expect(made.change.ops[0]?.pred).toHaveLength(peers.length);
    agree(made);
  });

  it('writes a change of more than 10000 operations (Automerge encodes those row by row)', () => {
    const h = handle('5eed');
    for (let i = 0; i < 300; i++) h.put(ROOT, `k${i}`, 'initial');
    h.commit(null, 0);
    const intents: Intent[] = [];
    // Every operation one Automerge makes: no put of the value a field holds, no delete of nothing.
    for (let i = 0; i < 10_050; i++) intents.push(i % 7 === 3 ? { key: `k${i % 300}`, kind: 'del' } : { key: `k${i % 300}`, kind: 'put', value: i % 5 === 0 ? `s${i}` : i, datatype: i % 5 === 0 ? 'str' : 'int' });
    const made = commitBoth(h, '5eed', 2, 0, intents);
    expect(made.change.ops).toHaveLength(10_050);
    agree(made);
  });

  it('writes what Automerge makes of a put of the value a conflicted field already holds: a delete of the other values', () => {
    for (const [mine, theirs, again] of [
      ['same', 'same', 'same'],
      ['x', 'same', 'same'],
      ['same', 'x', 'same'],
      ['x', 'y', 'y'],
    ] as const) {
      const a = handle('aa');
      const c = handle('cc');
      a.put(ROOT, 'k', mine);
      a.commit(null, 0);
      c.put(ROOT, 'k', theirs);
      c.commit(null, 0);
      a.merge(c);
      const own = a.getHeads().find((h) => a.getChangeMetaByHash(h)?.actor === 'aa');
      const made = commitBoth(a, 'aa', 2, 0, [{ key: 'k', kind: 'put', value: again, datatype: 'str' }], own);
      // The winner (the larger actor, cc) holding the value makes the put a delete of the rest.
      expect(made.rewritten).toBe(theirs === again ? 1 : 0);
      agree(made);
    }
  });

  it('writes floats as their bits: NaN payloads, negative NaN, -0', () => {
    const bits = [0x7ff8000000000000n, 0x7ff8000000000123n, 0xfff8000000000000n, 0x7ff0000000000001n, 0x8000000000000000n, 0x0000000000000001n];
    const view = new DataView(new ArrayBuffer(8));
    const h = handle('f10a');
    const intents = bits.map((b, i): Intent => {
      view.setBigUint64(0, b);
      return { key: `f${i}`, kind: 'put', value: view.getFloat64(0), datatype: 'f64' };
    });
    agree(commitBoth(h, 'f10a', 1, 0, intents));
  });

  it('writes lone surrogates as U+FFFD, as Automerge receives them, so two such keys are one run', () => {
    const h = handle('5a');
    agree(
      commitBoth(h, '5a', 1, 0, [
        { key: '\uD800', kind: 'put', value: 'a\uDC00', datatype: 'str' },
        { key: '\uDC00', kind: 'put', value: '\uD83D'.repeat(40), datatype: 'str' },
        { key: 'x\uDBFF', kind: 'put', value: 1, datatype: 'int' },
        { key: 'x\uFFFD', kind: 'put', value: 2, datatype: 'int' },
      ]),
    );
  });

  it('is unaffected by the order of the dependencies and predecessors it is given', () => {
    const a = handle('aa');
    const b = handle('bbbb');
    const c = handle('0c');
    for (const [h, v] of [[a, 'a'], [b, 'b'], [c, 'c']] as const) {
      h.put(ROOT, 'k', v);
      h.commit(null, 0);
    }
    a.merge(b);
    a.merge(c);
    const made = commitBoth(a, 'aa', 2, 0, [{ key: 'k', kind: 'put', value: 'a2', datatype: 'str' }]);
    const expected = made.expected as { bytes: Uint8Array; hash: string };
    const { change } = made;
    const reversed: ChangeToWrite = { ...change, deps: [...change.deps].reverse(), ops: change.ops.map((op) => ({ ...op, pred: [...op.pred].reverse() })) };
    expect(change.deps).toHaveLength(3);
    expect(writeChange(reversed).hash).toBe(expected.hash);
  });

  it('writes the pinned bytes of known changes', () => {
    // Made by @automerge/automerge 3.5: a change of another encoding would need a new hash.
    const first = writeChange({ actor: 'aaaa', seq: 1, startOp: 1, time: 0, deps: [], ops: [{ key: 'a', action: 'set', value: 'x', datatype: 'str', pred: [] }] });
    expect(first.hash).toBe('98a0de0dd4bbeecfd3db4b95f8fa2797321ac9eebd4c4a96880a106362359364');
    // magic, checksum, type 1, length 33; no dependencies, actor aaaa, seq 1, start op 1, time 0,
    // no message, no other actors; six columns (key, insert, action, value metadata, value,
    // predecessor count) and their data.
    expect(toHex(first.bytes)).toBe('856f4a83' + '98a0de0d' + '01' + '21' + '00' + '02aaaa' + '01' + '01' + '00' + '00' + '00' + '06' + '1503' + '3401' + '4202' + '5602' + '5701' + '7002' + '7f0161' + '01' + '7f01' + '7f16' + '78' + '7f00');
    const second = writeChange({
      actor: 'aaaa',
      seq: 2,
      startOp: 2,
      time: 0,
      deps: [first.hash],
      ops: [
        { key: 'a', action: 'set', value: 'y', datatype: 'str', pred: ['1@aaaa'] },
        { key: 'a', action: 'del', pred: ['2@aaaa'] },
      ],
    });
    expect(second.hash).toBe('3aedf5b9af04298e8516a1525825d1414c07ab76f211f98cd96246878df196e1');
    // Predecessor actor and counter columns now; key, action and value metadata runs.
    expect(toHex(second.bytes)).toBe(
      '856f4a833aedf5b9014b01' + first.hash + '02aaaa0202000000' + '08' + '1503340142035603570170027102730202' + '0161' + '02' + '7e0103' + '7e1600' + '79' + '0201' + '0200' + '0201',
    );
    const conflict = writeChange({
      actor: '0a0b0c',
      seq: 1,
      startOp: 3,
      time: 0,
      deps: ['82a0459c7fed0c168b9818ff98776e7ad5a8f4f617311e9a9c425605b9cb9ec8', '1a25af13a098e4a46b26f728da905d931cee9c722a754fa2fde110c4b7a2a2f2', '374b83516ababe80697ed352ab5c858483d25826e250c0e13e456eecc8f20ff0'],
      ops: [
        { key: 'k', action: 'set', value: 'mine', datatype: 'str', pred: ['2@aa00', '1@ff', '1@00'] },
        { key: 'j', action: 'del', pred: ['2@00'] },
        { key: 'k', action: 'set', value: 'again', datatype: 'str', pred: ['3@0a0b0c'] },
      ],
    });
    expect(conflict.hash).toBe('05c1e1a42a7adfa372da17b4b557e4e8e4cacf8f58f3fe2fbb5237545e89e787');
  });

  it('writes a change that Automerge decodes to what was given, encodes back to the same bytes, and keeps through save and load', () => {
    const h = handle('cafe');
    h.put(ROOT, 'a', 'x');
    h.put(ROOT, 'b', 1, 'int');
    h.commit(null, 0);
    const change: ChangeToWrite = {
      actor: 'cafe',
      seq: 2,
      startOp: 3,
      time: 1_700_000_000,
      deps: h.getHeads(),
      ops: [
        { key: 'a', action: 'set', value: -0.5, datatype: 'f64', pred: ['1@cafe'] },
        { key: 'b', action: 'del', pred: ['2@cafe'] },
        { key: 'c', action: 'set', value: true, datatype: 'boolean', pred: [] },
        { key: '😀', action: 'set', value: -300, datatype: 'int', pred: [] },
      ],
    };
    const { bytes, hash } = writeChange(change);
    const decoded = A.decodeChange(bytes);
    expect(decoded).toMatchObject({ actor: 'cafe', seq: 2, startOp: 3, time: 1_700_000_000, message: null, deps: change.deps, hash });
    expect(decoded.ops).toStrictEqual([
      { action: 'set', obj: ROOT, key: 'a', datatype: 'float64', value: -0.5, pred: ['1@cafe'] },
      { action: 'del', obj: ROOT, key: 'b', pred: ['2@cafe'] },
      { action: 'set', obj: ROOT, key: 'c', value: true, pred: [] },
      { action: 'set', obj: ROOT, key: '😀', datatype: 'int', value: -300, pred: [] },
    ]);
    expect(toHex(A.encodeChange(decoded))).toBe(toHex(bytes));
    h.applyChanges([bytes]);
    expect(h.getHeads()).toStrictEqual([hash]);
    expect(h.materialize(ROOT)).toStrictEqual({ a: -0.5, c: true, '😀': -300 });
    const reloaded = A.load<unknown>(A.save(A.load<unknown>(h.save())));
    expect(A.getHeads(reloaded)).toStrictEqual([hash]);
    expect(A.getAllChanges(reloaded).map(toHex)).toContain(toHex(bytes));
  });

  it('writes a change depending on the heads alone, which Automerge takes and keeps (its own would add the author\'s last change)', () => {
    const a = handle('aa');
    a.put(ROOT, 'k', 'a1');
    const own = a.commit(null, 0) as string;
    const b = handle('bb');
    b.merge(a);
    b.put(ROOT, 'k', 'b1');
    b.commit(null, 0);
    a.merge(b);
    const heads = a.getHeads();
    expect(heads).not.toContain(own);
    const { bytes, hash } = writeChange({ actor: 'aa', seq: 2, startOp: 3, time: 0, deps: heads, ops: [{ key: 'k', action: 'set', value: 'a2', datatype: 'str', pred: ['2@bb'] }] });
    const automerge = commitBoth(a.clone(), 'aa', 2, 0, [{ key: 'k', kind: 'put', value: 'a2', datatype: 'str' }], own);
    expect(automerge.expected?.hash).not.toBe(hash);
    a.applyChanges([bytes]);
    expect(a.getHeads()).toStrictEqual([hash]);
    expect(a.getAll(ROOT, 'k')).toStrictEqual([['str', 'a2', '3@aa']]);
    const reloaded = A.load<unknown>(A.save(A.load<unknown>(a.save())));
    expect(A.getHeads(reloaded)).toStrictEqual([hash]);
    expect(A.getAllChanges(reloaded).map(toHex)).toContain(toHex(bytes));
  });

  it('refuses input outside the shape with a TypeError', () => {
    const good: ChangeToWrite = { actor: 'abcd', seq: 1, startOp: 1, time: 0, deps: [], ops: [{ key: 'a', action: 'set', value: 'x', datatype: 'str', pred: [] }] };
    expect(() => writeChange(good)).not.toThrow();
    const op = (o: Partial<Record<keyof WriteOp, unknown>>): ChangeToWrite => ({ ...good, ops: [{ ...good.ops[0], ...o } as WriteOp] });
    const bad: [string, ChangeToWrite][] = [
      ['an empty actor', { ...good, actor: '' }],
      ['an actor of odd length', { ...good, actor: 'abc' }],
      ['an actor in uppercase', { ...good, actor: 'ABCD' }],
      ['an actor that is not hex', { ...good, actor: 'zz' }],
      ['seq 0', { ...good, seq: 0 }],
      ['a fractional seq', { ...good, seq: 1.5 }],
      ['start op 0', { ...good, startOp: 0 }],
      ['counters reaching 2^32', { ...good, startOp: 2 ** 32 }],
      ['a fractional time', { ...good, time: 1.5 }],
      ['a time beyond safe integers', { ...good, time: 2 ** 60 }],
      ['a NaN time', { ...good, time: NaN }],
      ['a short dependency', { ...good, deps: ['abcd'] }],
      ['a dependency in uppercase', { ...good, deps: ['A'.repeat(64)] }],
      ['a dependency twice', { ...good, deps: ['a'.repeat(64), 'a'.repeat(64)] }],
      ['a key that is not a string', op({ key: 5 })],
      ['an unknown action', op({ action: 'inc' })],
      ['an unknown datatype', op({ datatype: 'counter', value: 1 })],
      ['a string as an int', op({ datatype: 'int', value: 'x' })],
      ['a fractional int', op({ datatype: 'int', value: 1.5 })],
      ['an int beyond safe integers', op({ datatype: 'int', value: 2 ** 53 })],
      ['a NaN int', op({ datatype: 'int', value: NaN })],
      ['a number as a string', op({ datatype: 'str', value: 5 })],
      ['a number as a boolean', op({ datatype: 'boolean', value: 1 })],
      ['a string as null', op({ datatype: 'null', value: 'x' })],
      ['a put without a value', op({ datatype: undefined, value: undefined })],
      ['a number without a datatype', op({ datatype: undefined, value: 1 })],
      ['a delete with a value', op({ action: 'del', pred: ['1@abcd'] })],
      ['a delete of nothing', op({ action: 'del', value: undefined, datatype: undefined, pred: [] })],
      ['a predecessor that is not an op id', op({ pred: ['abcd'] })],
      ['a predecessor with counter 0', op({ pred: ['0@abcd'] })],
      ['a predecessor with a leading zero', op({ pred: ['01@abcd'] })],
      ['a predecessor with a bad actor', op({ pred: ['1@xyz'] })],
      ['a predecessor with an empty actor', op({ pred: ['1@'] })],
      ['a predecessor not before the operation', { ...op({ pred: ['5@abcd'] }), startOp: 5 }],
      ['a predecessor twice', { ...op({ pred: ['1@ab', '1@ab'] }), startOp: 5 }],
    ];
    for (const [name, change] of bad) expect(() => writeChange(change), name).toThrow(TypeError);
  });
});
