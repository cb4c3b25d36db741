// The text of the two presets: Ditto's documented scenarios, in plain words.

export interface PresetText {
  readonly scenario: 1 | 2;
  readonly title: string;
  readonly summary: string;
  readonly step1: string;
  readonly step2Button: string;
  readonly step2: string;
  readonly eventual: string;
  readonly atomic: string;
}

export const PRESETS: readonly PresetText[] = [
  {
    scenario: 1,
    title: 'A subscription that widens',
    summary:
      'Peer 1 opens accounts A and B, then moves 30 from A to B — each in one transaction. Peer 2 subscribes to A only, so it receives only the A half of each. When it later subscribes to B too, B’s halves arrive afterwards, through back-fill.',
    step1: 'Peer 1 writes; peer 2 receives only A’s part (B is “not subscribed”).',
    step2Button: 'Widen peer 2 to B',
    step2: 'Peer 2 now subscribes to B as well; peer 1 back-fills B’s history.',
    eventual:
      'Eventual: B’s history arrives one transaction at a time, so for a moment peer 2 shows A after the transfer next to B before it — a total no transaction ever produced.',
    atomic:
      'Atomic: peer 2 must never show B next to an A from another transaction — its invariant stays green while B is on its way, and B appears already matching A.',
  },
  {
    scenario: 2,
    title: 'A narrow peer relays to a broad one',
    summary:
      'Peer 3 subscribes to both accounts, but is linked only to peer 2, which subscribes to A only. Peer 2 never had B’s part, so it cannot pass it on: peer 3 gets half of a transaction it wanted whole.',
    step1: 'Peer 1 writes; peer 2 relays A’s part to peer 3 and reports B as “sender lacks it”.',
    step2Button: 'Mitigate: link peer 3 to peer 1',
    step2: 'Ditto’s advice: connect to a peer with broader subscriptions. Peer 1 holds B.',
    eventual: 'Eventual: peer 3 shows A without B — torn — and lists both transactions under torn(). Linking it to peer 1 heals them.',
    atomic:
      'Atomic: peer 3 shows nothing rather than half. It holds both transactions (pending), asks peer 2 for B, hears “unavailable”, and shows each whole the moment it is linked to peer 1.',
  },
];
