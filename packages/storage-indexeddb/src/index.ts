export {
  IndexedDbStorageAdapter,
  type IndexedDbDurability,
  type IndexedDbStorageOptions,
} from './adapter.js';
export { IndexedDbBlockedError, IndexedDbTerminatedError, IndexedDbVersionChangeError } from './errors.js';
