import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options for {@link startRelay}. */
export interface RelayOptions {
  /** TCP port; 0 picks a free one. Default 8787. */
  port?: number;
  /** Interface to bind. Default 127.0.0.1: a relay is reachable from elsewhere only when asked. */
  host?: string;
  /** Directory for the relay's data. Default `./atoll-data`. */
  dataDir?: string;
}

/** A running relay. */
export interface Relay {
  /** `http://host:port` of the listener. */
  readonly url: string;
  /** Stops accepting connections and resolves once the listener is closed. */
  close(): Promise<void>;
}

/**
 * Starts the relay's HTTP listener.
 *
 * @example
 * const relay = await startRelay({ port: 8787 });
 * console.log(`open ${relay.url}`);
 */
export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => handle(req, res));
  await listen(server, options.port ?? 8787, host);
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://relay').pathname;
  if (req.method === 'GET' && path === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }));
    return;
  }
  if (req.method === 'GET' && path === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(STATUS_PAGE);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}

const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Atoll relay</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>Atoll relay</h1>
<p id="status">The relay is running.</p>
<p>Health: <a href="/healthz">/healthz</a></p>
</body></html>`;
