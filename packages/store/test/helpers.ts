import { Store, silentLogger, type StoreOptions } from '../src/index.js';

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
