import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket as WsWebSocket, WebSocketServer } from 'ws';
import { TransportClosedError, type CloseInfo, type Transport } from '@atoll/sync';
import { connectBrowserWebSocket } from '../src/browser.js';
import { connectWebSocket, listenWebSocket, WebSocketConnectError, WebSocketListenError } from '../src/index.js';
import { TestListener, closed, collect, within } from './support.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startListener(options: Parameters<typeof TestListener.start>[0] = {}): Promise<TestListener> {
  const listener = await TestListener.start(options);
  cleanups.push(() => listener.listener.close());
  return listener;
}

/** A raw `ws` client, to do what an Atoll transport never does (text frames, oversized frames, terminate). */
async function rawClient(url: string): Promise<WsWebSocket> {
  const ws = new WsWebSocket(url);
  cleanups.push(() => ws.terminate());
  await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 'the raw client to open');
  return ws;
}

function rawClosed(ws: WsWebSocket): Promise<{ code: number; reason: string }> {
  return within(new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))), 'the raw socket to close');
}

/** A raw `ws` server on 127.0.0.1 that hands each accepted socket to `onSocket`. */
async function rawServer(onSocket: (ws: WsWebSocket) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', onSocket);
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const client of wss.clients) client.terminate();
    wss.close(() => resolve());
  }));
  await within(new Promise((resolve) => wss.once('listening', resolve)), 'the raw server to listen');
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server that accepts connections and never answers: a connection attempt hangs in its handshake. */
async function blackHole(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

const dialers = {
  node: (url: string) => connectWebSocket(url),
  browser: (url: string) => connectBrowserWebSocket(url, { WebSocket: WsWebSocket }),
};

describe('listenWebSocket', () => {
  it('binds 127.0.0.1 by default and reports its url', async () => {
    const server = await startListener();
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    expect(server.listener.port).toBeGreaterThan(0);
  });

  it('frames sent in one turn go out in one write at the end of the turn, in order', async () => {
    const test = await startListener();
    const client = await connectWebSocket(test.listener.url);
    cleanups.push(() => client.close());
    const { transport, request } = await test.next();
    const received = collect(client);
    const socket = request.socket;
    for (let i = 0; i < 200; i++) transport.send(new Uint8Array([i, i, i]));
    // Held back together (one writev instead of 200 writes) until this turn's work is done …
    expect(socket.writableCorked).toBeGreaterThan(0);
    expect(socket.writableLength).toBeGreaterThanOrEqual(200 * 5);
    await new Promise((resolve) => setImmediate(resolve));
    // … then written without waiting for anything else.
    expect(socket.writableCorked).toBe(0);
    await received.until(200);
    expect(received.messages.map((m) => m[0])).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('enforces maxPayload: a message at the limit passes, a bigger one closes the connection with 1009', async () => {
    const server = await startListener({ maxPayload: 1024 });
    const accepted = server.nextTransport();
    const raw = await rawClient(server.url);
    const transport = await accepted;
    const inbox = collect(transport);
    const serverClosed = closed(transport);
    const rawClose = rawClosed(raw);
    raw.send(new Uint8Array(1024));
    await inbox.until(1);
    raw.send(new Uint8Array(1025));
    expect((await rawClose).code).toBe(1009);
    expect(await serverClosed).toMatchObject({ code: 1009, local: false });
    expect(inbox.messages.map((m) => m.byteLength)).toEqual([1024]);
  });

  it('a text frame is a protocol violation: the connection closes with 1003 and the text is never delivered', async () => {
    const server = await startListener();
    const accepted = server.nextTransport();
    const raw = await rawClient(server.url);
    const transport = await accepted;
    const inbox = collect(transport);
    const serverClosed = closed(transport);
    const rawClose = rawClosed(raw);
    raw.send(new Uint8Array([1, 2, 3]));
    raw.send('hello');
    raw.send(new Uint8Array([4]));
    expect(await rawClose).toEqual({ code: 1003, reason: 'Atoll accepts binary frames only' });
    expect(await serverClosed).toEqual({ code: 1003, reason: 'Atoll accepts binary frames only', local: false });
    expect(inbox.messages.map((m) => [...m])).toEqual([[1, 2, 3]]);
    expect(transport.closed).toBe(true);
    expect(() => transport.send(new Uint8Array(1))).toThrow(TransportClosedError);
  });

  it('close() stops accepting and closes every connection with 1001', async () => {
    const server = await startListener();
    const accepted = [server.nextTransport(), server.nextTransport()];
    const clients = [await dialers.node(server.url), await dialers.browser(server.url)];
    const serverSide = await Promise.all(accepted);
    expect(server.listener.connections).toBe(2);
    const clientCloses = clients.map(closed);
    const serverCloses = serverSide.map(closed);
    const closing = server.listener.close();
    expect(server.listener.close()).toBe(closing); // idempotent
    await closing;
    for (const info of await Promise.all(clientCloses)) expect(info).toEqual({ code: 1001, reason: 'server shutting down', local: false });
    for (const info of await Promise.all(serverCloses)) expect(info).toEqual({ code: 1001, reason: 'server shutting down', local: true });
    expect(server.listener.connections).toBe(0);
    await expect(connectWebSocket(server.url)).rejects.toBeInstanceOf(WebSocketConnectError);
  });

  it('close() drops a client that does not answer the close within closeTimeoutMs', async () => {
    const server = await startListener({ closeTimeoutMs: 200 });
    const accepted = server.nextTransport();
    const raw = await rawClient(server.url);
    const transport = await accepted;
    const serverClosed = closed(transport);
    raw.pause(); // reads nothing, so never sees nor answers the close frame
    await server.listener.close();
    expect(await serverClosed).toEqual({ code: 1001, reason: 'server shutting down', local: true });
  });

  it('a connection that dies without a close frame shows 1006 on the other side', async () => {
    const server = await startListener();
    const accepted = server.nextTransport();
    const raw = await rawClient(server.url);
    const transport = await accepted;
    const serverClosed = closed(transport);
    raw.terminate();
    expect(await serverClosed).toEqual({ code: 1006, reason: '', local: false });
    expect(() => transport.send(new Uint8Array(1))).toThrow(TransportClosedError);
  });

  it('serves upgrades on `path` only; another path gets 404', async () => {
    const server = await startListener({ path: '/sync' });
    expect(server.url).toMatch(/\/sync$/);
    const accepted = server.nextTransport();
    const client = await connectWebSocket(server.url);
    const transport = await accepted;
    const inbox = collect(transport);
    client.send(new Uint8Array([42]));
    await inbox.until(1);
    const wrong = server.url.replace(/\/sync$/, '/other');
    const error = await connectWebSocket(wrong).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WebSocketConnectError);
    expect((error as WebSocketConnectError).status).toBe(404);
    expect((error as WebSocketConnectError).url).toBe(wrong);
    client.close();
  });

  it('answers plain HTTP on its own server with 426 Upgrade Required', async () => {
    const server = await startListener();
    const response = await fetch(server.url.replace('ws:', 'http:'));
    expect(response.status).toBe(426);
    await response.text();
  });

  it('attaches to an existing http.Server: one port serves /healthz and WebSockets, and close() leaves the server running', async () => {
    const http: Server = createHttpServer((request, response) => {
      response.writeHead(request.url === '/healthz' ? 200 : 404).end(request.url === '/healthz' ? 'ok' : '');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
    const server = await startListener({ server: http, path: '/sync' });
    const { port } = http.address() as AddressInfo;
    expect(server.url).toBe(`ws://127.0.0.1:${port}/sync`);

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok');

    const accepted = server.nextTransport();
    const client = await connectWebSocket(server.url);
    const transport = await accepted;
    const inbox = collect(client);
    transport.send(new Uint8Array([7]));
    await inbox.until(1);
    expect(await connectWebSocket(`ws://127.0.0.1:${port}/elsewhere`).catch((e: unknown) => (e as WebSocketConnectError).status)).toBe(404);

    const clientClosed = closed(client);
    await server.listener.close();
    expect(await clientClosed).toMatchObject({ code: 1001, local: false });
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('closes a connection whose onConnection throws with 1011, and reports the error', async () => {
    const errors: unknown[] = [];
    const listener = await listenWebSocket({
      port: 0,
      onConnection: () => {
        throw new Error('handler bug');
      },
      onError: (error) => errors.push(error),
    });
    cleanups.push(() => listener.close());
    const client = await connectWebSocket(listener.url);
    expect(await closed(client)).toMatchObject({ code: 1011, local: false });
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('handler bug');
  });

  it('rejects with WebSocketListenError when the port is taken', async () => {
    const server = await startListener();
    await expect(listenWebSocket({ port: server.listener.port, onConnection: () => {} })).rejects.toBeInstanceOf(WebSocketListenError);
  });

  it('bufferedAmount grows while the receiver does not read, and drains when it reads again', async () => {
    const server = await startListener();
    const accepted = server.nextTransport();
    const raw = await rawClient(server.url);
    const transport = await accepted;
    raw.pause();
    const chunk = new Uint8Array(256 * 1024);
    for (let i = 0; i < 100; i++) transport.send(chunk); // 25 MiB: far more than the kernel's socket buffers
    expect(transport.bufferedAmount).toBeGreaterThan(10 * 1024 * 1024);
    expect(transport.bufferedAmount).toBeLessThanOrEqual(100 * (256 * 1024 + 14));
    let received = 0;
    const all = within(
      new Promise<void>((resolve) =>
        raw.on('message', () => {
          if (++received === 100) resolve();
        }),
      ),
      () => `100 messages (got ${received})`,
    );
    raw.resume();
    await all;
    await vi.waitFor(() => expect(transport.bufferedAmount).toBe(0), { timeout: 10_000, interval: 5 });
    expect(transport.bufferedAmount).toBe(0);
  });
});

describe.each(Object.entries(dialers))('%s client', (_kind, dial) => {
  it('a text frame from the server closes the connection with 1003', async () => {
    const url = await rawServer((ws) => ws.send('not binary'));
    const transport = await dial(url);
    const inbox = collect(transport);
    expect(await closed(transport)).toEqual({ code: 1003, reason: 'Atoll accepts binary frames only', local: false });
    expect(inbox.messages).toHaveLength(0);
  });

  it('a server that drops the connection shows 1006', async () => {
    let serverSocket: WsWebSocket | undefined;
    const url = await rawServer((ws) => (serverSocket = ws));
    const transport = await dial(url);
    const seen = closed(transport);
    serverSocket?.terminate();
    expect(await seen).toEqual({ code: 1006, reason: '', local: false });
  });

  it('rejects with WebSocketConnectError when nothing listens', async () => {
    const url = `ws://127.0.0.1:${await freePort()}/`;
    const error = await dial(url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketConnectError);
    expect((error as WebSocketConnectError).url).toBe(url);
  });

  it('rejects with WebSocketConnectError for a malformed address', async () => {
    await expect(dial('http://127.0.0.1:1/')).rejects.toBeInstanceOf(WebSocketConnectError);
  });

  it('close() cuts a reason longer than the 123 bytes a close frame holds', async () => {
    const server = await startListener();
    const accepted = server.nextTransport();
    const client = await dial(server.url);
    const transport = await accepted;
    const seen = closed(transport);
    client.close(4000, 'é'.repeat(100));
    expect(await seen).toEqual({ code: 4000, reason: 'é'.repeat(61), local: false });
  });
});

describe('connectWebSocket', () => {
  it('rejects at once when the signal is already aborted', async () => {
    const error = await connectWebSocket('ws://127.0.0.1:1/', { signal: AbortSignal.abort('stop') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketConnectError);
    expect((error as Error).cause).toBe('stop');
  });

  it('rejects when aborted during the handshake', async () => {
    const url = await blackHole();
    const controller = new AbortController();
    const attempt = connectWebSocket(url, { signal: controller.signal });
    controller.abort(new Error('user gave up'));
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketConnectError);
    expect(((error as Error).cause as Error).message).toBe('user gave up');
  });

  it('rejects when the opening handshake times out', async () => {
    const url = await blackHole();
    const error = await connectWebSocket(url, { handshakeTimeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketConnectError);
    expect((error as Error).message).toMatch(/timed out/);
  });

  it('sends the given headers with the upgrade request', async () => {
    const server = await startListener();
    const accepted = server.next();
    const client = await connectWebSocket(server.url, { headers: { 'x-atoll-test': 'yes' } });
    expect((await accepted).request.headers['x-atoll-test']).toBe('yes');
    client.close();
  });

  it('enforces its own maxPayload on what the server sends (1009)', async () => {
    const server = await startListener();
    const accepted = server.nextTransport();
    const client = await connectWebSocket(server.url, { maxPayload: 100 });
    const transport = await accepted;
    const seen: Promise<CloseInfo>[] = [closed(client), closed(transport)];
    transport.send(new Uint8Array(101));
    const [clientInfo, serverInfo] = await Promise.all(seen);
    expect(clientInfo).toMatchObject({ code: 1009, local: false });
    expect(serverInfo).toMatchObject({ code: 1009, local: false });
  });
});

describe('connectBrowserWebSocket', () => {
  it('sends close codes a browser refuses as 1000, keeping the reason, and reports the code asked for locally', async () => {
    const server = await startListener();
    const accepted = server.nextTransport();
    const client: Transport = await dialers.browser(server.url);
    const transport = await accepted;
    const remote = closed(transport);
    const local = closed(client);
    client.close(1008, 'policy');
    expect(await remote).toEqual({ code: 1000, reason: 'policy', local: false });
    expect(await local).toEqual({ code: 1008, reason: 'policy', local: true });
  });

  it('rejects when the environment has no WebSocket', async () => {
    const error = await connectBrowserWebSocket('ws://127.0.0.1:1/').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketConnectError);
    expect((error as Error).message).toMatch(/no WebSocket/);
  });

  it('rejects when aborted during the handshake', async () => {
    const url = await blackHole();
    const controller = new AbortController();
    const attempt = connectBrowserWebSocket(url, { WebSocket: WsWebSocket, signal: controller.signal });
    controller.abort('enough');
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketConnectError);
    expect((error as Error).cause).toBe('enough');
  });
});
