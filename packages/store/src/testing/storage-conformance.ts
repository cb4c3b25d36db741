import { afterEach, describe, expect, it } from 'vitest';
import { StorageError, type StorageAdapter, type StorageKey } from '../storage/adapter.js';

/** How the conformance suite creates and reopens the adapter under test. */
export interface StorageAdapterHarness {
  /** A fresh, empty adapter. */
  open(): Promise<StorageAdapter>;
  /** A new adapter onto the data of `previous`, which the suite has already closed. */
  reopen(previous: StorageAdapter): Promise<StorageAdapter>;
  /** Removes what `open` created. Called after each test with the last adapter. */
  destroy?(adapter: StorageAdapter): Promise<void>;
}

const bytes = (...xs: number[]) => new Uint8Array(xs);
const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
/** Index of the first differing byte, or -1 (toEqual is far too slow on megabytes). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}
const keysOf = (entries: readonly { key: StorageKey }[]) => entries.map((e) => e.key.join('/'));

/**
 * The behaviour every {@link StorageAdapter} must have. Call it from a test file of the
 * adapter's package:
 *
 * @example
 * runStorageAdapterTests('sqlite', {
 *   open: async () => SqliteStorageAdapter.open(tmpFile()),
 *   reopen: async (prev) => SqliteStorageAdapter.open(pathOf(prev)),
 * });
 */
