import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStorageAdapter } from '../src/index.js';
import { runStorageAdapterTests } from '../src/testing/index.js';

runStorageAdapterTests('memory', {
  open: () => Promise.resolve(new MemoryStorageAdapter()),
  reopen: (previous) => Promise.resolve((previous as MemoryStorageAdapter).reopen()),
});

describe('memory storage key index', () => {
  it('keeps ranges exact through thousands of inserts and deletes in random order (blocks split and empty)', async () => {
    const storage = new MemoryStorageAdapter();
    const rng = fc.sample(fc.integer({ min: 0, max: 1_000_000 }), { seed: 42, numRuns: 6_000 });
    const live = new Map<string, number>();
    const value = new Uint8Array([1]);
    for (const [i, n] of rng.entries()) {
      const id = `k${n}`;
      if (i % 3 === 2 && live.size > 0) {
        const victim = [...live.keys()][n % live.size] as string;
        live.delete(victim);
        await storage.write({ delete: [['items', victim]] });
      } else {
        live.set(id, n);
        await storage.write({ put: [{ key: ['items', id], value }, { key: ['other', id], value }] });
      }
    }
    const expected = [...live.keys()].sort();
    const all = (await storage.getRange(['items'])).map((e) => e.key[1]);
    expect(all).toEqual(expected);
    const middle = expected[Math.floor(expected.length / 2)] as string;
    const after = (await storage.getRange(['items'], { after: middle, limit: 700 })).map((e) => e.key[1]);
    expect(after).toEqual(expected.filter((k) => k > middle).slice(0, 700));
    // A reopened handle shares the index.
    expect((await storage.reopen().getRange(['items'])).length).toBe(expected.length);
  });
});
