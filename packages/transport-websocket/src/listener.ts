import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { DEFAULTS, assert } from '@atoll/protocol';
import type { Transport } from '@atoll/sync';
import { WebSocketListenError } from './errors.js';
import { coalesceWrites } from './coalesce.js';
import { SocketTransport, wsCanSend } from './socket-transport.js';

/** Where a {@link WebSocketListener} accepts connections: its own server on `host:port`, or an existing `http.Server`. */
export type WebSocketListenerAddress =
  | {
      /** Interface to bind. Default `127.0.0.1`: reachable from this machine only. Use `0.0.0.0` (and TLS in front) to serve a network. */
      readonly host?: string;
      /** Port to bind; 0 picks a free one (read it back from {@link WebSocketListener.port}). */
      readonly port: number;
      readonly server?: never;
    }
  | {
      /**
       * An `http.Server` (or `https.Server`) to attach to, so that one port serves WebSockets and
       * plain HTTP (the relay's `/healthz` and `/metrics`). The caller starts and stops it;
       * {@link WebSocketListener.close} only detaches and closes the WebSockets.
       */
      readonly server: Server;
      readonly host?: never;
      readonly port?: never;
    };

/** Options of {@link listenWebSocket}. */
export type WebSocketListenerOptions = WebSocketListenerAddress & {
  /** Accept upgrades on this path only (`'/sync'`); others get 404. Default: any path. */
  readonly path?: string;
  /** Largest message accepted, in bytes; a bigger one closes the connection with 1009. Default 16 MiB (`DEFAULTS.maxMessageBytes`). */
  readonly maxPayload?: number;
  /** Negotiate permessage-deflate. Default false: Atoll's messages are mostly compressed Automerge bytes already, and deflate costs memory per connection. */
  readonly perMessageDeflate?: boolean;
  /** How long {@link WebSocketListener.close} waits for clients to answer the close before dropping them. Default 5000 ms. */
  readonly closeTimeoutMs?: number;
  /** Called for each accepted connection, with the HTTP upgrade request (headers, remote address). */
  readonly onConnection: (transport: Transport, request: IncomingMessage) => void;
  /**
   * Called with what goes wrong outside any one call: an `onConnection` that throws (its
   * connection is then closed with 1011) or an error of the listener's own server.
   * Default: `console.error`.
   */
  readonly onError?: (error: unknown) => void;
};

const reportToConsole = (error: unknown): void => console.error('atoll websocket listener:', error);

