import { z } from 'zod';
import { DocKeySchema, PeerIdSchema, TxIdSchema } from './ids.js';

/** Automerge change bytes. */
export const BytesSchema: z.ZodType<Uint8Array> = z.instanceof(Uint8Array);

/** One document's share of a transaction: the Automerge changes it made to that document. */
export const ChangesetPartSchema = z.object({
  key: DocKeySchema,
  changes: z.array(BytesSchema).min(1).max(10_000),
  /** Set when the transaction deleted the document (the tombstone is also in the changes). */
  deleted: z.literal(true).optional(),
});
export type ChangesetPart = z.infer<typeof ChangesetPartSchema>;

/**
 * A committed read-write transaction as it replicates: one part per document it wrote and the
 * manifest of every document it wrote, so a receiver can tell whether it holds all of it.
 */
export const ChangesetSchema = z.object({
  id: TxIdSchema,
  origin: PeerIdSchema,
  /** The origin's commit counter: 1, 2, 3 … */
  seq: z.number().int().positive(),
  /** Commit time at the origin, ms since the epoch (informational; never used for ordering). */
  time: z.number().finite(),
  hint: z.string().max(256).optional(),
  parts: z.array(ChangesetPartSchema).max(10_000),
  manifest: z.array(DocKeySchema).min(1).max(10_000),
});
export type Changeset = z.infer<typeof ChangesetSchema>;
