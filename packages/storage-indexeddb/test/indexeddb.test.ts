// The adapter on fake-indexeddb, in Node: the conformance suite and the adapter's own behaviour,
// each test on a fresh IDBFactory so no state leaks between tests.
// idb and IDBKeyRange use the global IndexedDB classes, so the fake must also be installed as
// the global implementation; each test still gets its own factory (its own set of databases).
import 'fake-indexeddb/auto';
import { StorageError, type StorageAdapter } from '@atoll/store';
import { runStorageAdapterTests } from '@atoll/store/testing';
import { IDBFactory, forceCloseDatabase } from 'fake-indexeddb';
import { beforeEach, describe, expect, it } from 'vitest';
import { IndexedDbStorageAdapter, IndexedDbTerminatedError } from '../src/index.js';
import { recordingFactory, runIndexedDbBehaviourTests } from './indexeddb-behaviour.js';

const factories = new WeakMap<StorageAdapter, IDBFactory>();
const factoryOf = (adapter: StorageAdapter): IDBFactory => {
  const factory = factories.get(adapter);
  if (factory === undefined) throw new Error('not an adapter this harness opened');
  return factory;
};
const openOn = async (factory: IDBFactory): Promise<StorageAdapter> => {
  const adapter = await IndexedDbStorageAdapter.open('conformance', { indexedDB: factory });
  factories.set(adapter, factory);
  return adapter;
};

runStorageAdapterTests('indexeddb (fake-indexeddb)', {
  open: () => openOn(new IDBFactory()),
  // A restart: a new connection to the same database, in the same IndexedDB.
  reopen: (previous) => openOn(factoryOf(previous)),
});

let factory = new IDBFactory();
beforeEach(() => {
  factory = new IDBFactory();
});

runIndexedDbBehaviourTests('fake-indexeddb', { factory: () => factory, uniqueName: () => 'behaviour' });

describe('IndexedDbStorageAdapter on fake-indexeddb', () => {
  it('rejects every call with IndexedDbTerminatedError once the browser closes the connection', async () => {
    const recording = recordingFactory(factory);
    const s = await IndexedDbStorageAdapter.open('terminated', { indexedDB: recording.factory });
    await s.write({ put: [{ key: ['k'], value: new Uint8Array([1]) }] });
    const [db] = recording.connections();
    const closed = new Promise((resolve) => db!.addEventListener('close', resolve));
    // What the browser does when the user clears site data.
    // fake-indexeddb types its argument as the IDBDatabase class; it takes a connection.
    forceCloseDatabase(db as unknown as Parameters<typeof forceCloseDatabase>[0]);
    await closed;
    await expect(s.get(['k'])).rejects.toBeInstanceOf(IndexedDbTerminatedError);
    await expect(s.write({ put: [{ key: ['k'], value: new Uint8Array([2]) }] })).rejects.toBeInstanceOf(IndexedDbTerminatedError);
    await s.close();
    // The data is still there for a new connection.
    const again = await IndexedDbStorageAdapter.open('terminated', { indexedDB: factory });
    expect(await again.get(['k'])).toEqual(new Uint8Array([1]));
    await again.close();
  });

  it('says what is missing when there is no IndexedDB', async () => {
    const saved = globalThis.indexedDB;
    Reflect.deleteProperty(globalThis, 'indexedDB');
    try {
      await expect(IndexedDbStorageAdapter.open('none')).rejects.toThrow(/fake-indexeddb\/auto/);
      await expect(IndexedDbStorageAdapter.open('none')).rejects.toBeInstanceOf(StorageError);
    } finally {
      globalThis.indexedDB = saved;
    }
  });

  it('stores a pooled Node Buffer as just its bytes', async () => {
    const s = await IndexedDbStorageAdapter.open('buffer', { indexedDB: factory });
    const small = Buffer.from('abc'); // a view into Node's shared 8 KiB pool
    await s.write({ put: [{ key: ['b'], value: small }] });
    const read = await s.get(['b']);
    expect(read).toEqual(new Uint8Array([97, 98, 99]));
    expect(read!.buffer.byteLength).toBe(3);
    await s.close();
  });
});