export function runStorageAdapterTests(name: string, harness: StorageAdapterHarness): void {
  describe(`StorageAdapter conformance: ${name}`, () => {
    let current: StorageAdapter | undefined;
    const open = async () => (current = await harness.open());
    const reopen = async (prev: StorageAdapter) => {
      await prev.close();
      return (current = await harness.reopen(prev));
    };
    afterEach(async () => {
      if (current) {
        await current.close();
        await harness.destroy?.(current);
        current = undefined;
      }
    });

    it('reads nothing from an empty store', async () => {
      const s = await open();
      expect(await s.get(['nope'])).toBeUndefined();
      expect(await s.getRange(['nope'])).toEqual([]);
    });

    it('stores copies: changing a buffer after writing or reading it changes nothing', async () => {
      const s = await open();
      const value = bytes(1, 2, 3);
      await s.write({ put: [{ key: ['k'], value }] });
      value[0] = 99;
      const read = await s.get(['k']);
      expect(read).toEqual(bytes(1, 2, 3));
      read![1] = 99;
      expect(await s.get(['k'])).toEqual(bytes(1, 2, 3));
    });

    it('overwrites and deletes', async () => {
      const s = await open();
      await s.write({ put: [{ key: ['doc', 'a'], value: text('one') }] });
      await s.write({ put: [{ key: ['doc', 'a'], value: text('two') }] });
      expect(decode(await s.get(['doc', 'a']))).toBe('two');
      await s.write({ delete: [['doc', 'a'], ['doc', 'never-existed']] });
      expect(await s.get(['doc', 'a'])).toBeUndefined();
    });

    it('matches prefixes by whole segments, never a sibling like a/sync vs a/sync-state', async () => {
      const s = await open();
      const keys: StorageKey[] = [['a', 'sync'], ['a', 'sync', '1'], ['a', 'sync', '2', 'x'], ['a', 'sync-state'], ['a', 'sync-state', '1'], ['a', 'syn'], ['ab', 'sync'], ['b']];
      await s.write({ put: keys.map((key, i) => ({ key, value: bytes(i) })) });
      expect(keysOf(await s.getRange(['a', 'sync']))).toEqual(['a/sync', 'a/sync/1', 'a/sync/2/x']);
      expect(keysOf(await s.getRange(['a', 'sync-state']))).toEqual(['a/sync-state', 'a/sync-state/1']);
      expect(keysOf(await s.getRange(['a']))).toEqual(['a/syn', 'a/sync', 'a/sync/1', 'a/sync/2/x', 'a/sync-state', 'a/sync-state/1']);
      expect(keysOf(await s.getRange(['ab']))).toEqual(['ab/sync']);
    });

    it('returns ranges in key order, segment by segment, with after and limit', async () => {
      const s = await open();
      const positions = ['0000000010', '0000000002', '0000000001', '0000000100', '0000000011'];
      await s.write({ put: positions.map((p) => ({ key: ['log', p], value: text(p) })) });
      await s.write({ put: [{ key: ['log', '0000000002', 'x'], value: text('nested') }, { key: ['logs', '1'], value: text('other') }] });
      expect(keysOf(await s.getRange(['log']))).toEqual(['log/0000000001', 'log/0000000002', 'log/0000000002/x', 'log/0000000010', 'log/0000000011', 'log/0000000100']);
      expect(keysOf(await s.getRange(['log'], { after: '0000000002' }))).toEqual(['log/0000000010', 'log/0000000011', 'log/0000000100']);
      expect(keysOf(await s.getRange(['log'], { after: '0000000001', limit: 2 }))).toEqual(['log/0000000002', 'log/0000000002/x']);
      expect(await s.getRange(['log'], { after: '0000000100' })).toEqual([]);
    });

    it('skips, with after, every key under that segment but not longer segments that start with it', async () => {
      const s = await open();
      const keys = [['k', 'a'], ['k', 'ab'], ['k', 'ab', 'x'], ['k', 'ab', 'x', 'y'], ['k', 'ab\u0001'], ['k', 'abc'], ['k', 'b'], ['ka', '1']];
      await s.write({ put: keys.map((key, i) => ({ key, value: bytes(i) })) });
      expect(keysOf(await s.getRange(['k'], { after: 'ab' }))).toEqual(['k/ab\u0001', 'k/abc', 'k/b']);
      expect(keysOf(await s.getRange(['k'], { after: '' }))).toEqual(['k/a', 'k/ab', 'k/ab/x', 'k/ab/x/y', 'k/ab\u0001', 'k/abc', 'k/b']);
      expect(keysOf(await s.getRange(['k', 'ab'], { after: 'x' }))).toEqual([]);
    });

    it('keeps ranges in step with puts and deletes, including keys written out of order', async () => {
      const s = await open();
      for (const n of [5, 1, 9, 3, 7]) await s.write({ put: [{ key: ['r', String(n)], value: bytes(n) }] });
      await s.write({ put: [{ key: ['r', '4'], value: bytes(4) }], delete: [['r', '9'], ['r', '1'], ['r', 'missing']] });
      expect(keysOf(await s.getRange(['r']))).toEqual(['r/3', 'r/4', 'r/5', 'r/7']);
      await s.write({ put: [{ key: ['r', '9'], value: bytes(9) }, { key: ['r', '3'], value: bytes(33) }] });
      expect(keysOf(await s.getRange(['r'], { after: '3', limit: 3 }))).toEqual(['r/4', 'r/5', 'r/7']);
      expect([...(await s.getRange(['r'], { limit: 1 }))[0]!.value]).toEqual([33]);
    });

    it('orders segments by UTF-16 code units, not code points (\uffff sorts after 🌴)', async () => {
      const s = await open();
      // '🌴' is U+1F334, a surrogate pair (0xD83C …), which sorts before U+FFFF by code unit
      // though after it by code point: an adapter comparing UTF-8 bytes gets this wrong.
      const segs = ['\uffff', '🌴', 'z', '\ue000', 'A'];
      await s.write({ put: segs.map((seg) => ({ key: ['u', seg], value: bytes(1) })) });
      expect((await s.getRange(['u'])).map((e) => e.key[1])).toEqual(['A', 'z', '🌴', '\ue000', '\uffff']);
      expect((await s.getRange(['u'], { after: '🌴' })).map((e) => e.key[1])).toEqual(['\ue000', '\uffff']);
    });

    it('returns copies from ranges too, and refuses a bad limit', async () => {
      const s = await open();
      await s.write({ put: [{ key: ['r', '1'], value: bytes(1, 2) }] });
      const [first] = await s.getRange(['r']);
      first!.value[0] = 99;
      expect((await s.getRange(['r']))[0]!.value).toEqual(bytes(1, 2));
      expect(await s.getRange(['r'], { limit: 0 })).toEqual([]);
      await expect(s.getRange(['r'], { limit: -1 })).rejects.toBeInstanceOf(StorageError);
      await expect(s.getRange(['r'], { limit: 1.5 })).rejects.toBeInstanceOf(StorageError);
    });

    it('keeps every byte value and unicode key segments', async () => {
      const s = await open();
      const all = new Uint8Array(256).map((_, i) => i);
      await s.write({ put: [{ key: ['bin', 'ünïcødé ✓', 'emoji 🌴'], value: all }, { key: ['bin', 'empty'], value: new Uint8Array(0) }] });
      expect(await s.get(['bin', 'ünïcødé ✓', 'emoji 🌴'])).toEqual(all);
      expect(await s.get(['bin', 'empty'])).toEqual(new Uint8Array(0));
    });

    it('stores large values', async () => {
      const s = await open();
      const big = new Uint8Array(8 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4093) big[i] = i % 251;
      await s.write({ put: [{ key: ['big'], value: big }] });
      const read = await s.get(['big']);
      expect(read?.length).toBe(big.length);
      expect(firstDifference(read!, big)).toBe(-1);
    });

    it('applies a batch of puts and deletes together', async () => {
      const s = await open();
      await s.write({ put: [{ key: ['x', '1'], value: bytes(1) }, { key: ['x', '2'], value: bytes(2) }] });
      await s.write({ put: [{ key: ['x', '3'], value: bytes(3) }, { key: ['x', '1'], value: bytes(11) }], delete: [['x', '2']] });
      const entries = await s.getRange(['x']);
      expect(entries.map((e) => [e.key.join('/'), [...e.value]])).toEqual([['x/1', [11]], ['x/3', [3]]]);
    });

    it('leaves nothing behind when a batch fails', async () => {
      const s = await open();
      await s.write({ put: [{ key: ['acct', 'a'], value: text('100') }] });
      const bad = {
        put: [
          { key: ['acct', 'a'], value: text('0') },
          { key: ['acct', 'b'], value: text('100') },
          { key: ['acct', 'c'], value: 'not bytes' as unknown as Uint8Array },
        ],
        delete: [['acct', 'a']],
      };
      await expect(s.write(bad)).rejects.toBeInstanceOf(StorageError);
      await expect(s.write({ put: [{ key: ['acct', 'b'], value: text('1') }, { key: ['acct', ''], value: text('1') }] })).rejects.toBeInstanceOf(StorageError);
      await expect(s.write({ put: [{ key: ['acct', 'b'], value: text('1') }, { key: [], value: text('1') }] })).rejects.toBeInstanceOf(StorageError);
      expect(decode(await s.get(['acct', 'a']))).toBe('100');
      expect(await s.get(['acct', 'b'])).toBeUndefined();
      expect(keysOf(await s.getRange(['acct']))).toEqual(['acct/a']);
      // The adapter still works after a failed batch.
      await s.write({ put: [{ key: ['acct', 'b'], value: text('5') }] });
      expect(decode(await s.get(['acct', 'b']))).toBe('5');
    });

    it('runs concurrent writes without losing any', async () => {
      const s = await open();
      await Promise.all(Array.from({ length: 200 }, (_, i) => s.write({ put: [{ key: ['c', String(i).padStart(4, '0')], value: bytes(i % 256) }] })));
      expect((await s.getRange(['c'])).length).toBe(200);
    });

    it('keeps everything across close and reopen, and refuses use after close', async () => {
      const s = await open();
      await s.write({ put: [{ key: ['p', '1'], value: text('kept') }, { key: ['p', '2'], value: text('gone') }] });
      await s.write({ delete: [['p', '2']] });
      const again = await reopen(s);
      expect(decode(await again.get(['p', '1']))).toBe('kept');
      expect(await again.get(['p', '2'])).toBeUndefined();
      await expect(s.get(['p', '1'])).rejects.toBeInstanceOf(StorageError);
      await expect(s.write({ put: [{ key: ['p', '3'], value: bytes(3) }] })).rejects.toBeInstanceOf(StorageError);
      await s.close(); // idempotent
      await again.write({ put: [{ key: ['p', '3'], value: text('new') }] });
      const third = await reopen(again);
      expect(keysOf(await third.getRange(['p']))).toEqual(['p/1', 'p/3']);
    });
  });
}
