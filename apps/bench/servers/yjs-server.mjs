// The y-websocket server (@y/websocket-server 0.1.1's setupWSConnection, as its own server.js
// wires it), in memory (YPERSISTENCE unset: the package's default). Optionally seeded: room
// `catchup` holds N small documents as N entries of one Y.Map, each added by its own
// transaction — many small documents in the shape Yjs apps give them (one shared Y.Doc).
//   node --expose-gc --import ./y-leveldb-hook.mjs yjs-server.mjs SEED_COUNT
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import * as Y from 'yjs';
import { getYDoc, setupWSConnection } from '@y/websocket-server/utils';
import { docName, serve, smallDoc } from './ipc.mjs';

const seed = Number(process.argv[2] ?? '0');
if (seed > 0) {
  const doc = getYDoc('catchup');
  const root = doc.getMap('docs');
  for (let i = 0; i < seed; i++) {
    doc.transact(() => {
      const entry = new Y.Map();
      for (const [k, v] of Object.entries(smallDoc(i))) entry.set(k, v);
      root.set(docName(i), entry);
    });
  }
}

const wss = new WebSocketServer({ noServer: true });
wss.on('connection', setupWSConnection);
const server = createServer((_req, res) => res.end('okay'));
server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
serve({}, async () => {
  for (const client of wss.clients) client.terminate();
  server.close();
});
process.send?.({ type: 'ready', url: `ws://127.0.0.1:${port}`, docs: seed });
