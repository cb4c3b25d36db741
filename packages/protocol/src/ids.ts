import { z } from 'zod';
import { ValidationError } from './errors.js';

const COLLECTION_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/** A collection name: letters, digits, `_`, `-` and `.`, starting with a letter or `_`. */
export const CollectionNameSchema = z.string().regex(COLLECTION_NAME, 'collection names are 1-128 of [A-Za-z0-9_.-], starting with a letter or _');
export type CollectionName = z.infer<typeof CollectionNameSchema>;

/** A document id, unique within its collection. Any non-empty string up to 512 characters. */
export const DocIdSchema = z.string().min(1).max(512);
export type DocId = z.infer<typeof DocIdSchema>;

/** `collection/_id`: names one document in a store. */
export const DocKeySchema = z
  .string()
  .max(641)
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}\/.+$/s, 'a DocKey is collection/_id')
  .brand<'DocKey'>();
export type DocKey = z.infer<typeof DocKeySchema>;

/** The identity of a replicating peer (a relay, a device, a Node process). */
export const PeerIdSchema = z.string().min(1).max(128).brand<'PeerId'>();
export type PeerId = z.infer<typeof PeerIdSchema>;

/** The id of a committed transaction, unique across all peers: `origin:seq`. */
export const TxIdSchema = z.string().min(3).max(160).brand<'TxId'>();
export type TxId = z.infer<typeof TxIdSchema>;

/** Builds the key of a document. Throws {@link ValidationError} for a bad collection or id. */
export function docKey(collection: string, id: string): DocKey {
  // A plain regex test: this runs for every operation, where a schema parse costs more.
  if (typeof collection !== 'string' || !COLLECTION_NAME.test(collection)) {
    throw new ValidationError(`invalid collection name ${JSON.stringify(collection)}: use 1-128 of [A-Za-z0-9_.-], starting with a letter or _`);
  }
  if (typeof id !== 'string' || id.length === 0 || id.length > 512) {
    throw new ValidationError(`invalid document id ${JSON.stringify(id)}: use a non-empty string of at most 512 characters`);
  }
  return `${collection}/${id}` as DocKey;
}

/** Splits a key into its collection and id (the id may itself contain `/`). */
export function parseDocKey(key: DocKey): { collection: string; id: string } {
  const slash = key.indexOf('/');
  return { collection: key.slice(0, slash), id: key.slice(slash + 1) };
}

/** Builds a transaction id from its origin and the origin's commit counter. */
export function txId(origin: PeerId, seq: number): TxId {
  return `${origin}:${seq}` as TxId;
}

/** A random peer id (URL-safe, 128 bits). */
export function randomPeerId(): PeerId {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out as PeerId;
}
