import type { Changeset, ChangesetPart } from './changeset.js';
import { assert, unreachable } from './errors.js';
import type { DocKey } from './ids.js';
import type { ChangesetHeader, DeliveryMessage, DeliveryVia, OmittedPart } from './messages/replication.js';

/**
 * What the shipping side decides for one document of a transaction, for one receiver:
 * `ship` it (it matches the receiver's subscriptions, or was wanted), or leave it out and say
 * why. `not-permitted` keys are redacted from the manifest. A `ship` for a part the sender does
 * not hold becomes `not-held`.
 */
export type ShipDecision = 'ship' | 'not-subscribed' | 'not-permitted' | 'too-large';

/** What {@link buildDelivery} needs besides the changeset. */
export interface BuildDeliveryOptions {
  readonly via: DeliveryVia;
  /** The entry's position in the sender's log. */
  readonly pos: number;
  /** How far the sender's log is durable, when that is below `pos` (see `DeliverySchema`). */
  readonly durable?: number;
  /**
   * The decision for each key of the manifest; `held` says whether the sender holds its part.
   * For a part it does not hold the sender has no document to match a filter against: answer
   * `ship` when the receiver subscribes to the key's collection (it becomes `not-held`, so the
   * receiver can look elsewhere), `not-subscribed` otherwise.
   */
  readonly decide: (key: DocKey, held: boolean) => ShipDecision;
}

/**
 * Builds the delivery of one changeset for one receiver, keeping the manifest rules (every
 * readable key exactly once in `parts` or `omitted`, unreadable ones only counted) in one place.
 * `changeset.parts` are the parts the sender holds, which may be fewer than the manifest.
 *
 * @example
 * const msg = buildDelivery(changeset, {
 *   via: 'log', pos,
 *   decide: (key) => (!canRead(peer, key) ? 'not-permitted' : matchesSubs(key) ? 'ship' : 'not-subscribed'),
 * });
 */
export function buildDelivery(
  changeset: Pick<Changeset, 'id' | 'origin' | 'seq' | 'time' | 'hint' | 'manifest'> & { readonly parts: readonly ChangesetPart[] },
  options: BuildDeliveryOptions,
): DeliveryMessage {
  const inManifest = new Set<DocKey>(changeset.manifest);
  const held = new Map<DocKey, ChangesetPart>();
  for (const part of changeset.parts) {
    assert(inManifest.has(part.key), () => `changeset ${changeset.id} holds a part for ${part.key}, outside its manifest`);
    held.set(part.key, part);
  }
  const manifest: DocKey[] = [];
  const parts: ChangesetPart[] = [];
  const omitted: OmittedPart[] = [];
  let redacted = 0;
  for (const key of changeset.manifest) {
    const part = held.get(key);
    const decision = options.decide(key, part !== undefined);
    if (decision === 'not-permitted') {
      redacted++;
      continue;
    }
    manifest.push(key);
    if (decision !== 'ship') omitted.push({ key, reason: decision });
    else if (part === undefined) omitted.push({ key, reason: 'not-held' });
    else parts.push(part);
  }
  const tx: ChangesetHeader = { id: changeset.id, origin: changeset.origin, seq: changeset.seq, time: changeset.time };
  if (changeset.hint !== undefined) tx.hint = changeset.hint;
  const msg: DeliveryMessage = { type: 'delivery', via: options.via, pos: options.pos, tx, manifest, redacted, parts, omitted };
  if (options.durable !== undefined && options.durable < options.pos) msg.durable = options.durable;
  return msg;
}

/** How much of its transaction a delivery carries, from the receiver's point of view. */
export interface DeliveryCoverage {
  /** Every part of the transaction is in the delivery: nothing omitted, nothing redacted. */
  readonly complete: boolean;
  /**
   * Every part the receiver may subscribe to is in the delivery (what is missing is
   * `not-subscribed` or redacted). In atomic mode such a delivery is applied at once; otherwise
   * it is held and the {@link DeliveryCoverage.missing} parts are wanted.
   */
  readonly wholeWithinSubscription: boolean;
  /** Keys of parts the receiver may subscribe to but did not get (`not-held`, `too-large`). */
  readonly missing: readonly DocKey[];
  /** Keys left out because they do not match the receiver's subscriptions. */
  readonly notSubscribed: readonly DocKey[];
  /** How many documents of the transaction the receiver may not read. */
  readonly redacted: number;
}

/** Classifies what a (validated) delivery carries; see {@link DeliveryCoverage}. */
export function deliveryCoverage(delivery: DeliveryMessage): DeliveryCoverage {
  const missing: DocKey[] = [];
  const notSubscribed: DocKey[] = [];
  for (const o of delivery.omitted) {
    switch (o.reason) {
      case 'not-subscribed':
        notSubscribed.push(o.key);
        break;
      case 'not-held':
      case 'too-large':
        missing.push(o.key);
        break;
      default:
        unreachable(o.reason);
    }
  }
  return {
    complete: delivery.omitted.length === 0 && delivery.redacted === 0,
    wholeWithinSubscription: missing.length === 0,
    missing,
    notSubscribed,
    redacted: delivery.redacted,
  };
}
