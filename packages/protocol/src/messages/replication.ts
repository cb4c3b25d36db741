import { z } from 'zod';
import { ChangesetPartSchema, ChangesetSchema, BytesSchema, isDocKey, plainHeader, plainPart, type ChangesetPart } from '../changeset.js';
import { CollectionNameSchema, DocKeySchema, TxIdSchema, type DocKey } from '../ids.js';
import { LIMITS } from '../limits.js';
import { PositionSchema } from './common.js';
import { FilterSchema } from './filter-schema.js';

/** The `collection` of a subscription that selects documents of every collection (a relay's). */
export const ALL_COLLECTIONS = '*';

/**
 * What a peer wants to receive: the documents of `collection` (or of every collection, for
 * {@link ALL_COLLECTIONS}) that match `where` (all of them when absent). Evaluated by the
 * shipping side against its own copy of each document.
 */
export const SubscriptionSchema = z.object({
  /** Chosen by the subscriber; unique within its set. */
  id: z.string().min(1).max(LIMITS.subscriptionIdLength),
  collection: z.union([CollectionNameSchema, z.literal(ALL_COLLECTIONS)]),
  where: FilterSchema.optional(),
});
/** See {@link SubscriptionSchema}. */
export type Subscription = z.infer<typeof SubscriptionSchema>;

/** `subscribe`: replaces the sender's whole subscription set (it is not a delta). */
export const SubscribeSchema = z
  .object({
    type: z.literal('subscribe'),
    subs: z.array(SubscriptionSchema).max(LIMITS.subscriptions),
  })
  // A rule JSON Schema cannot show: keep RULES in json-schema.ts in step, so the hash covers it.
  .superRefine((msg, ctx) => {
    const ids = new Set<string>();
    for (const [i, sub] of msg.subs.entries()) {
      if (ids.has(sub.id)) {
        ctx.addIssue({ code: 'custom', message: `duplicate subscription id ${JSON.stringify(sub.id)}`, path: ['subs', i, 'id'] });
        return;
      }
      ids.add(sub.id);
    }
  });
/** See {@link SubscribeSchema}. */
export type SubscribeMessage = z.infer<typeof SubscribeSchema>;

/** `sync`: asks for the receiver's log after position `since` (the sender's persisted cursor). */
export const SyncSchema = z.object({
  type: z.literal('sync'),
  /** The last position of the receiver's log the sender holds; 0 for all of it. */
  since: PositionSchema,
});
/** See {@link SyncSchema}. */
export type SyncMessage = z.infer<typeof SyncSchema>;

/**
 * `caught-up`: every entry of the sender's log up to `pos` that the receiver's subscriptions
 * select has been sent, including the back-fill of every document selected by the first
 * `subscribes` `subscribe` messages received on this connection. What follows is live. Sent
 * after the catch-up that answers `sync`, after each back-fill, and at will while live (to move
 * the receiver's cursor over entries that selected nothing).
 */
export const CaughtUpSchema = z.object({
  type: z.literal('caught-up'),
  /** The sender's log position the receiver may store as its cursor once it applied everything before. */
  pos: PositionSchema,
  /**
   * How many of the receiver's `subscribe` messages this covers: the receiver may persist the
   * subscription set of that one together with the cursor.
   */
  subscribes: z.int().min(0),
});
/** See {@link CaughtUpSchema}. */
export type CaughtUpMessage = z.infer<typeof CaughtUpSchema>;

/** Automerge change bytes on the wire: bounded so one change cannot claim a whole frame budget unchecked. */
export const ChangeBytesSchema = BytesSchema.refine((b) => b.byteLength <= LIMITS.changeBytes, {
  message: `a change may have at most ${LIMITS.changeBytes} bytes`,
});

/** One shipped part of a transaction ({@link ChangesetPartSchema} with bounded change sizes). */
export const DeliveryPartSchema = ChangesetPartSchema.extend({
  changes: z.array(ChangeBytesSchema).min(1).max(LIMITS.changesPerPart),
});

/** The transaction's identity and metadata, as in {@link ChangesetSchema}. */
export const ChangesetHeaderSchema = ChangesetSchema.pick({ id: true, origin: true, seq: true, time: true, hint: true });
/** See {@link ChangesetHeaderSchema}. */
export type ChangesetHeader = z.infer<typeof ChangesetHeaderSchema>;

/**
 * Why a part of a delivered transaction is not in it. A part the receiver may not read is not
 * listed at all (its key is secret): it is counted in `redacted` — the `not-permitted` reason.
 */
export const OmittedReason = {
  /** The document does not match the receiver's subscriptions (by the sender's copy of it). */
  NotSubscribed: 'not-subscribed',
  /** The sender does not hold this part, and the receiver may subscribe to it: ask others (`want`). */
  NotHeld: 'not-held',
  /** The sender holds it but it does not fit in a frame of the receiver's `maxBytes`. */
  TooLarge: 'too-large',
} as const;
/** One of the {@link OmittedReason} values. */
export type OmittedReason = (typeof OmittedReason)[keyof typeof OmittedReason];

