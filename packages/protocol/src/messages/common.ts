import { z } from 'zod';
import { LIMITS } from '../limits.js';

/**
 * A position in a peer's log: 1 for its first entry, then increasing. 0 means "before the
 * first entry" (a `sync` from scratch). Safe integers only, so positions survive msgpack and JS.
 */
export const PositionSchema = z.int().min(0);

/**
 * Identifies one incarnation of a peer's log. Positions are meaningful only together with it:
 * a peer whose log was recreated (data wiped, a new install) announces a new log id, and
 * cursors into the old one are dropped.
 */
export const LogIdSchema = z.string().min(1).max(128).brand<'LogId'>();
/** See {@link LogIdSchema}. */
export type LogId = z.infer<typeof LogIdSchema>;

/** The largest frame a peer accepts, as it advertises it in `hello` and `welcome`. */
export const MaxBytesSchema = z.int().min(LIMITS.minMessageBytes).max(LIMITS.maxMessageBytes);

/** A fresh random log id (128 bits, hex). Create one when a peer creates its log, and persist it. */
export function randomLogId(): LogId {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out as LogId;
}
