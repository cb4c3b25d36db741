import { describe, expect, it } from 'vitest';
import type { Account } from '../src/lab/accounts.js';
import { judge } from '../src/lab/invariant.js';

function view(subscribed: Account[], balances: Partial<Record<Account, number>>, arriving: Account[] = []) {
  return { subscribed: new Set(subscribed), arriving: new Set(arriving), balances: new Map(Object.entries(balances) as [Account, number][]) };
}

describe('the lab’s invariant', () => {
  it('is balanced when both accounts are shown and add up to 200', () => {
    expect(judge(view(['A', 'B'], { A: 70, B: 130 }))).toEqual({ kind: 'balanced', text: 'A + B = 200.', total: 200 });
  });

  it('is torn when the total is not what every transaction keeps (halves of two transactions)', () => {
    expect(judge(view(['A', 'B'], { A: 70, B: 100 }))).toMatchObject({ kind: 'torn', total: 170 });
  });

  it('is torn when it shows one subscribed account without the other (part of a transaction)', () => {
    expect(judge(view(['A', 'B'], { A: 70 }))).toEqual({ kind: 'torn', text: 'Shows A without B.' });
  });

  it('checks only the accounts the peer subscribes to', () => {
    expect(judge(view(['A'], { A: 70 })).kind).toBe('one-account');
    // A copy kept after unsubscribing is not judged.
    expect(judge(view(['A'], { A: 70, B: 100 })).kind).toBe('one-account');
    expect(judge(view([], { A: 70 })).kind).toBe('none');
  });

  it('waits, without calling it torn, for an account just subscribed to (back-fill on its way)', () => {
    expect(judge(view(['A', 'B'], { A: 70 }, ['B'])).kind).toBe('arriving');
    expect(judge(view(['A', 'B'], {}, ['A', 'B'])).kind).toBe('arriving');
  });

  it('shows nothing yet when nothing subscribed is there (an atomic peer holding a transaction)', () => {
    expect(judge(view(['A', 'B'], {})).kind).toBe('empty');
  });
});