/** An omitted part: its key and why it was left out. */
export const OmittedPartSchema = z.object({
  key: DocKeySchema,
  reason: z.enum([OmittedReason.NotSubscribed, OmittedReason.NotHeld, OmittedReason.TooLarge]),
});
/** See {@link OmittedPartSchema}. */
export type OmittedPart = z.infer<typeof OmittedPartSchema>;

/** Which flow a delivery belongs to; only `log` deliveries move the receiver's cursor. */
export const DeliveryVia = {
  /** Catch-up after `sync`, then live: `pos` strictly increases on the connection. */
  Log: 'log',
  /** History of documents that started to match the receiver's subscriptions; `pos` is informational. */
  Backfill: 'backfill',
  /** The answer to a `want`; `pos` is informational. */
  Want: 'want',
} as const;
/** One of the {@link DeliveryVia} values. */
export type DeliveryVia = (typeof DeliveryVia)[keyof typeof DeliveryVia];

/**
 * `delivery`: one transaction, or the share of it the receiver may and wants to have. Every key
 * of `manifest` appears exactly once, either in `parts` or in `omitted`; `redacted` counts the
 * keys the receiver may not read (left out of the manifest). So the receiver knows the
 * transaction's full size and, for each document it lacks, why.
 */
export const DeliverySchema = z
  .object({
    type: z.literal('delivery'),
    via: z.enum([DeliveryVia.Log, DeliveryVia.Backfill, DeliveryVia.Want]),
    /** The entry's position in the sender's log. */
    pos: PositionSchema.min(1),
    /**
     * Set when the entry is not durable on the sender yet (a relay forwards what it received
     * before its own write is done): the sender's log is durable up to here, below `pos`. Absent,
     * the log is durable up to `pos`. A receiver never persists a cursor past what it knows is
     * durable, since a sender that crashes before its write may reuse the later positions.
     * Sent from protocol version 2 on.
     */
    durable: PositionSchema.optional(),
    tx: ChangesetHeaderSchema,
    /** Every document the transaction wrote that the receiver may read. */
    manifest: z.array(DocKeySchema).max(LIMITS.keysPerTransaction),
    /** How many more documents the transaction wrote that the receiver may not read. */
    redacted: z.int().min(0).max(LIMITS.keysPerTransaction),
    parts: z.array(DeliveryPartSchema).max(LIMITS.keysPerTransaction),
    omitted: z.array(OmittedPartSchema).max(LIMITS.keysPerTransaction),
  })
  // Rules JSON Schema cannot show: keep RULES in json-schema.ts in step, so the hash covers them.
  .superRefine((msg, ctx) => {
    if (msg.durable !== undefined && msg.durable >= msg.pos) {
      ctx.addIssue({ code: 'custom', message: 'durable is below pos (a durable entry leaves it out)', path: ['durable'] });
      return;
    }
    const total = msg.manifest.length + msg.redacted;
    if (total === 0) {
      ctx.addIssue({ code: 'custom', message: 'a transaction writes at least one document: manifest and redacted cannot both be empty', path: ['manifest'] });
      return;
    }
    if (total > LIMITS.keysPerTransaction) {
      ctx.addIssue({ code: 'custom', message: `a transaction writes at most ${LIMITS.keysPerTransaction} documents`, path: ['redacted'] });
      return;
    }
    // Each manifest key must be accounted for exactly once: that is what lets a receiver
    // decide, from this message alone, whether it holds the transaction within its subscription.
    const state = new Map<string, 'open' | 'done'>();
    for (const [i, key] of msg.manifest.entries()) {
      if (state.has(key)) {
        ctx.addIssue({ code: 'custom', message: `duplicate key ${key} in the manifest`, path: ['manifest', i] });
        return;
      }
      state.set(key, 'open');
    }
    const account = (key: string, path: (string | number)[]): boolean => {
      const s = state.get(key);
      if (s === 'open') {
        state.set(key, 'done');
        return true;
      }
      ctx.addIssue({ code: 'custom', message: s === undefined ? `key ${key} is not in the manifest` : `key ${key} is listed twice in parts and omitted`, path });
      return false;
    };
    for (const [i, part] of msg.parts.entries()) if (!account(part.key, ['parts', i, 'key'])) return;
    for (const [i, o] of msg.omitted.entries()) if (!account(o.key, ['omitted', i, 'key'])) return;
    for (const [i, key] of msg.manifest.entries()) {
      if (state.get(key) === 'open') {
        ctx.addIssue({ code: 'custom', message: `manifest key ${key} is neither in parts nor in omitted`, path: ['manifest', i] });
        return;
      }
    }
  });
