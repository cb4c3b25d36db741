import { Counter } from '@atoll/store';
import type { Invariant } from '../checkers/invariants.js';
import { text } from '../history/history.js';
import { selectsCollection } from '../checkers/selection.js';
import type { Network, SimPeer } from '../network/network.js';
import type { Random } from '../random.js';
import type { Workload } from './workload.js';

/** Options of {@link bankWorkload}. */
export interface BankOptions {
  /** Number of accounts. Default 6. */
  readonly accounts?: number;
  /** Branches the accounts are spread over (subscriptions filter on them). Default `['north', 'south']`. */
  readonly branches?: readonly string[];
  /** Opening balance of each account. Default 100. */
  readonly balance?: number;
  /** Largest transfer. Default 30. */
  readonly maxTransfer?: number;
}

const ACCOUNTS = 'accounts';

/**
 * **Bank transfers.** Accounts (`accounts/acct-<i>`, a `branch`, a `balance` Counter) all opened
 * in one transaction; each operation moves a random amount between two accounts the peer holds,
 * in one transaction (refused, without writing, when the source has too little — as far as this
 * peer knows). Balances are Counters, so concurrent transfers add up instead of overwriting.
 *
 * Invariant `bank-total`: a peer whose subscriptions select every account, once it shows them
 * all, shows the opening total — at every commit. A torn transfer (one side without the other)
 * breaks it; in `eventual` mode it can break on peers fed through a partial subscriber.
 */
export function bankWorkload(options: BankOptions = {}): Workload {
  const count = options.accounts ?? 6;
  const branches = options.branches ?? ['north', 'south'];
  const opening = options.balance ?? 100;
  const maxTransfer = options.maxTransfer ?? 30;
  const total = count * opening;
  const ids = Array.from({ length: count }, (_, i) => `acct-${i}`);

  const totalInvariant: Invariant = {
    name: 'bank-total',
    check(view, peer) {
      if (!selectsCollection(peer.subscriptions, ACCOUNTS)) return undefined;
      const accounts = view.get(ACCOUNTS);
      if (!accounts || accounts.size < count) return undefined; // not all opened here yet
      let sum = 0;
      for (const doc of accounts.values()) sum += typeof doc['balance'] === 'number' ? doc['balance'] : 0;
      return sum === total ? undefined : `total balance ${sum}, expected ${total} (${[...accounts.values()].map((d) => `${text(d['_id'])}=${text(d['balance'])}<${text(d['_tx'])}>`).join(' ')})`;
    },
  };

  return {
    name: 'bank',
    collections: [ACCOUNTS],
    async setup(net: Network, peer: SimPeer) {
      await net.transact(peer, async (tx) => {
        for (const [i, id] of ids.entries()) {
          await tx.insert(ACCOUNTS, { _id: id, branch: branches[i % branches.length] ?? 'main', balance: new Counter(opening) });
        }
      }, { hint: 'open accounts' });
    },
    operate(net: Network, peer: SimPeer, rng: Random) {
      const [fromId, toId] = rng.sample(ids, 2);
      const amount = rng.int(1, maxTransfer);
      return net.transact(peer, async (tx) => {
        const from = await tx.get(ACCOUNTS, fromId as string);
        const to = await tx.get(ACCOUNTS, toId as string);
        if (!from || !to || (from['balance'] as number) < amount) return false;
        await tx.update(ACCOUNTS, fromId as string, (d) => void (d['balance'] = (d['balance'] as number) - amount));
        await tx.update(ACCOUNTS, toId as string, (d) => void (d['balance'] = (d['balance'] as number) + amount));
        return true;
      }, { hint: 'transfer' });
    },
    subscriptionChoices: [
      { label: 'all', subscriptions: [{ id: 'all', collection: '*' }], full: true },
      { label: 'accounts', subscriptions: [{ id: 'accounts', collection: ACCOUNTS }], full: true },
      ...branches.map((b) => ({ label: `accounts/${b}`, subscriptions: [{ id: `branch-${b}`, collection: ACCOUNTS, where: { branch: b } }], full: false })),
    ],
    invariants: [totalInvariant],
  };
}
