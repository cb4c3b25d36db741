// The ledger's arithmetic: plain functions, tested in test/money.test.ts.

/** One expense of the shared ledger: a document of the `ledger` collection. */
export type Entry = {
  description: string;
  /** In cents, a whole number. */
  cents: number;
  paidBy: string;
  /** ISO time it was written. */
  at: string;
};

const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function formatCents(cents: number): string {
  return money.format(cents / 100);
}

/** `"12.5"` → 1250; undefined when it is not a positive amount with at most two decimals. */
export function parseCents(text: string): number | undefined {
  const t = text.trim().replace(',', '.');
  if (!/^\d+(\.\d{1,2})?$/.test(t)) return undefined;
  const cents = Math.round(Number(t) * 100);
  return cents > 0 && Number.isSafeInteger(cents) ? cents : undefined;
}

/** Who paid how much, who should get money back and who owes, if the costs are shared equally. */
export function balances(entries: readonly Entry[]): { name: string; paid: number; balance: number }[] {
  const paid = new Map<string, number>();
  for (const e of entries) paid.set(e.paidBy, (paid.get(e.paidBy) ?? 0) + e.cents);
  const total = [...paid.values()].reduce((a, b) => a + b, 0);
  const share = paid.size > 0 ? total / paid.size : 0;
  return [...paid.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, p]) => ({ name, paid: p, balance: Math.round(p - share) }));
}
