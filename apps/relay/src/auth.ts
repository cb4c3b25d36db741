import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  ALL_COLLECTIONS,
  CollectionNameSchema,
  ErrorKind,
  LIMITS,
  PeerIdSchema,
  ProtocolError,
  parseDocKey,
  unreachable,
  type DocKey,
  type HelloMessage,
} from '@atoll/protocol';
import { OPEN_POLICY, type PeerPolicy } from '@atoll/sync';
import { RelayConfigError } from './errors.js';

/**
 * What one token allows, as written in a permissions file: the peer id it must be used by (if
 * any) and the collections its holder may read and write. `'*'` means every collection.
 */
export interface PermissionEntry {
  /** The only peer id this token is valid for. Absent: any peer id. */
  readonly peer?: string;
  /** Collections the peer receives (and whose keys it sees in manifests). */
  readonly read: readonly string[];
  /** Collections the peer may write; a changeset writing any other is rejected whole. */
  readonly write: readonly string[];
}

/** The contents of a permissions file: tokens mapped to what they allow. */
export type PermissionsDocument = Readonly<Record<string, PermissionEntry>>;

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Names an entry in messages without printing the secret. */
function tokenLabel(index: number, token: string): string {
  const shown = token.length > 8 ? `${token.slice(0, 3)}…` : '…';
  return `entry ${index + 1} (token "${shown}")`;
}

/**
 * A validated set of tokens with their scopes. Tokens are kept only as SHA-256 digests, so a
 * heap dump or a log line never shows them, and a lookup does not compare secrets byte by byte.
 */
export class PermissionSet {
  readonly #entries = new Map<string, PermissionEntry>();

  private constructor() {}

  /**
   * Validates a parsed permissions document. `source` names it in error messages (a file path).
   *
   * @throws {RelayConfigError} naming the entry and field that is wrong.
   * @example
   * const permissions = PermissionSet.parse({
   *   'token-for-ann': { peer: 'ann-laptop', read: ['*'], write: ['todos'] },
   *   'token-for-dashboards': { read: ['todos', 'stats'], write: [] },
   * });
   */
  static parse(document: unknown, source = 'permissions'): PermissionSet {
    const fail = (where: string, what: string): never => {
      throw new RelayConfigError(`${source}: ${where}: ${what}`);
    };
    if (typeof document !== 'object' || document === null || Array.isArray(document)) {
      fail('the top level', 'must be a JSON object mapping each token to { "peer"?: string, "read": [collections], "write": [collections] }');
    }
    const set = new PermissionSet();
    Object.entries(document as Record<string, unknown>).forEach(([token, value], index) => {
      const where = tokenLabel(index, token);
      if (token.length === 0 || token.length > LIMITS.tokenLength) fail(where, `a token must be 1 to ${LIMITS.tokenLength} characters`);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(where, 'must be an object { "peer"?: string, "read": [...], "write": [...] }');
      const fields = value as Record<string, unknown>;
      for (const field of Object.keys(fields)) {
        if (field !== 'peer' && field !== 'read' && field !== 'write') fail(where, `unknown field "${field}" (allowed: peer, read, write)`);
      }
      const scope = (field: 'read' | 'write'): string[] => {
        const list = fields[field];
        if (!Array.isArray(list)) return fail(where, `"${field}" must be an array of collection names or "*" (use [] for none)`);
        return list.map((name: unknown, i) => {
          if (name === ALL_COLLECTIONS) return name;
          if (typeof name !== 'string' || !CollectionNameSchema.safeParse(name).success) {
            return fail(where, `"${field}"[${i}]: ${JSON.stringify(name)} is not a collection name (1-128 of A-Z a-z 0-9 _ . -, starting with a letter or _) nor "*"`);
          }
          return name;
        });
      };
      const entry: { peer?: string; read: string[]; write: string[] } = { read: scope('read'), write: scope('write') };
      if (fields['peer'] !== undefined) {
        if (typeof fields['peer'] !== 'string' || !PeerIdSchema.safeParse(fields['peer']).success) fail(where, '"peer" must be a peer id (a string of 1-128 characters)');
        entry.peer = fields['peer'] as string;
      }
      set.#entries.set(sha256(token).toString('hex'), Object.freeze(entry));
    });
    return set;
  }

  /**
   * Reads and validates a permissions file (JSON).
   *
   * @throws {RelayConfigError} when the file cannot be read, is not JSON, or is invalid.
   */
  static async load(path: string): Promise<PermissionSet> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new RelayConfigError(`cannot read the permissions file ${path}: ${(err as Error).message}`, { cause: err });
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (err) {
      throw new RelayConfigError(`the permissions file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    return PermissionSet.parse(document, `the permissions file ${path}`);
  }

  /** How many tokens it holds. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry of a token, if it is one of them. */
  lookup(token: string): PermissionEntry | undefined {
    return this.#entries.get(sha256(token).toString('hex'));
  }
}

/**
 * Whether a scope (collection names or `'*'`) covers a document. Asked for every key of every
 * delivery in both directions, so the scope becomes a set once, and `'*'` a constant.
 */
function coverage(scope: readonly string[]): (key: DocKey) => boolean {
  if (scope.includes(ALL_COLLECTIONS)) return () => true;
  if (scope.length === 0) return () => false;
  const collections = new Set(scope);
  return (key) => collections.has(parseDocKey(key).collection);
}

/** The policy of a permissions entry: reads and writes limited to its collections. */
export function scopePolicy(entry: PermissionEntry): PeerPolicy {
  return { canRead: coverage(entry.read), canWrite: coverage(entry.write) };
}

/** How the relay authenticates peers: not at all, one shared secret, or a permissions set. */
export type AuthConfig = { readonly mode: 'open' } | { readonly mode: 'token'; readonly token: string } | { readonly mode: 'permissions'; readonly permissions: PermissionSet };

/**
 * The `authenticate` hook of the relay's SyncPeer: checks `hello.token` and returns what the
 * peer may read and write. A missing or wrong token, or a token bound to another peer id, is a
 * fatal `auth` error: the peer gets an `error` and a close, and its dialer stops retrying.
 */
export function authenticator(config: AuthConfig): (hello: HelloMessage) => PeerPolicy {
  switch (config.mode) {
    case 'open':
      return () => OPEN_POLICY;
    case 'token': {
      const expected = sha256(config.token);
      return (hello) => {
        if (hello.token === undefined) throw new ProtocolError(ErrorKind.Auth, 'this relay requires a token in hello');
        // Digests have equal lengths, so the comparison takes the same time whatever the token.
        if (!timingSafeEqual(sha256(hello.token), expected)) throw new ProtocolError(ErrorKind.Auth, 'wrong token');
        return OPEN_POLICY;
      };
    }
    case 'permissions': {
      const { permissions } = config;
      return (hello) => {
        if (hello.token === undefined) throw new ProtocolError(ErrorKind.Auth, 'this relay requires a token in hello');
        const entry = permissions.lookup(hello.token);
        if (!entry) throw new ProtocolError(ErrorKind.Auth, 'unknown token');
        if (entry.peer !== undefined && entry.peer !== hello.peerId) {
          throw new ProtocolError(ErrorKind.Auth, `this token belongs to another peer id than ${JSON.stringify(hello.peerId)}`);
        }
        return scopePolicy(entry);
      };
    }
    default:
      return unreachable(config);
  }
}
