// openBrowserPeer in real Chromium. Several peers of one profile in one page are several tabs
// as far as IndexedDB, Web Locks and BroadcastChannel are concerned, so these tests exercise
// the cross-tab machinery itself; e2e/tests/browser-*.spec.ts repeat the key scenarios with
// real tabs, browser contexts and the relay process.
import { afterEach, describe, expect, test } from 'vitest';
import { Store, type Doc } from '@atoll/store';
import { BrowserPeer, openBrowserPeer, type BrowserPeerStatus } from '../src/index.js';
import { cleanUp, items, openTab, testRelay, uniqueName, until } from './helpers.js';

afterEach(cleanUp);

/** Makes the page report itself hidden or visible (undefined: the real state) and tells listeners. */
function setVisibility(state: DocumentVisibilityState | undefined): void {
  if (state === undefined) Reflect.deleteProperty(document, 'visibilityState');
  else Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
  document.dispatchEvent(new Event('visibilitychange'));
}

describe('one tab', () => {
  test('works with no relay at all, and keeps its data across a reopen', async () => {
    const name = uniqueName();
    const peer = await openTab(name);
    expect(peer).toBeInstanceOf(BrowserPeer);
    expect(peer.store).toBeInstanceOf(Store);
    expect(peer.isLeader).toBe(true);
    expect(peer.status).toMatchObject({ role: 'leader', connection: 'no-relay', online: true, lastSyncAt: undefined });
    await peer.store.insert('items', { _id: 'a', text: 'hello' });
    await peer.close();
    expect(peer.status.role).toBe('closed');

    const again = await openTab(name);
    expect(await again.store.get('items', 'a')).toMatchObject({ text: 'hello' });
    expect(again.store.peerId).toBe(peer.store.peerId);
  });

  test('commits locally while the relay cannot be reached', async () => {
    const peer = await openTab(uniqueName(), {
      connect: () => Promise.reject(new Error('relay down')),
      dial: { minDelayMs: 10, maxDelayMs: 50 },
    });
    await until(() => peer.status.connection === 'waiting', 'the dialer to wait between attempts');
    expect(peer.status.lastError).toBe('relay down');
    await peer.store.insert('items', { _id: 'a', n: 1 });
    expect(await peer.store.get('items', 'a')).toMatchObject({ n: 1 });
  });

  test('refuses bad options before touching storage', async () => {
    await expect(openBrowserPeer({ name: '', subscriptions: items })).rejects.toThrow('profile name');
    await expect(openBrowserPeer({ name: uniqueName(), relay: 'ftp://example.com', subscriptions: items })).rejects.toThrow('ws:, wss:, http: or https:');
  });
});

describe('two tabs of one profile', () => {
  test('a write in one fires the other’s live query, without a relay', async () => {
    const name = uniqueName();
    const a = await openTab(name);
    const b = await openTab(name);
    let seenAt = 0;
    const seen: (readonly Doc[])[] = [];
    b.store.observe({ collection: 'items' }, (docs) => {
      seen.push(docs);
      if (docs.length > 0 && seenAt === 0) seenAt = performance.now();
    });
    expect(seen).toEqual([[]]);
    const committedAt = performance.now();
    await a.store.insert('items', { _id: 'x', text: 'from a' });
    await until(() => seenAt > 0, 'the live query in b to fire');
    expect(seen.at(-1)).toEqual([{ _id: 'x', text: 'from a' }]);
    // "Within a frame or so": the announcement, the lock and a few IndexedDB reads.
    expect(seenAt - committedAt).toBeLessThan(500);
    // And the other way round.
    await b.store.update('items', 'x', (d) => void (d['text'] = 'from b'));
    await until(async () => (await a.store.get('items', 'x'))?.['text'] === 'from b', 'a to see b’s update');
  });

  test('2×100 concurrent increments end at exactly 200 in both', async () => {
    const name = uniqueName();
    const a = await openTab(name);
    const b = await openTab(name);
    await a.store.insert('items', { _id: 'counter', n: 0 });
    const increment = (peer: BrowserPeer) => peer.store.update('items', 'counter', (d) => void (d['n'] = (d['n'] as number) + 1));
    await Promise.all([...Array.from({ length: 100 }, () => increment(a)), ...Array.from({ length: 100 }, () => increment(b))]);
    await until(async () => (await a.store.get('items', 'counter'))?.['n'] === 200 && (await b.store.get('items', 'counter'))?.['n'] === 200, 'both tabs to count 200');
    // Serialized across tabs: 201 commits, one log, no position used twice.
    expect(a.store.position).toBe(201);
    expect(b.store.position).toBe(201);
    const log = await a.store.readLog(0);
    expect(new Set(log.map((e) => e.id)).size).toBe(201);
  });

  test('a hidden follower gathers announcements; it catches up at once when shown', async () => {
    const name = uniqueName();
    const a = await openTab(name);
    const b = await openTab(name);
    let refreshes = 0;
    const refresh = b.store.refresh.bind(b.store);
    Object.assign(b.store, { refresh: () => (refreshes++, refresh()) });
    setVisibility('hidden');
    try {
      for (let i = 0; i < 5; i++) await a.store.insert('items', { _id: `h${i}` });
      await until(async () => (await b.store.find({ collection: 'items' })).length === 5, 'the hidden follower to catch up');
      // Five commits, one catch-up (two if they straddled its window on a very slow machine).
      expect(refreshes).toBeLessThanOrEqual(2);

      await a.store.insert('items', { _id: 'shown' });
      setVisibility('visible');
      // Well before the hidden follower's own delay.
      await until(async () => (await b.store.get('items', 'shown')) !== undefined, 'the shown follower to catch up', 500);
    } finally {
      setVisibility(undefined);
    }
  });

  test('exactly one tab leads; when it closes, another takes over', async () => {
    const name = uniqueName();
    const a = await openTab(name);
    const b = await openTab(name);
    const c = await openTab(name);
    expect([a.isLeader, b.isLeader, c.isLeader]).toEqual([true, false, false]);
    expect(b.status.role).toBe('follower');
    await a.close();
    await until(() => b.isLeader || c.isLeader, 'a follower to take over');
    expect([b.isLeader, c.isLeader].filter(Boolean)).toHaveLength(1);
    const next = b.isLeader ? c : b;
    await (b.isLeader ? b : c).close();
    await until(() => next.isLeader, 'the last tab to take over');
  });

  test('a tab closed while following never leads', async () => {
    const name = uniqueName();
    const a = await openTab(name);
    const b = await openTab(name);
    await b.close();
    await a.close();
    expect(b.isLeader).toBe(false);
    const c = await openTab(name);
    expect(c.isLeader).toBe(true);
  });
});

