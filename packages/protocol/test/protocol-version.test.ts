import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ChangeBytesSchema,
  HelloSchema,
  MESSAGE_SCHEMAS,
  MessageType,
  PingSchema,
  PROTOCOL_VERSION,
  ProtocolError,
  SUPPORTED_PROTOCOL_VERSIONS,
  checkWelcomeVersion,
  negotiateVersion,
  protocolDescription,
  type ProtocolDescription,
} from '../src/index.js';

/**
 * The hash of `protocolDescription()` at each protocol version, one line per version.
 * When the schemas change: bump PROTOCOL_VERSION, add a line here, in the history next to
 * PROTOCOL_VERSION and in docs/protocol.md. (If only zod's JSON Schema output changed — a zod
 * upgrade, with no change on the wire — re-record the current line instead, and say so in the
 * commit message.)
 */
const SCHEMA_HASHES: Readonly<Record<number, string>> = {
  1: 'ea80a5fc091cafb8e6d5ebe898b526aa4f24b7a0f3b9ab01e8baed40868857ab',
  2: '2fb8ef43a04f87cdec90155ce16ccec4e7939bf9028c004f2b4502785606ad5a',
};

/** JSON with sorted keys (and sorted `required` lists, whose order means nothing), so the hash depends on content only. */
function stableStringify(value: unknown, key?: string): string {
  if (Array.isArray(value)) {
    const items = value.map((v) => stableStringify(v));
    if (key === 'required') items.sort();
    return `[${items.join(',')}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k], k)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

function schemaHash(description: ProtocolDescription): string {
  return createHash('sha256').update(stableStringify(description)).digest('hex');
}

describe('protocol version guard', () => {
  it('the message schemas match the hash recorded for PROTOCOL_VERSION', () => {
    const hash = schemaHash(protocolDescription());
    expect(
      hash,
      `The message schemas changed (their hash is now ${hash}): bump PROTOCOL_VERSION in src/protocol-version.ts, ` +
        `add a line to its history and to docs/protocol.md, and record this hash for the new version in SCHEMA_HASHES.`,
    ).toBe(SCHEMA_HASHES[PROTOCOL_VERSION]);
  });

  it('PROTOCOL_VERSION is the newest recorded version, supported, and every recorded hash is distinct', () => {
    const versions = Object.keys(SCHEMA_HASHES).map(Number);
    expect(Math.max(...versions)).toBe(PROTOCOL_VERSION);
    expect(SUPPORTED_PROTOCOL_VERSIONS).toContain(PROTOCOL_VERSION);
    expect(new Set(Object.values(SCHEMA_HASHES)).size).toBe(versions.length);
  });

  it('the description covers every message type', () => {
    expect(Object.keys(protocolDescription().messages).sort()).toEqual(Object.values(MessageType).sort());
  });

  describe('the hash notices schema changes', () => {
    const base = schemaHash(protocolDescription());
    const altered = (patch: Record<string, z.ZodType>): string => schemaHash(protocolDescription({ ...MESSAGE_SCHEMAS, ...patch }));

    it('an added field', () => {
      expect(altered({ ping: PingSchema.extend({ extra: z.string().optional() }) })).not.toBe(base);
    });
    it('a field made optional', () => {
      expect(altered({ hello: HelloSchema.extend({ peerId: HelloSchema.shape.peerId.optional() }) })).not.toBe(base);
    });
    it('a changed bound', () => {
      expect(altered({ hello: HelloSchema.extend({ token: z.string().min(1).max(10).optional() }) })).not.toBe(base);
    });
    it('a byte field, while an undescribed custom type is refused rather than hashed as "anything"', () => {
      expect(altered({ ping: PingSchema.extend({ blob: ChangeBytesSchema.optional() }) })).not.toBe(base);
      expect(() => protocolDescription({ ...MESSAGE_SCHEMAS, ping: PingSchema.extend({ blob: z.instanceof(Uint8Array) }) })).toThrow(/no JSON Schema description/);
    });
    it('a removed message type', () => {
      const { pong: _pong, ...rest } = MESSAGE_SCHEMAS;
      expect(schemaHash(protocolDescription(rest))).not.toBe(base);
    });
    it('but not a description or a reordering of fields', () => {
      expect(altered({ ping: PingSchema.meta({ description: 'keep-alive' }) })).toBe(base);
      expect(altered({ ping: z.object({ nonce: PingSchema.shape.nonce, type: PingSchema.shape.type }) })).toBe(base);
    });
  });

  it('docs/protocol.md has a history row for every recorded version and a section for every message', () => {
    const spec = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
    for (const version of Object.keys(SCHEMA_HASHES)) expect(spec).toMatch(new RegExp(`^\\| ${version} \\|`, 'm'));
    for (const type of Object.values(MessageType)) expect(spec).toMatch(new RegExp(`^#### \`${type}\``, 'm'));
  });
});

describe('version negotiation', () => {
  it('picks the highest version both sides speak', () => {
    expect(negotiateVersion([1])).toBe(1);
    expect(negotiateVersion([3, 1, 2], [2, 1])).toBe(2);
    expect(negotiateVersion([1, 4], [5, 4, 3])).toBe(4);
    expect(negotiateVersion([2, 2, 1], [1, 2])).toBe(2);
  });

  it('fails with a fatal version error, naming both sides’ versions, when none is common', () => {
    let error: unknown;
    try {
      negotiateVersion([7, 8], [1, 2]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ kind: 'version', fatal: true });
    expect((error as Error).message).toMatch(/\[7, 8\].*\[1, 2\]/);
  });

  it('the dialer refuses a welcome with a version it did not offer', () => {
    expect(checkWelcomeVersion(1)).toBe(1);
    expect(() => checkWelcomeVersion(2, [1])).toThrow(expect.objectContaining({ kind: 'version' }) as Error);
  });
});
