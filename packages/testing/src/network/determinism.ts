import { Store, type StoreOptions } from '@atoll/store';
import type { Random } from '../random.js';

/**
 * Opens a store whose random choices — its Automerge actor id and, for new storage, its log id
 * — come from `rng` instead of the system's random source.
 *
 * Why: when two peers write the same field concurrently, Automerge keeps the write of the
 * greater actor id, so with random actors a replayed run could settle a conflict the other way
 * and take another path. The store has no option for its actor (see the package README,
 * "Needs from the core"), so the harness seeds `crypto.getRandomValues` for the duration of
 * the open. The simulation is quiescent while it opens a store, so nothing else draws from it
 * in between; the original function is restored before this resolves.
 */
export async function openSeededStore(rng: Random, options: StoreOptions): Promise<Store> {
  const crypto = globalThis.crypto;
  const own = Object.getOwnPropertyDescriptor(crypto, 'getRandomValues');
  const seeded = <T extends ArrayBufferView | null>(array: T): T => {
    if (array) rng.fill(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    return array;
  };
  Object.defineProperty(crypto, 'getRandomValues', { value: seeded, configurable: true, writable: true });
  try {
    return await Store.open(options);
  } finally {
    if (own) Object.defineProperty(crypto, 'getRandomValues', own);
    else delete (crypto as { getRandomValues?: unknown }).getRandomValues;
  }
}
