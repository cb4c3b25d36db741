export { runStorageAdapterTests, type StorageAdapterHarness } from './storage-conformance.js';
