#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startRelay } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env['ATOLL_PORT'] ?? '8787' },
    host: { type: 'string', default: process.env['ATOLL_HOST'] ?? '127.0.0.1' },
    data: { type: 'string', default: process.env['ATOLL_DATA'] ?? './atoll-data' },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`atoll-relay: --port must be an integer from 0 to 65535, got ${values.port}`);
  process.exit(2);
}

const relay = await startRelay({ port, host: values.host, dataDir: values.data });
console.log(`Atoll relay listening on ${relay.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    relay.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('atoll-relay: shutdown failed', err);
        process.exit(1);
      },
    );
  });
}
