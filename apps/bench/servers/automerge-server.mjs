// automerge-repo's sync server, as its own example (automerge-repo-sync-server) runs it: a Repo
// with the NodeFS storage adapter and the WebSocket server adapter, sharePolicy false (it
// answers requests, it does not announce). Optionally seeded with N small documents, one
// `repo.create` each, flushed to disk before it reports ready; their URLs go back over IPC.
//   node --expose-gc automerge-server.mjs DATA_DIR SEED_COUNT
import { createServer } from 'node:http';
import { Repo } from '@automerge/automerge-repo';
import { NodeWSServerAdapter } from '@automerge/automerge-repo-network-websocket';
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';
import { WebSocketServer } from 'ws';
import { docName, serve, smallDoc } from './ipc.mjs';

const [dataDir = '', seedArg = '0'] = process.argv.slice(2);
const seed = Number(seedArg);

const wss = new WebSocketServer({ noServer: true });
const server = createServer((_req, res) => res.end('automerge-repo sync server\n'));
server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
const repo = new Repo({
  network: [new NodeWSServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dataDir),
  peerId: `storage-server-${process.pid}`,
  sharePolicy: async () => false,
});

const urls = [];
for (let i = 0; i < seed; i++) {
  const handle = repo.create({ name: docName(i), ...smallDoc(i) });
  urls.push(handle.url);
  if (i % 1000 === 999) await repo.flush();
}
await repo.flush();

await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
serve(
  {
    // URLs go back in slices: one IPC message per 5 000.
    urls: async ({ from }) => ({ urls: urls.slice(from, from + 5000), total: urls.length }),
  },
  async () => {
    for (const client of wss.clients) client.terminate();
    await repo.shutdown();
    server.close();
  },
);
process.send?.({ type: 'ready', url: `ws://127.0.0.1:${port}`, docs: urls.length });
