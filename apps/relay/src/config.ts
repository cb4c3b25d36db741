import { parseArgs } from 'node:util';
import { RelayConfigError } from './errors.js';
import type { RelayOptions } from './relay.js';

/** The command line's help text. */
export const USAGE = `Usage: atoll-relay [options]

Runs an Atoll relay: a peer that listens, persists in SQLite, subscribes to everything
and forwards. Peers dial ws://HOST:PORT/sync. Every option can also be set in the
environment variable shown; a flag wins over the variable.

  --port N                TCP port, 0 for any free one       ATOLL_PORT     (8787)
  --host ADDR             interface to bind                  ATOLL_HOST     (127.0.0.1)
  --data DIR              data directory (relay.db)          ATOLL_DATA     (./atoll-data)
  --token SECRET          shared secret every peer sends     ATOLL_TOKEN    (none: open relay)
  --permissions FILE      tokens with read/write scopes      ATOLL_PERMISSIONS
  --static DIR            serve a built web app at /         ATOLL_STATIC
  --max-message-bytes N   largest frame (64KiB..1GiB)        ATOLL_MAX_MESSAGE_BYTES (16MiB)
  --rate-limit N          messages per second per peer       ATOLL_RATE_LIMIT (1000; 0 = off)
  --rate-burst N          messages allowed at once           ATOLL_RATE_BURST (2000)
  -h, --help              this text

Prefer ATOLL_TOKEN to --token: command lines are visible to other users (ps).
SIGTERM or SIGINT shuts down gracefully. See docs/relay.md.
`;

/** What the command line asks for. */
export type RelayCommand = { readonly kind: 'help' } | { readonly kind: 'run'; readonly options: RelayOptions };

const SIZE = /^(\d+)\s*(k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
const UNITS: Readonly<Record<string, number>> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parses a byte size: `65536`, `64KiB`, `16MiB`, `1g` (units are binary: K = 1024). */
export function parseSize(text: string, name: string): number {
  const match = SIZE.exec(text.trim());
  if (!match) throw new RelayConfigError(`${name} must be a number of bytes such as 65536, 64KiB or 16MiB, got ${JSON.stringify(text)}`);
  const unit = match[2]?.[0]?.toLowerCase();
  return Number(match[1]) * (unit ? (UNITS[unit] ?? 1) : 1);
}

function parseInteger(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new RelayConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * Turns the command line and the environment into {@link RelayOptions}; flags win over
 * `ATOLL_*` variables, which win over the defaults.
 *
 * @throws {RelayConfigError} naming the flag and what it accepts.
 * @example
 * const command = parseRelayArgs(process.argv.slice(2), process.env);
 */
export function parseRelayArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): RelayCommand {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        token: { type: 'string' },
        permissions: { type: 'string' },
        static: { type: 'string' },
        'max-message-bytes': { type: 'string' },
        'rate-limit': { type: 'string' },
        'rate-burst': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new RelayConfigError(`${(err as Error).message}; see --help`, { cause: err });
  }
  if (values['help'] === true) return { kind: 'help' };
  const pick = (flag: string, variable: string): string | undefined => {
    const value = values[flag];
    if (typeof value === 'string') return value;
    const fromEnv = env[variable];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const options: { -readonly [K in keyof RelayOptions]: RelayOptions[K] } = {};
  const port = pick('port', 'ATOLL_PORT');
  if (port !== undefined) options.port = parseInteger(port, '--port (ATOLL_PORT)', 0, 65_535);
  const host = pick('host', 'ATOLL_HOST');
  if (host !== undefined) options.host = host;
  const data = pick('data', 'ATOLL_DATA');
  if (data !== undefined) options.dataDir = data;
  const token = pick('token', 'ATOLL_TOKEN');
  if (token !== undefined) options.token = token;
  const permissions = pick('permissions', 'ATOLL_PERMISSIONS');
  if (permissions !== undefined) options.permissionsFile = permissions;
  if (token !== undefined && permissions !== undefined) {
    throw new RelayConfigError('give either --token (ATOLL_TOKEN) or --permissions (ATOLL_PERMISSIONS), not both');
  }
  const staticDir = pick('static', 'ATOLL_STATIC');
  if (staticDir !== undefined) options.staticDir = staticDir;
  const maxBytes = pick('max-message-bytes', 'ATOLL_MAX_MESSAGE_BYTES');
  if (maxBytes !== undefined) options.maxMessageBytes = parseSize(maxBytes, '--max-message-bytes (ATOLL_MAX_MESSAGE_BYTES)');
  const rate = pick('rate-limit', 'ATOLL_RATE_LIMIT');
  const burst = pick('rate-burst', 'ATOLL_RATE_BURST');
  if (rate !== undefined && parseInteger(rate, '--rate-limit (ATOLL_RATE_LIMIT)', 0, 1_000_000) === 0) {
    options.rateLimit = false;
  } else if (rate !== undefined || burst !== undefined) {
    options.rateLimit = {
      ...(rate !== undefined ? { messagesPerSecond: parseInteger(rate, '--rate-limit (ATOLL_RATE_LIMIT)', 1, 1_000_000) } : {}),
      ...(burst !== undefined ? { burst: parseInteger(burst, '--rate-burst (ATOLL_RATE_BURST)', 1, 10_000_000) } : {}),
    };
  }
  return { kind: 'run', options };
}
