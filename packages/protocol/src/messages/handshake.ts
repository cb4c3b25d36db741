import { z } from 'zod';
import { PeerIdSchema } from '../ids.js';
import { LIMITS } from '../limits.js';
import { LogIdSchema, MaxBytesSchema } from './common.js';

/**
 * What a peer is, as it announces itself. Informational for the protocol (both sides speak the
 * same messages); a relay uses it for policy, logs and metrics.
 */
export const PeerRole = {
  /** An app's peer (a browser profile, a device) that dials a relay. */
  Client: 'client',
  /** A listening peer that persists, subscribes broadly and forwards. */
  Relay: 'relay',
  /** Any other peer (a Node process in a mesh). */
  Peer: 'peer',
} as const;
/** One of the {@link PeerRole} values. */
export type PeerRole = (typeof PeerRole)[keyof typeof PeerRole];

/** Validates a {@link PeerRole}. */
export const PeerRoleSchema = z.enum([PeerRole.Client, PeerRole.Relay, PeerRole.Peer]);

/**
 * `hello`: the first message on a connection, sent by the dialing side. Offers every protocol
 * version the dialer speaks and says who it is.
 */
export const HelloSchema = z.object({
  type: z.literal('hello'),
  /** Protocol versions the dialer speaks, in any order. */
  versions: z.array(z.int().min(1).max(65_535)).min(1).max(LIMITS.versions),
  peerId: PeerIdSchema,
  /** Credentials checked by the listener; absent when it needs none. */
  token: z.string().min(1).max(LIMITS.tokenLength).optional(),
  role: PeerRoleSchema,
  /** The dialer's log incarnation: the listener's cursor into the dialer's log is valid only for it. */
  logId: LogIdSchema,
  /** The largest frame the dialer accepts. */
  maxBytes: MaxBytesSchema,
});
/** See {@link HelloSchema}. */
export type HelloMessage = z.infer<typeof HelloSchema>;

/** `welcome`: the listener accepts a `hello`. From here on the connection is open. */
export const WelcomeSchema = z.object({
  type: z.literal('welcome'),
  /** The negotiated version: the highest one both sides speak. */
  version: z.int().min(1).max(65_535),
  peerId: PeerIdSchema,
  role: PeerRoleSchema,
  /** The listener's log incarnation. */
  logId: LogIdSchema,
  /** The largest frame the listener accepts. */
  maxBytes: MaxBytesSchema,
});
/** See {@link WelcomeSchema}. */
export type WelcomeMessage = z.infer<typeof WelcomeSchema>;
