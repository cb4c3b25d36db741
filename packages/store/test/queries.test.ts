import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError, type Doc, type Store } from '../src/index.js';
import { openTestStore } from './helpers.js';

let store: Store;
afterEach(async () => {
  await store?.close();
});

const people = [
  { _id: 'ann', name: 'Ann', age: 31, city: 'Oslo', tags: ['vip'] },
  { _id: 'bob', name: 'Bob', age: 25, city: 'Rome', tags: [] },
  { _id: 'cai', name: 'Cai', age: 40, city: 'Oslo', tags: ['new'] },
  { _id: 'dee', name: 'Dee', age: 25, tags: ['vip', 'new'] },
];

async function seed(): Promise<void> {
  await store.transaction(async (tx) => {
    for (const p of people) await tx.insert('people', p);
  });
}

const ids = (docs: readonly Doc[]) => docs.map((d) => d._id);

describe('queries', () => {
  it('filter with every operator over dotted paths, order and limit', async () => {
    store = await openTestStore();
    await seed();
    const find = async (q: object) => ids(await store.find({ collection: 'people', ...q }));
    expect(await find({})).toEqual(['ann', 'bob', 'cai', 'dee']); // by _id when no orderBy
    expect(await find({ where: { city: 'Oslo' } })).toEqual(['ann', 'cai']);
    expect(await find({ where: { age: { $gte: 31 } } })).toEqual(['ann', 'cai']);
    expect(await find({ where: { age: { $lt: 31, $ne: 40 } } })).toEqual(['bob', 'dee']);
    expect(await find({ where: { city: { $exists: false } } })).toEqual(['dee']);
    expect(await find({ where: { city: { $nin: ['Oslo'] } } })).toEqual(['bob', 'dee']);
    expect(await find({ where: { 'tags.0': 'vip' } })).toEqual(['ann', 'dee']);
    expect(await find({ where: { $or: [{ age: 40 }, { name: { $in: ['Bob'] } }] } })).toEqual(['bob', 'cai']);
    expect(await find({ where: { $not: { city: 'Oslo' }, $and: [{ age: { $lte: 25 } }] } })).toEqual(['bob', 'dee']);
    expect(await find({ orderBy: [{ path: 'age', direction: 'desc' }, { path: 'name' }] })).toEqual(['cai', 'ann', 'bob', 'dee']);
    expect(await find({ orderBy: [{ path: 'age' }], limit: 3 })).toEqual(['bob', 'dee', 'ann']);
    expect(await find({ where: { age: { $gt: 100 } } })).toEqual([]);
  });

  it('reject malformed queries with ValidationError', async () => {
    store = await openTestStore();
    await expect(store.find({ collection: 'people', where: { age: { $regex: 'x' } } })).rejects.toBeInstanceOf(ValidationError);
    await expect(store.find({ collection: '' })).rejects.toThrow(/collection/);
    await store.transaction(async (tx) => {
      await expect(tx.find({ collection: 'people', limit: -2 })).rejects.toThrow(/limit/);
    });
  });

  it('never show deleted documents, and show them again once revived', async () => {
    store = await openTestStore();
    await seed();
    await store.delete('people', 'bob');
    expect(ids(await store.find({ collection: 'people' }))).toEqual(['ann', 'cai', 'dee']);
    expect(await store.get('people', 'bob')).toBeUndefined();
    await store.insert('people', { _id: 'bob', name: 'Bob again' });
    expect(await store.get('people', 'bob')).toEqual({ _id: 'bob', name: 'Bob again' });
  });

  it('return frozen documents that cannot change the store', async () => {
    store = await openTestStore();
    await seed();
    const ann = (await store.get('people', 'ann'))!;
    expect(Object.isFrozen(ann)).toBe(true);
    expect(() => {
      (ann as unknown as { age: number }).age = 99;
    }).toThrow(TypeError);
    expect((await store.get('people', 'ann'))?.['age']).toBe(31);
  });
});

