// A TCP pass-through on 127.0.0.1 that counts the bytes in each direction: how the catch-up
// benchmark measures "bytes on the wire" the same way for every system (WebSocket framing and
// the HTTP upgrade included).
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class CountingProxy {
  /** Bytes from the server to the client. */
  down = 0;
  /** Bytes from the client to the server. */
  up = 0;
  readonly sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  private constructor() {}

  static async start(targetUrl: string): Promise<CountingProxy> {
    const target = new URL(targetUrl);
    const targetPort = Number(target.port);
    const proxy = new CountingProxy();
    const server = createServer((client) => {
      const upstream = createConnection({ host: target.hostname, port: targetPort });
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (d: Buffer) => {
        proxy.up += d.length;
      });
      upstream.on('data', (d: Buffer) => {
        proxy.down += d.length;
      });
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('proxy did not bind');
    proxy.#server = server;
    proxy.port = address.port;
    return proxy;
  }

  /** The target URL with this proxy's address in place of the server's. */
  urlFor(targetUrl: string): string {
    const u = new URL(targetUrl);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.href.replace(/\/$/, targetUrl.endsWith('/') ? '/' : '');
  }

  reset(): void {
    this.down = 0;
    this.up = 0;
  }

  get total(): number {
    return this.down + this.up;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
