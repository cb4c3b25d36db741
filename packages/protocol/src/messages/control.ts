import { z } from 'zod';
import { TxIdSchema } from '../ids.js';
import { LIMITS } from '../limits.js';
import { ERROR_KINDS } from '../protocol-error.js';

/**
 * `error`: something went wrong on the sender's side of the connection, or with what the peer
 * sent. When `fatal`, the sender closes the connection right after it.
 */
export const ErrorMessageSchema = z.object({
  type: z.literal('error'),
  kind: z.enum(ERROR_KINDS),
  /** For humans and logs; never parsed. */
  message: z.string().max(LIMITS.errorMessageLength),
  fatal: z.boolean(),
  /** The changeset the error is about (`forbidden`, `invalid-change`): it was rejected whole. */
  txId: TxIdSchema.optional(),
  /** For `rate-limited`: how long to hold back. */
  retryAfterMs: z.int().min(0).max(24 * 60 * 60 * 1000).optional(),
});
/** See {@link ErrorMessageSchema}. */
export type ErrorMessage = z.infer<typeof ErrorMessageSchema>;

const NonceSchema = z.int().min(0).max(0xffff_ffff);

/** `ping`: keep-alive probe; the peer answers `pong` with the same nonce. */
export const PingSchema = z.object({ type: z.literal('ping'), nonce: NonceSchema });
/** See {@link PingSchema}. */
export type PingMessage = z.infer<typeof PingSchema>;

/** `pong`: the answer to a `ping`, echoing its nonce. */
export const PongSchema = z.object({ type: z.literal('pong'), nonce: NonceSchema });
/** See {@link PongSchema}. */
export type PongMessage = z.infer<typeof PongSchema>;
