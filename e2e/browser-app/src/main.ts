// The e2e fixture: opens a browser peer with parameters from the URL query, mirrors its live
// query and status into the DOM, and exposes a small API on `window.atoll` for the tests.
//
//   ?name=<profile>            the profile (IndexedDB database); default 'e2e'
//   &relay=ws://127.0.0.1:N    the relay; none: a local-only peer
//   &atomicity=atomic          default eventual
import { openBrowserPeer, type BrowserPeerStatus } from '@atoll/browser';
import type { Doc } from '@atoll/store';
import type { FixtureApi } from './api.js';

const params = new URLSearchParams(location.search);
const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;

async function main(): Promise<void> {
  const relay = params.get('relay');
  const peer = await openBrowserPeer({
    name: params.get('name') ?? 'e2e',
    ...(relay ? { relay } : {}),
    subscriptions: [{ id: 'items', collection: 'items' }],
    atomicity: params.get('atomicity') === 'atomic' ? 'atomic' : 'eventual',
    // Tests stop and start relays: retry quickly.
    dial: { minDelayMs: 100, maxDelayMs: 1_000 },
  });

  let seen: readonly Doc[] = [];
  let emissions = 0;
  let deliveries = 0;
  peer.store.observe({ collection: 'items', orderBy: [{ path: '_id' }] }, (docs) => {
    seen = docs;
    emissions++;
    $('items').textContent = JSON.stringify(docs);
  });
  peer.sync.events.on('delivery-received', () => void deliveries++);
  const render = (s: BrowserPeerStatus) => {
    $('role').textContent = s.role;
    $('connection').textContent = s.connection;
    $('online').textContent = String(s.online);
  };
  peer.onStatus(render);

  const api: FixtureApi = {
    peer,
    put: async (id, fields) => {
      await peer.store.upsert('items', { ...fields, _id: id });
    },
    update: async (id, fields) => {
      await peer.store.update('items', id, (d) => void Object.assign(d, fields));
    },
    increment: async (id, times) => {
      const one = () => peer.store.update('items', id, (d) => void (d['n'] = ((d['n'] as number | undefined) ?? 0) + 1));
      await Promise.all(Array.from({ length: times }, one));
    },
    get: (id) => peer.store.get('items', id),
    get seen() {
      return seen;
    },
    get emissions() {
      return emissions;
    },
    get deliveries() {
      return deliveries;
    },
    status: () => peer.status,
    close: () => peer.close(),
  };
  window.atoll = api;
}

main().catch((err: unknown) => {
  $('error').textContent = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  console.error(err);
});
