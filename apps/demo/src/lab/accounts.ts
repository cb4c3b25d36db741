import type { DocKey } from '@atoll/protocol';

/** The two bank accounts of the lab: documents `accounts/A` and `accounts/B`. */
export const ACCOUNTS = ['A', 'B'] as const;
export type Account = (typeof ACCOUNTS)[number];

export const COLLECTION = 'accounts';

/** Both accounts open with this much; every transfer keeps the sum. */
export const OPENING_BALANCE = 100;
export const EXPECTED_TOTAL = OPENING_BALANCE * ACCOUNTS.length;

export function isAccount(id: string): id is Account {
  return (ACCOUNTS as readonly string[]).includes(id);
}

/** `accounts/A` → `A`: the name the lab shows for a document key (another key is shown whole). */
export function accountOf(key: DocKey | string): string {
  const id = key.startsWith(`${COLLECTION}/`) ? key.slice(COLLECTION.length + 1) : key;
  return isAccount(id) ? id : key;
}

/** Lists accounts in plain words: `A`, `A and B`. */
export function andList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1] ?? ''}`;
}
