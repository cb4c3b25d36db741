// The adapter on the real IndexedDB of headless Chromium: the conformance suite under both
// durabilities, and the adapter's own behaviour. Every test gets databases of its own and
// deletes them afterwards, since the page's IndexedDB outlives a test.
import type { StorageAdapter } from '@atoll/store';
import { runStorageAdapterTests } from '@atoll/store/testing';
import { IndexedDbStorageAdapter, type IndexedDbDurability } from '../src/index.js';
import { runIndexedDbBehaviourTests, settle } from './indexeddb-behaviour.js';

const uniqueName = () => `atoll-test-${crypto.randomUUID()}`;
const nameOf = (adapter: StorageAdapter): string => (adapter as IndexedDbStorageAdapter).name;

for (const durability of ['relaxed', 'strict'] satisfies IndexedDbDurability[]) {
  runStorageAdapterTests(`indexeddb (Chromium, ${durability})`, {
    open: () => IndexedDbStorageAdapter.open(uniqueName(), { durability }),
    reopen: (previous) => IndexedDbStorageAdapter.open(nameOf(previous), { durability }),
    // The suite has closed the adapter, so the delete goes through (that close() leaves nothing
    // to block it is tested in the behaviour tests).
    destroy: async (adapter) => {
      await settle(indexedDB.deleteDatabase(nameOf(adapter)));
    },
  });
}

runIndexedDbBehaviourTests('Chromium', { factory: () => indexedDB, uniqueName });
