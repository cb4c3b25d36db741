// The lab's model in Node, with instant links: Ditto's two scenarios, as the page runs them.
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETUP, Lab, type LabPeer } from '../src/lab/lab.js';

const labs: Lab[] = [];

afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.close();
});

async function newLab(): Promise<Lab> {
  const lab = new Lab();
  labs.push(lab);
  lab.setLatency(0);
  await lab.reset({ ...DEFAULT_SETUP, latencyMs: 0 });
  return lab;
}

/** Waits until `check` holds, re-checking after each turn of the event loop. */
async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((r) => setImmediate(r));
  }
}

const balances = (p: LabPeer) => Object.fromEntries(p.balances);

describe('the lab', () => {
  it('starts with every peer subscribed to both accounts and balanced', async () => {
    const lab = await newLab();
    await until(() => lab.peers.every((p) => p.verdict.kind === 'balanced'), 'every peer balanced');
    expect(lab.peers.map(balances)).toEqual([{ A: 100, B: 100 }, { A: 100, B: 100 }, { A: 100, B: 100 }]);
  });

  it('scenario 2, eventual: peer 3 shows A without B and reports both tears; linking it to peer 1 heals them', async () => {
    const lab = await newLab();
    await lab.runPreset(2, 'eventual');
    await until(() => lab.preset?.step === 'ready', 'step 1');
    const p3 = lab.peer(3);
    expect(balances(p3)).toEqual({ A: 70 });
    expect(p3.verdict.kind).toBe('torn');
    expect(p3.torn.map((t) => [t.hint, t.missing])).toEqual([
      ['open A and B (100 each)', [{ key: 'accounts/B', reason: 'not-held' }]],
      ['transfer 30 from A to B', [{ key: 'accounts/B', reason: 'not-held' }]],
    ]);
    await lab.presetStep2();
    await until(() => lab.preset?.step === 'done', 'the mitigation');
    expect(balances(p3)).toEqual({ A: 70, B: 130 });
    expect(p3.verdict.kind).toBe('balanced');
  });

  it('scenario 2, atomic: peer 3 never shows a torn state, holds both transactions, and shows them whole once linked to peer 1', async () => {
    const lab = await newLab();
    await lab.runPreset(2, 'atomic');
    await until(() => lab.preset?.step === 'ready', 'step 1');
    const p3 = lab.peer(3);
    expect(balances(p3)).toEqual({});
    expect(p3.pending.map((t) => [t.hint, t.reason])).toEqual([
      ['open A and B (100 each)', 'missing-parts'],
      ['transfer 30 from A to B', 'missing-parts'],
    ]);
    await lab.presetStep2();
    await until(() => lab.preset?.step === 'done', 'the mitigation');
    expect(balances(p3)).toEqual({ A: 70, B: 130 });
    expect(p3.tornSeen).toBe(0);
  });

  it('scenario 1, eventual: widening shows, for one commit, B from before the transfer next to A after it', async () => {
    const lab = await newLab();
    await lab.runPreset(1, 'eventual');
    await until(() => lab.preset?.step === 'ready', 'step 1');
    const p2 = lab.peer(2);
    expect(balances(p2)).toEqual({ A: 70 });
    expect(p2.verdict.kind).toBe('one-account');
    await lab.presetStep2();
    await until(() => lab.preset?.step === 'done', 'the back-fill');
    expect(balances(p2)).toEqual({ A: 70, B: 130 });
    expect(p2.tornSeen).toBe(1);
    expect(p2.lastTorn).toBe('A 70 · B 100');
  });

  // An atomic peer applies a widening's whole back-fill in one commit.
  it('scenario 1, atomic: widening never shows a torn state', async () => {
    const lab = await newLab();
    await lab.runPreset(1, 'atomic');
    await until(() => lab.preset?.step === 'ready', 'step 1');
    await lab.presetStep2();
    await until(() => lab.preset?.step === 'done', 'the back-fill');
    expect(lab.peer(2).tornSeen).toBe(0);
  });

  it('refuses a transfer larger than account A, in words', async () => {
    const lab = await newLab();
    await lab.transfer(500);
    expect(lab.problem).toBe('Account A holds only 100 at peer 1: it cannot send 500.');
  });
});
