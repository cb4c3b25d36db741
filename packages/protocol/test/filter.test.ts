import { describe, expect, it } from 'vitest';
import { ValidationError, comparatorFor, getPath, matchesFilter, validateFilter, validateQuery, type Filter } from '../src/index.js';

const ann = { _id: 'ann', name: 'Ann', age: 31, tags: ['vip', 'eu'], address: { city: 'Oslo', zip: '0150' }, nick: null };
const bob = { _id: 'bob', name: 'Bob', age: 25, tags: [], address: { city: 'Rome' } };

describe('matchesFilter', () => {
  const cases: [Filter, boolean, boolean][] = [
    [{}, true, true],
    [{ name: 'Ann' }, true, false],
    [{ age: { $gt: 30 } }, true, false],
    [{ age: { $gte: 25, $lt: 31 } }, false, true],
    [{ age: { $lte: 25 } }, false, true],
    [{ age: { $gt: '30' } }, false, false], // comparisons never cross types
    [{ 'address.city': { $in: ['Oslo', 'Paris'] } }, true, false],
    [{ 'address.city': { $nin: ['Oslo'] } }, false, true],
    [{ 'address.zip': { $exists: true } }, true, false],
    [{ 'address.zip': { $exists: false } }, false, true],
    [{ 'address.zip': { $ne: '0150' } }, false, true], // missing field is "not equal"
    [{ nick: null }, true, false], // null equals null, not a missing field
    [{ 'tags.0': 'vip' }, true, false],
    [{ tags: ['vip', 'eu'] }, true, false], // deep equality on arrays
    [{ address: { city: 'Rome' } }, false, true], // a plain object value is deep equality
    [{ $or: [{ name: 'Bob' }, { age: 31 }] }, true, true],
    [{ $and: [{ age: { $gt: 20 } }, { name: { $ne: 'Ann' } }] }, false, true],
    [{ $not: { name: 'Ann' } }, false, true],
    [{ age: { $not: { $gt: 30 } } }, false, true],
    [{ age: { $eq: 25 } }, false, true],
  ];
  it.each(cases)('%j → ann %s, bob %s', (filter, forAnn, forBob) => {
    validateFilter(filter);
    expect(matchesFilter(filter, ann)).toBe(forAnn);
    expect(matchesFilter(filter, bob)).toBe(forBob);
  });
});

describe('validation', () => {
  it('rejects unknown operators, bad arguments and bad paths with the place named', () => {
    expect(() => validateFilter({ age: { $regex: 'x' } })).toThrow(/unknown field operator \$regex.*where\.age\.\$regex/);
    expect(() => validateFilter({ $nor: [] })).toThrow(ValidationError);
    expect(() => validateFilter({ age: { $in: 3 } })).toThrow(/\$in takes an array/);
    expect(() => validateFilter({ age: { $gt: {} } })).toThrow(/number or a string/);
    expect(() => validateFilter({ 'a..b': 1 })).toThrow(/invalid field path/);
    expect(() => validateFilter({ a: Number.NaN })).toThrow(/finite/);
    expect(() => validateFilter([])).toThrow(/must be an object/);
    let deep: Filter = { a: 1 };
    for (let i = 0; i < 40; i++) deep = { $not: deep };
    expect(() => validateFilter(deep)).toThrow(/deeper/);
  });

  it('validates whole queries', () => {
    expect(() => validateQuery({ collection: 'accounts', where: { x: 1 }, orderBy: [{ path: 'x', direction: 'desc' }], limit: 3 })).not.toThrow();
    expect(() => validateQuery({ collection: 'bad/name' })).toThrow(/collection/);
    expect(() => validateQuery({ collection: 'a', limit: -1 })).toThrow(/limit/);
    expect(() => validateQuery({ collection: 'a', orderBy: [{ path: 'x', direction: 'up' }] })).toThrow(/direction/);
    expect(() => validateQuery({ collection: 'a', sort: 1 })).toThrow(/unknown query field sort/);
  });
});

describe('ordering and paths', () => {
  it('reads dotted paths through objects and arrays', () => {
    expect(getPath(ann, 'address.city')).toBe('Oslo');
    expect(getPath(ann, 'tags.1')).toBe('eu');
    expect(getPath(ann, 'tags.x')).toBeUndefined();
    expect(getPath(ann, 'name.length')).toBeUndefined();
  });

  it('sorts by several keys with a total order across types', () => {
    const rows = [{ a: 'x', b: 2 }, { a: 1, b: 1 }, { b: 0 }, { a: null, b: 5 }, { a: 1, b: 3 }, { a: true, b: 9 }];
    const cmp = comparatorFor([{ path: 'a' }, { path: 'b', direction: 'desc' }]);
    expect([...rows].sort(cmp).map((r) => r.b)).toEqual([0, 5, 9, 3, 1, 2]);
  });
});