/** Sends a bare HTTP error in place of the upgrade and drops the socket. */
function refuseUpgrade(socket: Duplex, status: number): void {
  const text = STATUS_CODES[status] ?? 'Error';
  socket.on('error', () => socket.destroy()); // the client may already be gone; nothing more to do
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

function pathnameOf(request: IncomingMessage): string {
  return new URL(request.url ?? '/', 'http://localhost').pathname;
}

/**
 * A WebSocket server for Atoll peers (Node, on `ws`): each accepted connection becomes a
 * {@link Transport} handed to `onConnection`. Binary frames only (a text frame closes the
 * connection with 1003), messages up to `maxPayload` (a bigger one closes it with 1009).
 *
 * Create one with {@link listenWebSocket}.
 */
export class WebSocketListener {
  readonly #server: Server;
  readonly #ownsServer: boolean;
  readonly #wss: WebSocketServer;
  readonly #path: string | undefined;
  readonly #closeTimeoutMs: number;
  readonly #onConnection: (transport: Transport, request: IncomingMessage) => void;
  readonly #onError: (error: unknown) => void;
  readonly #connections = new Map<WebSocket, SocketTransport>();
  #closing: Promise<void> | undefined;
  #lastAddress: { address: string; port: number } | undefined;

  /** @internal Use {@link listenWebSocket}. */
  constructor(server: Server, ownsServer: boolean, options: WebSocketListenerOptions) {
    this.#server = server;
    this.#ownsServer = ownsServer;
    this.#path = options.path;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.#onConnection = options.onConnection;
    this.#onError = options.onError ?? reportToConsole;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxPayload ?? DEFAULTS.maxMessageBytes,
      perMessageDeflate: options.perMessageDeflate ?? false,
    });
    server.on('upgrade', this.#onUpgrade);
    if (server.listening) this.#address();
  }

  /** The port it listens on (useful after listening on port 0). Throws if the server is not listening on a TCP port. */
  get port(): number {
    return this.#address().port;
  }

  /** The address to dial, such as `ws://127.0.0.1:8787/sync`. Throws if the server is not listening on a TCP port. */
  get url(): string {
    const { address, port } = this.#address();
    const host = address.includes(':') ? `[${address}]` : address;
    return `ws://${host}:${port}${this.#path ?? '/'}`;
  }

  /** The server's address, remembered so that it can still be read (for logs) after close(). */
  #address(): { address: string; port: number } {
    const current = this.#server.address();
    if (current !== null && typeof current === 'object') this.#lastAddress = { address: current.address, port: current.port };
    assert(this.#lastAddress, () => 'the WebSocket listener’s server is not listening on a TCP port');
    return this.#lastAddress;
  }

  /** Open connections. */
  get connections(): number {
    return this.#connections.size;
  }

  /**
   * Stops accepting, closes every connection with 1001 ("going away") and resolves once they
   * are closed — clients that do not answer within `closeTimeoutMs` are dropped. A server the
   * listener created is closed too; an attached one is left running. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (this.#path !== undefined && pathnameOf(request) !== this.#path) {
      // On a shared server another 'upgrade' listener may own this path; leave it alone then.
      if (this.#ownsServer || this.#server.listenerCount('upgrade') === 1) refuseUpgrade(socket, 404);
      return;
    }
    if (this.#closing) {
      refuseUpgrade(socket, 503);
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, request, socket));
  };

  #accept(ws: WebSocket, request: IncomingMessage, socket: Duplex): void {
    ws.binaryType = 'nodebuffer';
    const transport = new SocketTransport(ws, wsCanSend, { beforeSend: coalesceWrites(socket) });
    if (this.#closing) {
      transport.close(1001, 'server shutting down');
      return;
    }
    this.#connections.set(ws, transport);
    ws.on('close', () => this.#connections.delete(ws));
    try {
      this.#onConnection(transport, request);
    } catch (error) {
      transport.close(1011, 'internal error');
      this.#onError(error);
    }
  }

  async #shutdown(): Promise<void> {
    this.#server.off('upgrade', this.#onUpgrade);
    const serverClosed = this.#ownsServer
      ? new Promise<void>((resolve, reject) => this.#server.close((error) => (error ? reject(error) : resolve())))
      : Promise.resolve();
    const sockets = [...this.#connections];
    const allClosed = Promise.all(
      sockets.map(([ws]) => new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve())))),
    );
    for (const [, transport] of sockets) transport.close(1001, 'server shutting down');
    const timer = setTimeout(() => {
      for (const [ws] of sockets) ws.terminate();
    }, this.#closeTimeoutMs);
    try {
      await allClosed;
    } finally {
      clearTimeout(timer);
    }
    if (this.#ownsServer) this.#server.closeAllConnections();
    await serverClosed;
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}

/**
 * Starts accepting WebSocket connections from Atoll peers: on its own HTTP server bound to
 * `host` (default 127.0.0.1) and `port`, or on an existing `http.Server`. Resolves once it
 * listens; rejects with {@link WebSocketListenError} when it cannot.
 *
 * @example
 * const listener = await listenWebSocket({
 *   port: 8787,
 *   path: '/sync',
 *   onConnection: (transport, request) => peer.connect(transport, 'listener'),
 * });
 * console.log(`listening on ${listener.url}`);
 * await listener.close(); // clients see 1001
 */
export async function listenWebSocket(options: WebSocketListenerOptions): Promise<WebSocketListener> {
  if (options.server) return new WebSocketListener(options.server, false, options);
  const host = options.host ?? '127.0.0.1';
  const server = createServer((_request, response) => {
    response.writeHead(426, { Connection: 'Upgrade', Upgrade: 'websocket', 'Content-Type': 'text/plain' });
    response.end('this address speaks WebSocket only\n');
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(new WebSocketListenError(`${host}:${options.port}`, { cause: error }));
    server.once('error', onError);
    server.listen(options.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const listener = new WebSocketListener(server, true, options);
  server.on('error', options.onError ?? reportToConsole);
  return listener;
}