describe('sync through the leader', () => {
  test('the leader ships every tab’s commits, and the relay’s reach every tab', async () => {
    const relay = await testRelay();
    const name = uniqueName();
    const a = await openTab(name, { connect: relay.connect });
    const b = await openTab(name, { connect: relay.connect });
    await until(() => a.status.connection === 'open', 'the leader to connect');
    expect(relay.accepted).toBe(1); // the follower does not dial

    await b.store.insert('items', { _id: 'from-follower', n: 1 });
    await until(async () => (await relay.store.get('items', 'from-follower')) !== undefined, 'the relay to get the follower’s commit');

    const seen: string[][] = [];
    b.store.observe({ collection: 'items' }, (docs) => seen.push(docs.map((d) => d._id)));
    await relay.store.insert('items', { _id: 'from-relay', n: 2 });
    await until(() => seen.at(-1)?.includes('from-relay') === true, 'the follower’s live query to show the relay’s commit');
    expect(await a.store.get('items', 'from-relay')).toMatchObject({ n: 2 });
  });

  test('followers mirror the leader’s connection status', async () => {
    const relay = await testRelay();
    const name = uniqueName();
    const a = await openTab(name, { connect: relay.connect });
    await until(() => a.status.connection === 'open' && a.status.lastSyncAt !== undefined, 'the leader to connect and catch up');
    const b = await openTab(name, { connect: relay.connect });
    await until(() => b.status.connection === 'open', 'the follower to hear the leader’s status');
    expect(b.status).toMatchObject({ role: 'follower', connection: 'open', lastSyncAt: a.status.lastSyncAt });
    const statuses: BrowserPeerStatus[] = [];
    b.onStatus((s) => statuses.push(s));
    expect(statuses).toHaveLength(1); // the current status, at once
  });

  test('a new leader resumes from the persisted cursor', async () => {
    const relay = await testRelay();
    const name = uniqueName();
    const a = await openTab(name, { connect: relay.connect });
    const b = await openTab(name, { connect: relay.connect });
    await relay.store.transaction(async (tx) => {
      for (let i = 0; i < 20; i++) await tx.insert('items', { _id: `r${i}`, i });
    });
    for (let i = 0; i < 20; i++) await relay.store.insert('items', { _id: `s${i}`, i });
    await until(async () => (await b.store.find({ collection: 'items' })).length === 40, 'every relay commit to reach both tabs');
    await until(() => a.status.lastSyncAt !== undefined, 'the leader to be caught up');

    let sent = 0;
    relay.sync.events.on('delivery-sent', () => void sent++);
    await a.close();
    await until(() => b.isLeader && b.status.connection === 'open', 'b to take over the connection');
    await until(() => b.status.lastSyncAt !== undefined && relay.sync.connections.length === 1, 'b to catch up');
    // Resumed from the cursor: nothing it already had was sent again.
    expect(sent).toBe(0);
    await relay.store.insert('items', { _id: 'after', i: 99 });
    await until(async () => (await b.store.get('items', 'after')) !== undefined, 'live deliveries to the new leader');
  });

  test('offline closes the connection; online dials again at once', async () => {
    const relay = await testRelay();
    const peer = await openTab(uniqueName(), { connect: relay.connect, dial: { minDelayMs: 60_000, maxDelayMs: 60_000 } });
    await until(() => peer.status.connection === 'open', 'the leader to connect');
    window.dispatchEvent(new Event('offline'));
    expect(peer.status.online).toBe(false);
    await until(() => peer.status.connection === 'waiting', 'the connection to close');
    // Offline never blocks a local transaction.
    await peer.store.insert('items', { _id: 'offline-write' });
    window.dispatchEvent(new Event('online'));
    // Without the online hook the dialer would wait a minute.
    await until(() => peer.status.connection === 'open', 'the dialer to reconnect on online', 5_000);
    expect(peer.status.online).toBe(true);
    await until(async () => (await relay.store.get('items', 'offline-write')) !== undefined, 'the offline write to reach the relay');
  });
});
