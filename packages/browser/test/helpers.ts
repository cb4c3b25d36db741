// Shared by the browser-mode tests: peers of one profile opened in one page behave like tabs
// (each has its own store instance, BroadcastChannel object and Web Lock requests), and an
// in-page relay stands in for apps/relay over the in-memory transport.
import type { Subscription } from '@atoll/protocol';
import { Store, silentLogger, type Logger } from '@atoll/store';
import { SyncPeer, createMemoryTransportPair, type Transport } from '@atoll/sync';
import { openBrowserPeer, type BrowserPeer, type BrowserPeerOptions } from '../src/index.js';

export const items: Subscription[] = [{ id: 'items', collection: 'items' }];

const peers: BrowserPeer[] = [];
const relays: TestRelay[] = [];
const databases = new Set<string>();

export const uniqueName = (): string => `atoll-browser-test-${crypto.randomUUID()}`;

/** Opens a tab's peer of profile `name`; closed and deleted by {@link cleanUp}. */
export async function openTab(name: string, options: Partial<BrowserPeerOptions> = {}): Promise<BrowserPeer> {
  databases.add(name);
  const peer = await openBrowserPeer({ name, subscriptions: items, logger: silentLogger, ...options });
  peers.push(peer);
  return peer;
}

/** A relay peer in this page: a memory store that subscribes to everything and accepts in-memory connections. */
export interface TestRelay {
  readonly store: Store;
  readonly sync: SyncPeer;
  /** What a browser peer's `connect` option calls. */
  readonly connect: () => Promise<Transport>;
  /** Connections accepted so far. */
  readonly accepted: number;
}

export async function testRelay(logger: Logger = silentLogger): Promise<TestRelay> {
  const store = await Store.open({ logger });
  const sync = new SyncPeer({ store, subscriptions: [{ id: 'all', collection: '*' }], role: 'relay', logger });
  let accepted = 0;
  const relay: TestRelay = {
    store,
    sync,
    connect: () => {
      const [browserEnd, relayEnd] = createMemoryTransportPair();
      sync.accept(relayEnd);
      accepted++;
      return Promise.resolve(browserEnd);
    },
    get accepted() {
      return accepted;
    },
  };
  relays.push(relay);
  return relay;
}

/** Closes every peer and relay the test opened and deletes the profiles' databases. */
export async function cleanUp(): Promise<void> {
  for (const peer of peers.splice(0)) await peer.close();
  for (const relay of relays.splice(0)) {
    await relay.sync.close();
    await relay.store.close();
  }
  for (const name of [...databases]) {
    databases.delete(name);
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error ?? new Error(`could not delete ${name}`));
    });
  }
}

/** Waits until `check` holds, re-checking every few milliseconds; fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}

/** A logger that records what it is told. */
export function recordingLogger(): Logger & { readonly lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const log = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
