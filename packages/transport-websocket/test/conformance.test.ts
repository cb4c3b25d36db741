import { WebSocket as WsWebSocket } from 'ws';
import type { Transport } from '@atoll/sync';
import { runTransportTests } from '@atoll/sync/testing';
import { connectBrowserWebSocket } from '../src/browser.js';
import { connectWebSocket } from '../src/index.js';
import { TestListener } from './support.js';

/** A harness that opens a fresh listener per test and dials it with `dial`. */
function overLoopback(dial: (url: string) => Promise<Transport>) {
  let server: TestListener | undefined;
  return {
    pair: async (): Promise<[Transport, Transport]> => {
      server ??= await TestListener.start();
      const accepted = server.nextTransport();
      const client = await dial(server.url);
      return [client, await accepted];
    },
    cleanup: async () => {
      await server?.listener.close();
      server = undefined;
    },
  };
}

runTransportTests('WebSocket, Node client ↔ listener', overLoopback((url) => connectWebSocket(url)));

// ws's WebSocket implements the WHATWG API the browser client uses (binaryType 'arraybuffer',
// addEventListener, close codes and reasons), so this runs the browser client's code under Node.
runTransportTests('WebSocket, browser client ↔ listener', overLoopback((url) => connectBrowserWebSocket(url, { WebSocket: WsWebSocket })));
