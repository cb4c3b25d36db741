import { Buffer } from 'node:buffer';
import { compareStorageKeys, type StorageKey } from '@atoll/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, rangeBounds } from '../src/key-codec.js';
import { propertyParams } from './support.js';

const sign = (n: number) => Math.sign(n);
const memcmp = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b);

// Any UTF-16 code unit except NUL, lone surrogates included: JS strings can hold them.
const anyUnit = fc.integer({ min: 1, max: 0xffff }).map((u) => String.fromCharCode(u));
// A few units around the places where UTF-8 and UTF-16 orders part ways, so collisions and
// shared prefixes are frequent.
const trickyUnit = fc.constantFrom('a', 'b', '\u0001', '\u007f', '\u0080', 'é', '\u07ff', '\u0800', '\uD83C', '\uDF34', '\uDFFF', '\uE000', '\uFFFD', '\uFFFF');
const segment = fc.oneof(fc.string({ unit: anyUnit, minLength: 1, maxLength: 6 }), fc.string({ unit: trickyUnit, minLength: 1, maxLength: 3 }));
const key = fc.array(segment, { minLength: 1, maxLength: 4 });

/** What `getRange(prefix, { after })` must select, straight from the contract. */
function selects(k: StorageKey, prefix: StorageKey, after: string | undefined): boolean {
  if (k.length < prefix.length || prefix.some((s, i) => s !== k[i])) return false;
  if (after === undefined) return true;
  const next = k[prefix.length];
  return next !== undefined && next > after;
}

describe('key codec', () => {
  it('shows why plain UTF-8 would not do: it orders 🌴 after \\uFFFD, JavaScript before', () => {
    expect(compareStorageKeys(['🌴'], ['\uFFFD'])).toBeLessThan(0);
    expect(memcmp(Buffer.from('🌴', 'utf8'), Buffer.from('\uFFFD', 'utf8'))).toBeGreaterThan(0);
    expect(memcmp(encodeKey(['🌴']), encodeKey(['\uFFFD']))).toBeLessThan(0);
  });

  it('encodes ASCII as itself, each segment closed by a 0x00 byte', () => {
    expect([...encodeKey(['ab', 'c'])]).toEqual([0x61, 0x62, 0x00, 0x63, 0x00]);
  });

  it('round-trips every key, lone surrogates included', () => {
    fc.assert(
      fc.property(key, (k) => {
        expect(decodeKey(encodeKey(k))).toEqual(k);
      }),
      propertyParams(500),
    );
  });

  it('orders bytes exactly as compareStorageKeys orders keys', () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        expect(sign(memcmp(encodeKey(a), encodeKey(b)))).toBe(sign(compareStorageKeys(a, b)));
      }),
      propertyParams(1000),
    );
  });

  it('range bounds select exactly the keys under the prefix, past `after`', () => {
    // `after` is often built from the key's own next segment (equal, a prefix of it, or it
    // followed by a NUL), where an off-by-one in the bounds would show.
    const case_ = fc
      .tuple(key, key, fc.nat(4), fc.boolean(), fc.nat(4), segment, fc.nat(5))
      .map(([k, other, n, shared, mode, random, cut]) => {
        const prefix = shared ? k.slice(0, Math.max(1, Math.min(n, k.length))) : other.slice(0, Math.max(1, Math.min(n, other.length)));
        const next = k[prefix.length] ?? random;
        const after = [undefined, random, next, next.slice(0, cut), `${next.slice(0, cut)}\u0000${random}`][mode];
        return { k, prefix, after };
      });
    fc.assert(
      fc.property(case_, ({ k, prefix, after: a }) => {
        const { lower, upper } = rangeBounds(prefix, a);
        const enc = encodeKey(k);
        const inside = memcmp(enc, lower) >= 0 && memcmp(enc, upper) < 0;
        expect(inside).toBe(selects(k, prefix, a));
      }),
      propertyParams(2000),
    );
  });

  it('refuses bytes it could not have written', () => {
    expect(() => decodeKey(new Uint8Array([0x61]))).toThrow(/terminator/);
    expect(() => decodeKey(new Uint8Array([0xff, 0x00]))).toThrow(/unexpected byte/);
    expect(() => decodeKey(new Uint8Array([]))).toThrow(/terminator/);
  });
});
