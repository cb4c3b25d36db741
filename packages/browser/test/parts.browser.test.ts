// The pieces openBrowserPeer is made of: the Web Locks writer lock, the leader election, the
// channel's message checks, and relay addresses.
import { afterEach, describe, expect, test } from 'vitest';
import { silentLogger } from '@atoll/store';
import { parseChannelMessage } from '../src/channel.js';
import { LeaderElection } from '../src/leader.js';
import { relaySyncUrl, webLockWriterLock } from '../src/index.js';
import { cleanUp, recordingLogger, until } from './helpers.js';

afterEach(cleanUp);

const lockName = () => `atoll-test-lock-${crypto.randomUUID()}`;

describe('webLockWriterLock', () => {
  test('one holder at a time across lock objects, in request order', async () => {
    const name = lockName();
    const a = webLockWriterLock(name, { logger: silentLogger });
    const b = webLockWriterLock(name, { logger: silentLogger });
    const order: string[] = [];
    const releaseA = await a.acquire('first');
    const second = b.acquire('second').then((release) => {
      order.push('second');
      return release;
    });
    const third = a.acquire('third').then((release) => {
      order.push('third');
      return release;
    });
    const state = await navigator.locks.query();
    expect(state.pending?.filter((l) => l.name === name)).toHaveLength(2);
    order.push('first');
    releaseA();
    releaseA(); // releasing twice is harmless
    (await second)();
    (await third)();
    expect(order).toEqual(['first', 'second', 'third']);
    // The browser lets go once the holder's callback has settled, a task later.
    await until(async () => (await navigator.locks.query()).held?.some((l) => l.name === name) === false, 'the lock to be free');
  });

  test('a writer that waits too long is reported, naming the lock', async () => {
    const name = lockName();
    const logger = recordingLogger();
    const holder = webLockWriterLock(name, { logger: silentLogger });
    const waiter = webLockWriterLock(name, { logger, watchdogMs: 20 });
    const release = await holder.acquire('slow');
    const waiting = waiter.acquire('stuck');
    await until(() => logger.lines.length > 0, 'the watchdog');
    expect(logger.lines[0]).toMatchObject({ level: 'warn' });
    expect(logger.lines[0]?.message).toContain(`transaction 'stuck' has waited`);
    expect(logger.lines[0]?.message).toContain(name);
    release();
    (await waiting)();
  });
});

describe('LeaderElection', () => {
  test('the first leads; the next leads once it closes; a closed follower never does', async () => {
    const name = lockName();
    const led: string[] = [];
    const election = (id: string) => new LeaderElection({ lockName: name, locks: navigator.locks, logger: silentLogger, onLeader: () => led.push(id) });
    const a = election('a');
    const b = election('b');
    const c = election('c');
    await a.start();
    await b.start();
    await c.start();
    expect([a.role, b.role, c.role]).toEqual(['leader', 'follower', 'follower']);
    await b.close(); // stops waiting
    await a.close(); // hands over to c, not b
    await until(() => c.role === 'leader', 'c to lead');
    expect(led).toEqual(['a', 'c']);
    expect([a.role, b.role]).toEqual(['closed', 'closed']);
    await c.close();
    expect((await navigator.locks.query()).held?.some((l) => l.name === name)).toBe(false);
  });
});

describe('channel messages', () => {
  test('well-formed messages are accepted, unknown fields dropped', () => {
    expect(parseChannelMessage({ type: 'commit', pos: 3, extra: true })).toEqual({ type: 'commit', pos: 3 });
    expect(parseChannelMessage({ type: 'sync-status', connection: 'open', lastSyncAt: 5 })).toEqual({ type: 'sync-status', connection: 'open', lastSyncAt: 5, lastError: undefined });
    expect(parseChannelMessage({ type: 'sync-status-request' })).toEqual({ type: 'sync-status-request' });
  });

  test.each([
    ['not an object', 'commit'],
    ['null', null],
    ['unknown type', { type: 'reboot' }],
    ['position 0', { type: 'commit', pos: 0 }],
    ['fractional position', { type: 'commit', pos: 1.5 }],
    ['position as text', { type: 'commit', pos: '4' }],
    ['unknown connection status', { type: 'sync-status', connection: 'great' }],
    ['lastSyncAt as text', { type: 'sync-status', connection: 'open', lastSyncAt: 'now' }],
  ])('%s is ignored', (_what, data) => {
    expect(parseChannelMessage(data)).toBeUndefined();
  });
});

describe('relaySyncUrl', () => {
  test.each([
    ['ws://127.0.0.1:8787', 'ws://127.0.0.1:8787/sync'],
    ['wss://relay.example.com/', 'wss://relay.example.com/sync'],
    ['https://relay.example.com/atoll', 'wss://relay.example.com/atoll/sync'],
    ['http://localhost:8787', 'ws://localhost:8787/sync'],
  ])('%s → %s', (relay, url) => {
    expect(relaySyncUrl(relay)).toBe(url);
  });

  test('a relative address is resolved against the page', () => {
    expect(relaySyncUrl('/')).toBe(`${location.origin.replace(/^http/, 'ws')}/sync`);
  });
});
