#!/usr/bin/env node
// The `atoll-relay` command: parses flags and ATOLL_* variables, starts the relay, prints where
// to open it, and shuts down gracefully on SIGTERM or SIGINT (a second signal forces the exit).
import { AtollError } from '@atoll/protocol';
import { USAGE, parseRelayArgs } from './config.js';
import { RelayConfigError } from './errors.js';
import { startRelay, type Relay } from './relay.js';

function fail(err: unknown): never {
  const message = err instanceof AtollError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  console.error(`atoll-relay: ${message}`);
  process.exit(err instanceof RelayConfigError ? 2 : 1);
}

let relay: Relay;
try {
  const command = parseRelayArgs(process.argv.slice(2), process.env);
  if (command.kind === 'help') {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  relay = await startRelay(command.options);
} catch (err) {
  fail(err);
}

console.log(`Atoll relay ${relay.peerId} listening on ${relay.url}`);
console.log(`  peers dial ${relay.syncUrl}; health ${relay.url}/healthz; metrics ${relay.url}/metrics`);
console.log(`  data in ${relay.dataDir} (log position ${relay.store.position}); authentication: ${relay.auth}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      console.error(`atoll-relay: ${signal} again, exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    console.log(`atoll-relay: ${signal}: shutting down`);
    relay.close().then(
      () => {
        // Exit once the line is out: writes to a pipe may be asynchronous.
        process.stdout.write('atoll-relay: stopped\n', () => process.exit(0));
      },
      (err: unknown) => {
        console.error('atoll-relay: shutdown failed', err);
        process.exit(1);
      },
    );
  });
}
