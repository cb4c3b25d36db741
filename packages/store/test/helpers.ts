import { afterEach } from 'vitest';
import { Store, silentLogger, type Changeset, type StoreOptions } from '../src/index.js';

/** A store on fresh in-memory storage that logs nothing unless a test asks. */
export function openTestStore(options: StoreOptions = {}): Promise<Store> {
  return Store.open({ logger: silentLogger, ...options });
}

/** A promise and its resolve function, to make a block wait on the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** An `open` for a test file whose stores are all closed after each test (call it at the top level). */
export function storesClosedAfterEach(): (options?: StoreOptions) => Promise<Store> {
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  return async (options = {}) => {
    const s = await openTestStore(options);
    stores.push(s);
    return s;
  };
}

/** Collects the changesets a store commits locally. */
export function recorder(store: Store): Changeset[] {
  const out: Changeset[] = [];
  store.onCommit((e) => {
    if (e.source === 'local' && e.changeset) out.push(e.changeset);
  });
  return out;
}
