export {
  StorageError,
  checkStorageBatch,
  checkStorageKey,
  compareStorageKeys,
  type RangeOptions,
  type StorageAdapter,
  type StorageBatch,
  type StorageEntry,
  type StorageKey,
} from './storage/adapter.js';
export { MemoryStorageAdapter } from './storage/memory.js';
