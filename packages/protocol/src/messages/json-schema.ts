import { z } from 'zod';
import { BytesSchema } from '../changeset.js';
import { LIMITS } from '../limits.js';
import { FILTER_JSON_SCHEMA, FilterBaseSchema, FilterSchema } from './filter-schema.js';
import { MESSAGE_SCHEMAS } from './message.js';
import { ChangeBytesSchema } from './replication.js';

/** A JSON Schema document, as zod produces it. */
export type JsonSchema = z.core.JSONSchema.BaseSchema;

/**
 * JSON Schema has no byte arrays and cannot express the filter AST, so these custom zod types
 * are described by hand. Every custom type on the wire must be here: an unknown one makes
 * {@link protocolDescription} throw rather than vanish from the description (and the hash).
 * Refined types appear next to their base because zod visits both.
 */
const CUSTOM_TYPES = new Map<unknown, JsonSchema>([
  [ChangeBytesSchema, { 'x-msgpack': 'bin', maxBytes: LIMITS.changeBytes }],
  [BytesSchema, { 'x-msgpack': 'bin' }],
  [FilterSchema, FILTER_JSON_SCHEMA],
  [FilterBaseSchema, FILTER_JSON_SCHEMA],
]);

/**
 * The JSON Schema of one message schema, with the byte and filter types described and metadata
 * (descriptions) left out: editing documentation is not a protocol change.
 *
 * @throws Error when the schema holds a custom type with no description (see CUSTOM_TYPES).
 */
export function wireJsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, {
    // What a receiver accepts: unknown fields are dropped, not refused.
    io: 'input',
    metadata: z.registry<Record<string, unknown>>(),
    unrepresentable: ({ zodSchema, path }) => {
      const described = CUSTOM_TYPES.get(zodSchema);
      if (described === undefined) throw new Error(`no JSON Schema description for the custom type at ${path.join('.')}: add it to CUSTOM_TYPES`);
      return described;
    },
  });
}

/**
 * Cross-field rules the schemas enforce with refinements, which JSON Schema cannot show. Keep
 * this list in step with the refinements: it is what puts them into the schema hash.
 */
const RULES = [
  'subscribe: subscription ids are unique within subs',
  'delivery: manifest keys are unique; each is in exactly one of parts and omitted, which hold no other keys',
  'delivery: 1 <= manifest.length + redacted <= keysPerTransaction',
  'delivery: durable, when present, is below pos',
  'want, unavailable: keys are unique',
] as const;

/** What {@link protocolDescription} returns. */
export interface ProtocolDescription {
  /** How frames are encoded. */
  readonly encoding: JsonSchema;
  /** Cross-field rules beyond what the JSON Schemas say. */
  readonly rules: readonly string[];
  /** The JSON Schema of every message type. */
  readonly messages: Readonly<Record<string, JsonSchema>>;
}

/**
 * Everything two peers must agree on, as data: the frame encoding and the JSON Schema of every
 * message. Its hash is recorded next to `PROTOCOL_VERSION` in the tests; it documents the
 * protocol for other implementations too. `schemas` defaults to the protocol's own (tests pass
 * altered copies to show the hash notices changes).
 */
export function protocolDescription(schemas: Readonly<Record<string, z.ZodType>> = MESSAGE_SCHEMAS): ProtocolDescription {
  const messages: Record<string, JsonSchema> = {};
  for (const [type, schema] of Object.entries(schemas)) messages[type] = wireJsonSchema(schema);
  return {
    encoding: {
      'x-format': 'msgpack, one message per binary frame, a map with a string "type"',
      'x-extensions': 'none',
      'x-max-depth': LIMITS.msgpackDepth,
      'x-max-message-bytes': { min: LIMITS.minMessageBytes, max: LIMITS.maxMessageBytes },
    },
    rules: RULES,
    messages,
  };
}
