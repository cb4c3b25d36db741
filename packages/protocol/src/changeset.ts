import { z } from 'zod';
import { DocKeySchema, PeerIdSchema, TxIdSchema, type DocKey, type PeerId, type TxId } from './ids.js';

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

const DOC_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}\/.+$/s;

/**
 * Validates a changeset as {@link ChangesetSchema} does and returns a copy without unknown
 * fields. Every changeset a peer receives passes through here, so well-formed input takes a
 * plain-code path (a schema parse costs more than the rest of applying a small changeset);
 * anything that path does not accept goes to the schema, which decides and says what is wrong.
 * The test "parseChangeset agrees with ChangesetSchema" holds the two together.
 */
export function parseChangeset(input: unknown): { success: true; data: Changeset } | { success: false; error: z.ZodError } {
  const data = plainChangeset(input);
  if (data) return { success: true, data };
  const parsed = ChangesetSchema.safeParse(input);
  return parsed.success ? { success: true, data: parsed.data } : { success: false, error: parsed.error };
}

function plainChangeset(input: unknown): Changeset | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { parts, manifest } = input as Record<string, unknown>;
  const header = plainHeader(input);
  if (!header || !Array.isArray(parts) || parts.length > 10_000) return undefined;
  if (!Array.isArray(manifest) || manifest.length < 1 || manifest.length > 10_000) return undefined;
  const outParts: ChangesetPart[] = [];
  for (const part of parts as unknown[]) {
    const copy = plainPart(part, 10_000, Infinity);
    if (!copy) return undefined;
    outParts.push(copy);
  }
  for (const key of manifest as unknown[]) if (!isDocKey(key)) return undefined;
  return { ...header, parts: outParts, manifest: [...(manifest as DocKey[])] };
}

/**
 * A changeset's identity and metadata (`id`, `origin`, `seq`, `time`, `hint`) copied out of
 * `input` if {@link ChangesetSchema} accepts them; `undefined` when unsure. For the plain-code
 * paths that skip the schema: {@link parseChangeset}, and the `delivery` message's.
 */
export function plainHeader(input: unknown): Pick<Changeset, 'id' | 'origin' | 'seq' | 'time' | 'hint'> | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const { id, origin, seq, time, hint } = input as Record<string, unknown>;
  if (!isString(id, 3, 160) || !isString(origin, 1, 128)) return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= 0) return undefined;
  if (typeof time !== 'number' || !Number.isFinite(time)) return undefined;
  if (hint !== undefined && !isString(hint, 0, 256)) return undefined;
  const out = { id: id as TxId, origin: origin as PeerId, seq, time };
  return hint === undefined ? out : { ...out, hint };
}

/** A part copied out of `input` if {@link ChangesetPartSchema} accepts it with these bounds; `undefined` when unsure. */
export function plainPart(input: unknown, maxChanges: number, maxChangeBytes: number): ChangesetPart | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const { key, changes, deleted } = input as Record<string, unknown>;
  if (!isDocKey(key)) return undefined;
  if (!Array.isArray(changes) || changes.length < 1 || changes.length > maxChanges) return undefined;
  for (const c of changes as unknown[]) if (!(c instanceof Uint8Array) || c.byteLength > maxChangeBytes) return undefined;
  if (deleted !== undefined && deleted !== true) return undefined;
  const copy = { key, changes: [...(changes as Uint8Array[])] };
  return deleted === true ? { ...copy, deleted: true } : copy;
}

function isString(v: unknown, min: number, max: number): v is string {
  return typeof v === 'string' && v.length >= min && v.length <= max;
}

/** Whether {@link DocKeySchema} accepts `v`. */
export function isDocKey(v: unknown): v is DocKey {
  return typeof v === 'string' && v.length <= 641 && DOC_KEY.test(v);
}
