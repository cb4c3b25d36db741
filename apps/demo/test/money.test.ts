import { describe, expect, it } from 'vitest';
import { balances, parseCents, type Entry } from '../src/ledger/money.js';

describe('parseCents', () => {
  it('reads amounts with up to two decimals, a comma or a point', () => {
    expect(parseCents('12')).toBe(1200);
    expect(parseCents(' 12.5 ')).toBe(1250);
    expect(parseCents('0,07')).toBe(7);
    expect(parseCents('19.99')).toBe(1999);
  });

  it('refuses what is not a positive amount', () => {
    for (const bad of ['', '0', '0.00', '-3', '1.234', 'abc', '1e3', '12.']) expect(parseCents(bad), bad).toBeUndefined();
  });
});

describe('balances', () => {
  const entry = (paidBy: string, cents: number): Entry => ({ description: 'x', cents, paidBy, at: '2025-01-01T00:00:00.000Z' });

  it('shares the costs equally among the people in the ledger', () => {
    expect(balances([entry('Bob', 1800), entry('Ann', 4250), entry('Ann', 320)])).toEqual([
      { name: 'Ann', paid: 4570, balance: 1385 },
      { name: 'Bob', paid: 1800, balance: -1385 },
    ]);
  });

  it('is empty for an empty ledger', () => {
    expect(balances([])).toEqual([]);
  });
});
