// The floor: a bare `ws` relay process that forwards every binary message to every other
// connection, with no storage, no parsing, no protocol.
//   node --expose-gc echo-relay.mjs
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { serve } from './ipc.mjs';

const server = createServer((_req, res) => res.end('echo relay\n'));
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const other of wss.clients) if (other !== ws && other.readyState === 1) other.send(data, { binary: isBinary });
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
serve({}, async () => {
  for (const client of wss.clients) client.terminate();
  server.close();
});
process.send?.({ type: 'ready', url: `ws://127.0.0.1:${port}` });
