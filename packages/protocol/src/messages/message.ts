import { z } from 'zod';
import { ErrorMessageSchema, PingSchema, PongSchema } from './control.js';
import { HelloSchema, WelcomeSchema } from './handshake.js';
import { AckSchema, CaughtUpSchema, DeliverySchema, SubscribeSchema, SyncSchema, UnavailableSchema, WantSchema } from './replication.js';

/** The `type` of every message of the protocol. */
export const MessageType = {
  Hello: 'hello',
  Welcome: 'welcome',
  Error: 'error',
  Subscribe: 'subscribe',
  Sync: 'sync',
  CaughtUp: 'caught-up',
  Delivery: 'delivery',
  Ack: 'ack',
  Want: 'want',
  Unavailable: 'unavailable',
  Ping: 'ping',
  Pong: 'pong',
} as const;
/** One of the {@link MessageType} values. */
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * The schema of each message type. Typed as a complete record, so adding a type to
 * {@link MessageType} without a schema (or the reverse) does not compile.
 */
export const MESSAGE_SCHEMAS = {
  hello: HelloSchema,
  welcome: WelcomeSchema,
  error: ErrorMessageSchema,
  subscribe: SubscribeSchema,
  sync: SyncSchema,
  'caught-up': CaughtUpSchema,
  delivery: DeliverySchema,
  ack: AckSchema,
  want: WantSchema,
  unavailable: UnavailableSchema,
  ping: PingSchema,
  pong: PongSchema,
} as const satisfies { readonly [T in MessageType]: z.ZodType<{ type: T }> };

/** Every message of the protocol: a discriminated union on `type`, checked before any use. */
export const MessageSchema = z.discriminatedUnion('type', [
  HelloSchema,
  WelcomeSchema,
  ErrorMessageSchema,
  SubscribeSchema,
  SyncSchema,
  CaughtUpSchema,
  DeliverySchema,
  AckSchema,
  WantSchema,
  UnavailableSchema,
  PingSchema,
  PongSchema,
]);
/** Any message of the protocol; narrow it with a `switch` on `type`. */
export type Message = z.infer<typeof MessageSchema>;

/** The message of one type: `MessageOf<'delivery'>` is a `DeliveryMessage`. */
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

const TYPES: ReadonlySet<string> = new Set(Object.values(MessageType));

/** Whether `type` names a message of this protocol version. */
export function isMessageType(type: unknown): type is MessageType {
  return typeof type === 'string' && TYPES.has(type);
}
