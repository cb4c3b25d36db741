import { describe, expect, it } from 'vitest';
import {
  DEFAULTS,
  buildDelivery,
  decodeMessage,
  deliveryCoverage,
  docKey,
  encodeMessage,
  type Changeset,
  type DocKey,
  type ShipDecision,
} from '../src/index.js';
import { kAnn, kBig, kBob, kSecret, peerA, tx1 } from './samples.js';

const changeset: Changeset = {
  id: tx1,
  origin: peerA,
  seq: 1,
  time: 1_700_000_000_000,
  hint: 'transfer',
  manifest: [kAnn, kBob, kSecret, kBig],
  // The sender holds a torn copy: no part for kBig.
  parts: [
    { key: kAnn, changes: [new Uint8Array([1])] },
    { key: kBob, changes: [new Uint8Array([2])] },
    { key: kSecret, changes: [new Uint8Array([3])] },
  ],
};

const decideBy =
  (table: Partial<Record<DocKey, ShipDecision>>) =>
  (key: DocKey): ShipDecision =>
    table[key] ?? 'ship';

describe('buildDelivery', () => {
  it('ships, omits with a reason, and redacts, keeping every readable key exactly once', () => {
    const msg = buildDelivery(changeset, { via: 'log', pos: 7, decide: decideBy({ [kBob]: 'not-subscribed', [kSecret]: 'not-permitted' }) });
    expect(msg).toEqual({
      type: 'delivery',
      via: 'log',
      pos: 7,
      tx: { id: tx1, origin: peerA, seq: 1, time: 1_700_000_000_000, hint: 'transfer' },
      manifest: [kAnn, kBob, kBig],
      redacted: 1,
      parts: [changeset.parts[0]],
      omitted: [
        { key: kBob, reason: 'not-subscribed' },
        { key: kBig, reason: 'not-held' },
      ],
    });
    // It passes the schema, manifest rules included.
    expect(decodeMessage(encodeMessage(msg), { maxBytes: DEFAULTS.maxMessageBytes })).toEqual(msg);
  });

  it('leaves out an absent hint rather than sending undefined', () => {
    const { hint: _hint, ...noHint } = changeset;
    expect('hint' in buildDelivery(noHint, { via: 'want', pos: 1, decide: () => 'ship' }).tx).toBe(false);
  });

  it('passes too-large through as the reason', () => {
    const msg = buildDelivery(changeset, { via: 'log', pos: 1, decide: decideBy({ [kAnn]: 'too-large' }) });
    expect(msg.omitted).toContainEqual({ key: kAnn, reason: 'too-large' });
  });

  it('refuses a changeset holding parts outside its manifest', () => {
    const bad = { ...changeset, parts: [...changeset.parts, { key: docKey('x', 'y'), changes: [new Uint8Array([1])] }] };
    expect(() => buildDelivery(bad, { via: 'log', pos: 1, decide: () => 'ship' })).toThrow(/outside its manifest/);
  });
});

describe('deliveryCoverage', () => {
  it('a delivery of every part is complete', () => {
    const full = { ...changeset, parts: [...changeset.parts, { key: kBig, changes: [new Uint8Array([4])] }] };
    const c = deliveryCoverage(buildDelivery(full, { via: 'log', pos: 1, decide: () => 'ship' }));
    expect(c).toEqual({ complete: true, wholeWithinSubscription: true, missing: [], notSubscribed: [], redacted: 0 });
  });

  it('a delivery missing only unsubscribed or unreadable parts is whole within the subscription', () => {
    const full = { ...changeset, parts: [...changeset.parts, { key: kBig, changes: [new Uint8Array([4])] }] };
    const c = deliveryCoverage(buildDelivery(full, { via: 'log', pos: 1, decide: decideBy({ [kBob]: 'not-subscribed', [kSecret]: 'not-permitted' }) }));
    expect(c).toEqual({ complete: false, wholeWithinSubscription: true, missing: [], notSubscribed: [kBob], redacted: 1 });
  });

  it('a not-held or too-large part makes it torn: those keys are the ones to want', () => {
    const c = deliveryCoverage(buildDelivery(changeset, { via: 'log', pos: 1, decide: decideBy({ [kAnn]: 'too-large' }) }));
    expect(c.wholeWithinSubscription).toBe(false);
    expect(c.missing).toEqual([kAnn, kBig]);
  });
});
