// The Atoll relay as the benchmark runs it: `startRelay` from the built @atoll/relay (the code
// `atoll-relay` runs), default options, on 127.0.0.1 and a free port. Optionally seeded first,
// offline, with N small documents, each written by its own transaction (so its log holds N
// entries, as if N edits had arrived one by one).
//   node --expose-gc atoll-relay.mjs DATA_DIR SEED_COUNT
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startRelay, DATABASE_FILE } from '@atoll/relay';
import { Store } from '@atoll/store';
import { SqliteStorageAdapter } from '@atoll/storage-sqlite';
import { docName, serve, smallDoc } from './ipc.mjs';

const [dataDir = '', seedArg = '0'] = process.argv.slice(2);
const seed = Number(seedArg);
const quiet = { debug() {}, info() {}, warn: (m) => console.error(m), error: (m, f) => console.error(m, f ?? '') };

if (seed > 0) {
  mkdirSync(dataDir, { recursive: true });
  // Seeding is not measured: durability 'normal' only makes it faster to set up.
  const storage = await SqliteStorageAdapter.open(join(dataDir, DATABASE_FILE), { durability: 'normal' });
  const store = await Store.open({ storage, logger: quiet });
  for (let i = 0; i < seed; i++) await store.insert('docs', { _id: docName(i), ...smallDoc(i) });
  await store.close();
}

const relay = await startRelay({ port: 0, host: '127.0.0.1', dataDir, logger: quiet, closeTimeoutMs: 1000 });
serve({}, () => relay.close());
process.send?.({ type: 'ready', url: relay.syncUrl, docs: relay.store.keysOf('docs').length });
