import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChangesetSchema, DeliverySchema, parseChangeset } from '../src/index.js';
import { plainDelivery } from '../src/messages/replication.js';

const docKey = fc.oneof(
  fc.tuple(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,6}$/), fc.string({ minLength: 1, maxLength: 6 })).map(([c, id]) => `${c}/${id}`),
  fc.string({ maxLength: 10 }),
);
const part = fc.record(
  {
    key: docKey,
    changes: fc.array(fc.uint8Array({ maxLength: 4 }), { maxLength: 3 }),
    deleted: fc.constantFrom(true, undefined),
  },
  { requiredKeys: ['key', 'changes'] },
);
const changeset = fc.record(
  {
    id: fc.string({ maxLength: 6 }),
    origin: fc.string({ maxLength: 4 }),
    seq: fc.oneof(fc.integer({ min: -2, max: 50 }), fc.double(), fc.constant(2 ** 60)),
    time: fc.oneof(fc.integer(), fc.double()),
    hint: fc.string({ maxLength: 3 }),
    parts: fc.array(part, { maxLength: 3 }),
    manifest: fc.array(docKey, { maxLength: 3 }),
    extra: fc.anything(),
  },
  { requiredKeys: ['id', 'origin', 'seq', 'time', 'parts', 'manifest'] },
);
const validKey = fc.tuple(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,6}$/), fc.string({ minLength: 1, maxLength: 6 })).map(([c, id]) => `${c}/${id}`);
const valid = fc.record(
  {
    id: fc.string({ minLength: 3, maxLength: 6 }),
    origin: fc.string({ minLength: 1, maxLength: 4 }),
    seq: fc.integer({ min: 1, max: 50 }),
    time: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    hint: fc.string({ maxLength: 3 }),
    parts: fc.array(fc.record({ key: validKey, changes: fc.array(fc.uint8Array({ maxLength: 4 }), { minLength: 1, maxLength: 3 }), deleted: fc.constant(true) }, { requiredKeys: ['key', 'changes'] }), { maxLength: 3 }),
    manifest: fc.array(validKey, { minLength: 1, maxLength: 3 }),
    extra: fc.anything(),
  },
  { requiredKeys: ['id', 'origin', 'seq', 'time', 'parts', 'manifest'] },
);
/** A field of a changeset (or of its first part) replaced by any value at all. */
const mangled = fc.tuple(fc.oneof(valid, changeset), fc.constantFrom('id', 'origin', 'seq', 'time', 'hint', 'parts', 'manifest', 'part.key', 'part.changes', 'part.deleted'), fc.anything()).map(([cs, field, value]) => {
  if (!field.startsWith('part.')) return { ...cs, [field]: value };
  const [first, ...rest] = cs.parts;
  return { ...cs, parts: [{ ...(first ?? { key: 'a/b', changes: [new Uint8Array(1)] }), [field.slice(5)]: value }, ...rest] };
});

describe('parseChangeset', () => {
  it('parseChangeset agrees with ChangesetSchema: same verdict, same data (property)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(valid, changeset, mangled, fc.anything()), (input) => {
        const fast = parseChangeset(input);
        const schema = ChangesetSchema.safeParse(input);
        expect(fast.success).toBe(schema.success);
        if (fast.success && schema.success) {
          accepted++;
          expect(fast.data).toEqual(schema.data);
          expect(fast.data).not.toHaveProperty('extra');
        }
      }),
      { numRuns: 3000 },
    );
    // The generators must reach the accepting path, or the property says nothing of it.
    expect(accepted).toBeGreaterThan(100);
  });

  it('a copy: changing the input afterwards does not change what was parsed', () => {
    const input = { id: 'p:1', origin: 'p', seq: 1, time: 0, parts: [{ key: 'a/b', changes: [new Uint8Array([1])] }], manifest: ['a/b'] };
    const parsed = parseChangeset(input);
    if (!parsed.success) throw new Error('expected a valid changeset');
    input.parts[0]!.changes.push(new Uint8Array([2]));
    input.manifest.push('a/c');
    expect(parsed.data.parts[0]!.changes).toHaveLength(1);
    expect(parsed.data.manifest).toEqual(['a/b']);
  });
});

// Deliveries near the rules' edges: keys from a small pool so that duplicates and missing
// accounts happen often; every field also replaced by anything at all.
const pooledKey = fc.constantFrom('a/1', 'a/2', 'b/x', 'c/y', 'bad');
const delivery = fc
  .record({
    via: fc.oneof({ weight: 9, arbitrary: fc.constantFrom('log', 'backfill', 'want') }, { weight: 1, arbitrary: fc.constant('other') }),
    pos: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 5 }) }, { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -1, max: 0 }), fc.double()) }),
    durable: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.integer({ min: 0, max: 6 }) }, { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -1, max: 0 }), fc.double()) }),
    tx: fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: changeset }),
    manifest: fc.uniqueArray(pooledKey, { maxLength: 4 }),
    extraKeys: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(pooledKey, { maxLength: 2 }) }),
    redacted: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 1, arbitrary: fc.integer({ min: -1, max: 10_001 }) }),
    split: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    reason: fc.oneof({ weight: 9, arbitrary: fc.constantFrom('not-subscribed', 'not-held', 'too-large') }, { weight: 1, arbitrary: fc.constant('nope') }),
    changes: fc.array(fc.uint8Array({ maxLength: 3 }), { minLength: 1, maxLength: 2 }),
  })
  .map(({ via, pos, durable, tx, manifest, extraKeys, redacted, split, reason, changes }) => {
    const keys = [...manifest, ...extraKeys];
    return {
      type: 'delivery',
      via,
      pos,
      ...(durable === undefined ? {} : { durable }),
      tx: { id: tx.id, origin: tx.origin, seq: tx.seq, time: tx.time, ...(tx.hint === undefined ? {} : { hint: tx.hint }) },
      manifest,
      redacted,
      parts: keys.filter((_, i) => split[i % 4]).map((key) => ({ key, changes })),
      omitted: keys.filter((_, i) => !split[i % 4]).map((key) => ({ key, reason })),
    };
  });
const mangledDelivery = fc.tuple(delivery, fc.constantFrom('type', 'via', 'pos', 'durable', 'tx', 'manifest', 'redacted', 'parts', 'omitted'), fc.anything()).map(([d, field, value]) => ({ ...d, [field]: value }));

describe('plainDelivery', () => {
  it('plainDelivery agrees with DeliverySchema: it accepts only what the schema accepts, with the same data (property)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(delivery, mangledDelivery), (input) => {
        const plain = plainDelivery(input);
        const schema = DeliverySchema.safeParse(input);
        if (plain) {
          accepted++;
          expect(schema.success).toBe(true);
          expect(plain).toEqual(schema.data);
        } else {
          // What the plain check turns down the schema decides; a valid message it turns down
          // would only be slower, but it must stay rare or the fast path is not one.
          if (schema.success) throw new Error(`plainDelivery turned down a valid delivery: ${JSON.stringify(input)}`);
        }
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });
});
