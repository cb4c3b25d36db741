// How a StorageKey becomes the BLOB primary key, so that SQLite's index order is exactly
// `compareStorageKeys` and a prefix query is one index range scan.
//
// SQLite compares BLOBs with memcmp. Plain UTF-8 would sort by code point, which is not the
// UTF-16 code-unit order that JavaScript (and `compareStorageKeys`) uses: '🌴' (U+1F334,
// surrogates D83C DF34) sorts before '\uFFFD' in JS but after it in UTF-8. UTF-8 also cannot
// carry a lone surrogate, which a JS string segment may contain.
//
// So each UTF-16 code unit is encoded on its own, with the UTF-8 bit layout for its 16-bit
// value (1 to 3 bytes; this is CESU-8, extended to lone surrogates). The UTF-8 layout is
// order-preserving and prefix-free, so memcmp over the bytes is code-unit order over the
// string. Each segment ends with a 0x00 byte: segments never contain NUL, and no other code
// unit encodes to a 0x00 byte, so the terminator sorts below any continuation of the segment
// ("a" < "ab") and a shorter key sorts before a longer one sharing its segments. A prefix of
// whole segments is then a byte prefix, which is what makes range bounds exact.

import { StorageError, type StorageKey } from '@atoll/store';

const TERMINATOR = 0x00;

function encodedLength(key: StorageKey): number {
  let n = 0;
  for (const segment of key) {
    n += segment.length + 1;
    for (let i = 0; i < segment.length; i++) {
      const u = segment.charCodeAt(i);
      if (u >= 0x80) n += u >= 0x800 ? 2 : 1;
    }
  }
  return n;
}

function writeSegment(out: Uint8Array, at: number, segment: string): number {
  let p = at;
  for (let i = 0; i < segment.length; i++) {
    const u = segment.charCodeAt(i);
    if (u < 0x80) {
      out[p++] = u;
    } else if (u < 0x800) {
      out[p++] = 0xc0 | (u >> 6);
      out[p++] = 0x80 | (u & 0x3f);
    } else {
      out[p++] = 0xe0 | (u >> 12);
      out[p++] = 0x80 | ((u >> 6) & 0x3f);
      out[p++] = 0x80 | (u & 0x3f);
    }
  }
  out[p++] = TERMINATOR;
  return p;
}

/**
 * The order-preserving BLOB for a key. The key must already be valid (`checkStorageKey`):
 * a NUL inside a segment would break the order.
 */
export function encodeKey(key: StorageKey): Uint8Array {
  const out = new Uint8Array(encodedLength(key));
  let p = 0;
  for (const segment of key) p = writeSegment(out, p, segment);
  return out;
}

function fromCodeUnits(units: number[]): string {
  // Spread arguments have an engine limit; keys are short, but a long segment must not throw.
  const CHUNK = 8192;
  if (units.length <= CHUNK) return String.fromCharCode(...units);
  let s = '';
  for (let i = 0; i < units.length; i += CHUNK) s += String.fromCharCode(...units.slice(i, i + CHUNK));
  return s;
}

/** The key a BLOB from {@link encodeKey} stands for. Throws on bytes it could not have made. */
export function decodeKey(bytes: Uint8Array): string[] {
  const key: string[] = [];
  let units: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i++] as number;
    if (b === TERMINATOR) {
      key.push(fromCodeUnits(units));
      units = [];
    } else if (b < 0x80) {
      units.push(b);
    } else if (b >= 0xc0 && b < 0xe0 && i < bytes.length) {
      units.push(((b & 0x1f) << 6) | ((bytes[i++] as number) & 0x3f));
    } else if (b >= 0xe0 && b < 0xf0 && i + 1 < bytes.length) {
      units.push(((b & 0x0f) << 12) | (((bytes[i++] as number) & 0x3f) << 6) | ((bytes[i++] as number) & 0x3f));
    } else {
      throw new StorageError(`corrupt storage key: unexpected byte 0x${b.toString(16)} at ${i - 1}`);
    }
  }
  if (units.length > 0 || key.length === 0) throw new StorageError('corrupt storage key: missing segment terminator');
  return key;
}

/**
 * The half-open BLOB interval `[lower, upper)` holding exactly the keys `getRange(prefix,
 * { after })` returns. Keys under `prefix` are the BLOBs starting with `encodeKey(prefix)`,
 * which ends in the terminator 0x00; replacing that last byte with 0x01 gives the first BLOB
 * past all of them. With `after`, the lower bound is `prefix ‖ after ‖ 0x01`: it is above
 * `prefix ‖ after ‖ 0x00 ‖ …` (the segment equal to `after`, and anything deeper) and at or
 * below every next segment greater than `after`.
 */
export function rangeBounds(prefix: StorageKey, after: string | undefined): { lower: Uint8Array; upper: Uint8Array } {
  const p = encodeKey(prefix);
  const upper = p.slice();
  upper[upper.length - 1] = TERMINATOR + 1;
  if (after === undefined) return { lower: p, upper };
  // Segments hold no NUL, so "greater than `after`" equals "greater than the part of `after`
  // before its first NUL"; cutting there keeps the bound exact instead of rejecting the call.
  const nul = after.indexOf('\u0000');
  const cut = nul === -1 ? after : after.slice(0, nul);
  const lower = new Uint8Array(p.length + encodedLength([cut]));
  lower.set(p, 0);
  const end = writeSegment(lower, p.length, cut);
  lower[end - 1] = TERMINATOR + 1;
  return { lower, upper };
}