/** See {@link DeliverySchema}. */
export type DeliveryMessage = z.infer<typeof DeliverySchema>;

/**
 * `ack`: the sender has durably processed (applied, or rejected with an `error`) the first
 * `deliveries` deliveries it received on this connection. The peer frees that much of its window.
 */
export const AckSchema = z.object({
  type: z.literal('ack'),
  /** The sender's cursor into the receiver's log (informational: lag metrics, log truncation). */
  pos: PositionSchema,
  /** Deliveries received on this connection and durably processed, counted from the first. */
  deliveries: z.int().min(0),
});
/** See {@link AckSchema}. */
export type AckMessage = z.infer<typeof AckSchema>;

// A rule JSON Schema cannot show: keep RULES in json-schema.ts in step, so the hash covers it.
function uniqueKeys(keys: readonly string[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  for (const [i, key] of keys.entries()) {
    if (seen.has(key)) {
      ctx.addIssue({ code: 'custom', message: `duplicate key ${key}`, path: ['keys', i] });
      return;
    }
    seen.add(key);
  }
}

/** `want`: asks the receiver for parts of a transaction the sender lacks. */
export const WantSchema = z
  .object({
    type: z.literal('want'),
    txId: TxIdSchema,
    keys: z.array(DocKeySchema).min(1).max(LIMITS.keysPerTransaction),
  })
  .superRefine((msg, ctx) => uniqueKeys(msg.keys, ctx));
/** See {@link WantSchema}. */
export type WantMessage = z.infer<typeof WantSchema>;

/** `unavailable`: the answer to a `want` when the sender can ship none of the wanted parts. */
export const UnavailableSchema = z
  .object({
    type: z.literal('unavailable'),
    txId: TxIdSchema,
    keys: z.array(DocKeySchema).min(1).max(LIMITS.keysPerTransaction),
  })
  .superRefine((msg, ctx) => uniqueKeys(msg.keys, ctx));
/** See {@link UnavailableSchema}. */
export type UnavailableMessage = z.infer<typeof UnavailableSchema>;

const VIA = new Set<unknown>(Object.values(DeliveryVia));
const OMITTED_REASONS = new Set<unknown>(Object.values(OmittedReason));

/**
 * The `delivery` message copied out of `raw` if {@link DeliverySchema} accepts it, checked in
 * plain code: a receiver decodes one per transaction, and the schema parse cost more than the
 * store's whole apply of a small one. `undefined` when unsure; the schema then decides and
 * says what is wrong. The test "plainDelivery agrees with DeliverySchema" holds them together.
 */
export function plainDelivery(raw: unknown): DeliveryMessage | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { type, via, pos, durable, tx, manifest, redacted, parts, omitted } = raw as Record<string, unknown>;
  if (type !== 'delivery' || !VIA.has(via)) return undefined;
  if (typeof pos !== 'number' || !Number.isSafeInteger(pos) || pos < 1) return undefined;
  if (durable !== undefined && (typeof durable !== 'number' || !Number.isSafeInteger(durable) || durable < 0 || durable >= pos)) return undefined;
  const header = plainHeader(tx);
  if (!header) return undefined;
  const max = LIMITS.keysPerTransaction;
  if (typeof redacted !== 'number' || !Number.isSafeInteger(redacted) || redacted < 0 || redacted > max) return undefined;
  if (!Array.isArray(manifest) || !Array.isArray(parts) || !Array.isArray(omitted)) return undefined;
  if (manifest.length > max || parts.length > max || omitted.length > max) return undefined;
  const total = manifest.length + redacted;
  if (total === 0 || total > max) return undefined;
  // Every manifest key once, each accounted for exactly once by a part or an omission.
  const open = new Set<string>();
  for (const key of manifest as unknown[]) {
    if (!isDocKey(key) || open.has(key)) return undefined;
    open.add(key);
  }
  const outParts: ChangesetPart[] = [];
  for (const part of parts as unknown[]) {
    const copy = plainPart(part, LIMITS.changesPerPart, LIMITS.changeBytes);
    if (!copy || !open.delete(copy.key)) return undefined;
    outParts.push(copy);
  }
  const outOmitted: OmittedPart[] = [];
  for (const o of omitted as unknown[]) {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
    const { key, reason } = o as Record<string, unknown>;
    if (!isDocKey(key) || !OMITTED_REASONS.has(reason) || !open.delete(key)) return undefined;
    outOmitted.push({ key, reason: reason as OmittedReason });
  }
  if (open.size > 0) return undefined;
  const out: DeliveryMessage = { type, via: via as DeliveryVia, pos, tx: header, manifest: [...(manifest as DocKey[])], redacted, parts: outParts, omitted: outOmitted };
  if (durable !== undefined) out.durable = durable;
  return out;
}
