import { MemoryStorageAdapter } from '../src/index.js';
import { runStorageAdapterTests } from '../src/testing/index.js';

runStorageAdapterTests('memory', {
  open: () => Promise.resolve(new MemoryStorageAdapter()),
  reopen: (previous) => Promise.resolve((previous as MemoryStorageAdapter).reopen()),
});
