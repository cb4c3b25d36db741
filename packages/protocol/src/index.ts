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
export { BytesSchema, ChangesetPartSchema, ChangesetSchema, type Changeset, type ChangesetPart } from './changeset.js';
