export { AtollError, InvariantError, ValidationError, assert, unreachable } from './errors.js';
export {
  CollectionNameSchema,
  DocIdSchema,
  DocKeySchema,
  PeerIdSchema,
  TxIdSchema,
  docKey,
  parseDocKey,
  randomPeerId,
  txId,
  type CollectionName,
  type DocId,
  type DocKey,
  type PeerId,
  type TxId,
} from './ids.js';
export { jsonEqual, type JsonObject, type JsonValue } from './json.js';
export {
  comparatorFor,
  compareValues,
  getPath,
  matchesFilter,
  validateFilter,
  validateQuery,
  type Condition,
  type Filter,
  type Operators,
  type OrderBy,
  type Query,
} from './filter.js';
export { BytesSchema, ChangesetPartSchema, ChangesetSchema, parseChangeset, type Changeset, type ChangesetPart } from './changeset.js';

// Wire protocol: see docs/protocol.md.
export { DEFAULTS, LIMITS } from './limits.js';
export { PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, checkWelcomeVersion, negotiateVersion } from './protocol-version.js';
export {
  ERROR_KINDS,
  ERROR_KIND_INFO,
  ErrorKind,
  ProtocolError,
  protocolErrorFromMessage,
  toErrorMessage,
  type ProtocolErrorOptions,
} from './protocol-error.js';
export { LogIdSchema, MaxBytesSchema, PositionSchema, randomLogId, type LogId } from './messages/common.js';
export { HelloSchema, PeerRole, PeerRoleSchema, WelcomeSchema, type HelloMessage, type WelcomeMessage } from './messages/handshake.js';
export { ErrorMessageSchema, PingSchema, PongSchema, type ErrorMessage, type PingMessage, type PongMessage } from './messages/control.js';
export { FilterSchema } from './messages/filter-schema.js';
export {
  ALL_COLLECTIONS,
  AckSchema,
  CaughtUpSchema,
  ChangeBytesSchema,
  ChangesetHeaderSchema,
  DeliveryPartSchema,
  DeliverySchema,
  DeliveryVia,
  OmittedPartSchema,
  OmittedReason,
  SubscribeSchema,
  SubscriptionSchema,
  SyncSchema,
  UnavailableSchema,
  WantSchema,
  type AckMessage,
  type CaughtUpMessage,
  type ChangesetHeader,
  type DeliveryMessage,
  type OmittedPart,
  type SubscribeMessage,
  type Subscription,
  type SyncMessage,
  type UnavailableMessage,
  type WantMessage,
} from './messages/replication.js';
export { MESSAGE_SCHEMAS, MessageSchema, MessageType, isMessageType, type Message, type MessageOf } from './messages/message.js';
export { protocolDescription, wireJsonSchema, type JsonSchema, type ProtocolDescription } from './messages/json-schema.js';
export { decodeMessage, encodeMessage, type DecodeOptions, type EncodeOptions } from './codec.js';
export { scanMsgpack, type ScanLimits } from './msgpack-scan.js';
export {
  ConnectionPhase,
  StreamState,
  checkReceive,
  checkSend,
  closedState,
  initialConnectionState,
  type ConnectionSide,
  type ConnectionState,
} from './connection.js';
export { buildDelivery, deliveryCoverage, type BuildDeliveryOptions, type DeliveryCoverage, type ShipDecision } from './delivery.js';
