import { describe, expect, it } from 'vitest';
import { RelayConfigError, parseRelayArgs, parseSize } from '../src/index.js';

describe('command line and environment', () => {
  it('defaults to nothing set (startRelay fills in 127.0.0.1:8787, ./atoll-data, open)', () => {
    expect(parseRelayArgs([], {})).toEqual({ kind: 'run', options: {} });
    expect(parseRelayArgs(['--help'], {})).toEqual({ kind: 'help' });
    expect(parseRelayArgs(['-h'], {})).toEqual({ kind: 'help' });
  });

  it('reads every flag, and ATOLL_* variables when a flag is absent; flags win', () => {
    expect(
      parseRelayArgs(
        ['--port', '9000', '--host', '0.0.0.0', '--data', '/var/lib/atoll', '--token', 'flag-token', '--static', './dist', '--max-message-bytes', '32MiB', '--rate-limit', '200', '--rate-burst', '400'],
        { ATOLL_PORT: '1', ATOLL_TOKEN: 'env-token' },
      ),
    ).toEqual({
      kind: 'run',
      options: {
        port: 9000,
        host: '0.0.0.0',
        dataDir: '/var/lib/atoll',
        token: 'flag-token',
        staticDir: './dist',
        maxMessageBytes: 32 * 1024 * 1024,
        rateLimit: { messagesPerSecond: 200, burst: 400 },
      },
    });
    expect(
      parseRelayArgs([], {
        ATOLL_PORT: '0',
        ATOLL_HOST: '::1',
        ATOLL_DATA: 'd',
        ATOLL_PERMISSIONS: 'perms.json',
        ATOLL_STATIC: 's',
        ATOLL_MAX_MESSAGE_BYTES: '65536',
        ATOLL_RATE_LIMIT: '0',
      }),
    ).toEqual({ kind: 'run', options: { port: 0, host: '::1', dataDir: 'd', permissionsFile: 'perms.json', staticDir: 's', maxMessageBytes: 65536, rateLimit: false } });
    expect(parseRelayArgs([], { ATOLL_TOKEN: '' })).toEqual({ kind: 'run', options: {} });
  });

  it('refuses bad values with a message naming the flag', () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--port', '80a'], {}, /--port \(ATOLL_PORT\) must be an integer from 0 to 65535/],
      [['--port', '70000'], {}, /--port/],
      [[], { ATOLL_PORT: '-1' }, /ATOLL_PORT/],
      [['--max-message-bytes', 'lots'], {}, /--max-message-bytes .* 64KiB or 16MiB/],
      [['--rate-limit', '1.5'], {}, /--rate-limit/],
      [['--token', 't', '--permissions', 'p'], {}, /either --token .* or --permissions/],
      [['--bogus'], {}, /Unknown option '--bogus'.*see --help/],
      [['stray'], {}, /see --help/],
    ];
    for (const [argv, env, message] of cases) {
      expect(() => parseRelayArgs(argv, env), argv.join(' ')).toThrow(RelayConfigError);
      expect(() => parseRelayArgs(argv, env), argv.join(' ')).toThrow(message);
    }
  });

  it('parses sizes with binary units', () => {
    expect(parseSize('65536', 'x')).toBe(65536);
    expect(parseSize('64KiB', 'x')).toBe(65536);
    expect(parseSize('64k', 'x')).toBe(65536);
    expect(parseSize('16 MiB', 'x')).toBe(16 * 1024 * 1024);
    expect(parseSize('1GB', 'x')).toBe(1024 ** 3);
    expect(() => parseSize('1.5MiB', 'x')).toThrow(RelayConfigError);
  });
});
