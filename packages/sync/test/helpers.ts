import { MemoryStorageAdapter, Store, silentLogger } from '@atoll/store';
import type { Subscription } from '@atoll/protocol';
import { SyncPeer, type SyncPeerOptions } from '../src/index.js';
import { createMemoryTransportPair, type MemoryTransport } from '../src/transport/index.js';

export interface TestPeer {
  readonly store: Store;
  readonly sync: SyncPeer;
  readonly storage: MemoryStorageAdapter;
}

const opened: TestPeer[] = [];

/** A store on memory storage with a sync peer over it. */
export async function testPeer(subscriptions: Subscription[], options: Partial<SyncPeerOptions> & { storage?: MemoryStorageAdapter; peerId?: string } = {}): Promise<TestPeer> {
  const storage = options.storage ?? new MemoryStorageAdapter();
  const store = await Store.open({ storage, logger: silentLogger, ...(options.peerId ? { peerId: options.peerId } : {}) });
  const sync = new SyncPeer({ logger: silentLogger, ...options, store, subscriptions });
  const peer = { store, sync, storage };
  opened.push(peer);
  return peer;
}

/** Closes every peer the test opened. */
export async function closeAll(): Promise<void> {
  for (const p of opened.splice(0)) {
    await p.sync.close();
    await p.store.close();
  }
}

/** Connects `dialer` to `listener` over an in-memory pair; returns the two transport ends. */
export function link(dialer: TestPeer, listener: TestPeer): { dialerEnd: MemoryTransport; listenerEnd: MemoryTransport } {
  const [dialerEnd, listenerEnd] = createMemoryTransportPair();
  listener.sync.accept(listenerEnd);
  dialer.sync.connect(dialerEnd, 'dialer');
  return { dialerEnd, listenerEnd };
}

/** Waits until `check` holds, re-checking after each turn of the event loop; fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((r) => setImmediate(r));
  }
}

export const all = (id = 'all'): Subscription => ({ id, collection: '*' });
