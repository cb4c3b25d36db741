import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { scenarioArbitrary } from '../src/fast-check.js';
import { bankWorkload, checkInvariants, checkReadAtomicity, createNetwork, runScenario, type Network } from '../src/index.js';
import { Random } from '../src/random.js';

const open: Network[] = [];
afterEach(async () => {
  for (const net of open.splice(0)) await net.close();
});

const north = [{ id: 'north', collection: 'accounts', where: { branch: 'north' } }];
const accounts = [{ id: 'accounts', collection: 'accounts' }];

/**
 * Ditto's second scenario: peer 1 writes A and B in one transaction; peer 3, connected only to
 * peer 2 (subscribed to A's side only) but itself subscribed to both, receives only A's part.
 */
async function dittoScenario2(seed: number): Promise<Network> {
  const net = createNetwork({ seed, collections: ['accounts'] });
  open.push(net);
  const bank = bankWorkload({ accounts: 2 }); // acct-0 is north, acct-1 south
  const p1 = await net.addPeer('p1', { subscriptions: accounts });
  await net.addPeer('p2', { subscriptions: north });
  await net.addPeer('p3', { subscriptions: accounts });
  net.link('p2', 'p1');
  net.link('p3', 'p2');
  await bank.setup(net, p1, new Random(seed));
  for (let i = 0; i < 3; i++) {
    await net.transact(p1, async (tx) => {
      await tx.update('accounts', 'acct-0', (d) => void (d['balance'] = (d['balance'] as number) - 10));
      await tx.update('accounts', 'acct-1', (d) => void (d['balance'] = (d['balance'] as number) + 10));
    }, { hint: 'transfer' });
  }
  await net.settle();
  return net;
}

describe("eventual mode reproduces Ditto's caveat, and the checker sees it", () => {
  it('a peer behind a partial subscriber shows torn transfers, and its total balance is wrong', async () => {
    const net = await dittoScenario2(1);
    const p3 = net.peer('p3');
    expect(p3.effectiveAtomicity).toBe('eventual');
    // p3 holds acct-0 as p1 left it, and never got acct-1 at all: nobody on its path holds it.
    expect(await p3.store.get('accounts', 'acct-0')).toMatchObject({ balance: 70, _tx: 'p1#4' });
    expect(await p3.store.get('accounts', 'acct-1')).toBeUndefined();
    const { tears, ok } = checkReadAtomicity(net.history);
    expect(ok).toBe(false);
    expect(tears.map((t) => `${t.peer} ${t.token} ${t.shown} ${t.missing} ${t.observed}`)).toEqual([
      'p3 p1#1 accounts/acct-0 accounts/acct-1 absent',
      'p3 p1#2 accounts/acct-0 accounts/acct-1 absent',
      'p3 p1#3 accounts/acct-0 accounts/acct-1 absent',
      'p3 p1#4 accounts/acct-0 accounts/acct-1 absent',
    ]);
    // p2 subscribes to the north branch only: acct-1 is not its business, so it is not torn for it.
    expect(tears.some((t) => t.peer === 'p2')).toBe(false);
  });

  it('the bank invariant breaks for a peer that receives one side of each transfer', async () => {
    const net = createNetwork({ seed: 2, collections: ['accounts'], interleave: 0 });
    open.push(net);
    const bank = bankWorkload({ accounts: 2 });
    const p1 = await net.addPeer('p1', { subscriptions: accounts });
    await net.addPeer('p2', { subscriptions: north });
    const p3 = await net.addPeer('p3', { subscriptions: accounts });
    net.link('p2', 'p1');
    net.link('p3', 'p2');
    await bank.setup(net, p1, new Random(2));
    await net.settle();
    await net.transact(p1, async (tx) => {
      await tx.update('accounts', 'acct-0', (d) => void (d['balance'] = (d['balance'] as number) - 10));
      await tx.update('accounts', 'acct-1', (d) => void (d['balance'] = (d['balance'] as number) + 10));
    });
    await net.settle();
    net.link('p3', 'p1'); // the mitigation: a link to a broad peer; p3 gets whole transfers, late
    await net.settle();
    expect(await p3.store.get('accounts', 'acct-1')).toMatchObject({ balance: 110 }); // it converges…
    const [total] = checkInvariants(net.history, bank.invariants);
    expect(total?.violations.map((v) => v.message)).toEqual([expect.stringMatching(/^p3 after commit \d+: total balance 190, expected 200/)]); // …after showing a wrong total
    // Torn twice on p3: the accounts' opening and the transfer, each until the direct link delivered it whole.
    expect(checkReadAtomicity(net.history).tears.map((t) => `${t.peer} ${t.token} ${t.missing}`)).toEqual(['p3 p1#1 accounts/acct-1', 'p3 p1#2 accounts/acct-1']);
  });

  it('random partial subscriptions over chains tear transactions (so the checker can fail)', async () => {
    const scenarios = fc.sample(scenarioArbitrary({ topologies: ['chain'], workloads: [['bank']], subscriptions: 'partial', faults: [], peers: [3, 4], steps: [8, 16] }), { seed: 3, numRuns: 8 });
    let tears = 0;
    for (const scenario of scenarios) tears += (await runScenario(scenario)).report.tears.length;
    expect(tears).toBeGreaterThan(0);
  }, 60_000);
});

describe('full subscriptions over direct links: no tears in eventual mode either', () => {
  it('a mesh of full subscribers never shows part of a transfer, through faults', async () => {
    const names = ['a', 'b', 'c', 'd'];
    const { report } = await runScenario({
      seed: 4,
      storage: 'memory',
      topology: 'mesh',
      interleave: 0.5,
      latency: [1, 40],
      workloads: ['bank', 'counter'],
      peers: names.map((name) => ({ name, subscriptions: [{ id: 'all', collection: '*' }], label: 'all', atomicity: 'eventual' as const })),
      links: names.flatMap((x, i) => names.slice(i + 1).map((y) => ({ dialer: y, listener: x }))),
      steps: [
        ...Array.from({ length: 40 }, (_, i) => ({ at: i * 4, kind: 'op' as const, peer: names[i % 4] as string, workload: i % 3 === 0 ? ('counter' as const) : ('bank' as const) })),
        { at: 30, kind: 'drop' as const, a: 'a', b: 'b' },
        { at: 50, kind: 'crash' as const, peer: 'c' },
        { at: 90, kind: 'restart' as const, peer: 'c' },
      ].sort((x, y) => x.at - y.at),
    });
    const atomicity = report.results.find((r) => r.checker === 'read-atomicity');
    expect(atomicity?.checked).toBeGreaterThan(50);
    expect(report.tears).toEqual([]);
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
  });
});