describe('live queries', () => {
  it('emit the current result, then once per commit that changes it, never mid-transaction', async () => {
    store = await openTestStore();
    await seed();
    const seen: string[][] = [];
    const stop = store.observe({ collection: 'people', where: { city: 'Oslo' }, orderBy: [{ path: 'age' }] }, (docs) => seen.push(ids(docs)));
    expect(seen).toEqual([['ann', 'cai']]);
    await store.transaction(async (tx) => {
      await tx.update('people', 'bob', (d) => {
        d['city'] = 'Oslo';
      });
      expect(seen.length).toBe(1); // nothing before the commit
      await tx.update('people', 'cai', (d) => {
        d['age'] = 20;
      });
      await tx.insert('people', { _id: 'eve', city: 'Oslo', age: 50 });
    });
    expect(seen).toEqual([['ann', 'cai'], ['cai', 'bob', 'ann', 'eve']]);
    // An unrelated commit (another collection, or a document outside the result) fires nothing.
    await store.insert('cities', { _id: 'oslo' });
    await store.update('people', 'dee', (d) => {
      d['age'] = 26;
    });
    expect(seen.length).toBe(2);
    // A rolled-back transaction fires nothing.
    await store.transaction(async (tx) => {
      await tx.delete('people', 'ann');
      tx.rollback();
    });
    expect(seen.length).toBe(2);
    await store.delete('people', 'ann');
    expect(seen.at(-1)).toEqual(['cai', 'bob', 'eve']);
    stop();
    await store.delete('people', 'bob');
    expect(seen.length).toBe(3);
  });

  it('keep a limited, ordered window right when members leave, move and enter', async () => {
    store = await openTestStore();
    await store.transaction(async (tx) => {
      for (let i = 0; i < 10; i++) await tx.insert('n', { _id: `d${i}`, v: i });
    });
    const q = { collection: 'n', orderBy: [{ path: 'v' }], limit: 3 } as const;
    let last: readonly Doc[] = [];
    let emits = 0;
    store.observe(q, (docs) => {
      last = docs;
      emits++;
    });
    const check = async () => expect(ids(last)).toEqual(ids(await store.find(q)));
    await check();
    await store.update('n', 'd1', (d) => ({ ...d, v: 100 })); // a member moves out past the window
    await check();
    await store.delete('n', 'd0'); // a member leaves
    await check();
    await store.insert('n', { _id: 'x', v: -1 }); // a newcomer enters at the front
    await check();
    await store.insert('n', { _id: 'y', v: 50 }); // a newcomer that stays outside
    const before = emits;
    await check();
    await store.update('n', 'd9', (d) => ({ ...d, v: 99 })); // outside stays outside: no emission
    expect(emits).toBe(before);
    await store.update('n', 'd2', (d) => ({ ...d, v: 3.5 })); // a member moves within the window
    await check();
  });

  it('match a full re-run after every commit of a random workload', async () => {
    store = await openTestStore();
    let state = 12345;
    const rand = (n: number) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    const queries = [
      { collection: 'r', where: { v: { $gte: 20 } }, orderBy: [{ path: 'v', direction: 'desc' as const }], limit: 4 },
      { collection: 'r', where: { tag: 'a' } },
      { collection: 'r', orderBy: [{ path: 'v' }], limit: 1 },
    ];
    const latest = queries.map(() => [] as readonly Doc[]);
    queries.forEach((q, i) => store.observe(q, (docs) => (latest[i] = docs)));
    for (let step = 0; step < 150; step++) {
      await store.transaction(async (tx) => {
        for (let k = 0; k < 1 + rand(3); k++) {
          const id = `d${rand(15)}`;
          const op = rand(4);
          const value = { _id: id, v: rand(50), tag: rand(2) ? 'a' : 'b' };
          if (op === 0) await tx.delete('r', id);
          else await tx.upsert('r', value);
        }
      });
      for (let i = 0; i < queries.length; i++) expect(ids(latest[i]!)).toEqual(ids(await store.find(queries[i]!)));
    }
  });

  it('async-iterator form yields the current result, then new ones, and ends on close', async () => {
    store = await openTestStore();
    const it = store.watch({ collection: 'todos', where: { done: false } });
    expect(ids((await it.next()).value as Doc[])).toEqual([]);
    await store.insert('todos', { _id: 't1', done: false });
    await store.insert('todos', { _id: 't2', done: true });
    await store.insert('todos', { _id: 't3', done: false });
    // A slow consumer gets the latest result, not every intermediate one.
    expect(ids((await it.next()).value as Doc[])).toEqual(['t1', 't3']);
    const pending = it.next();
    await store.close();
    expect((await pending).done).toBe(true);
  });

  it('tx.observe sees in-transaction writes and stops when the transaction ends', async () => {
    store = await openTestStore();
    const seen: string[][] = [];
    await store.transaction(async (tx) => {
      tx.observe({ collection: 'todos' }, (docs) => seen.push(ids(docs)));
      await tx.insert('todos', { _id: 'a' });
      await tx.transaction(async (inner) => {
        await inner.insert('todos', { _id: 'b' });
      });
      await tx.update('todos', 'a', () => ({ _id: 'a' })); // no change: no emission
    });
    await store.insert('todos', { _id: 'c' });
    expect(seen).toEqual([[], ['a'], ['a', 'b']]);
  });

  it('a throwing callback does not break the commit', async () => {
    store = await openTestStore();
    store.observe({ collection: 'x' }, (docs) => {
      if (docs.length > 0) throw new Error('bad callback');
    });
    await expect(store.insert('x', { _id: 'a' })).resolves.toEqual({ _id: 'a' });
    expect(await store.get('x', 'a')).toBeDefined();
  });
});
