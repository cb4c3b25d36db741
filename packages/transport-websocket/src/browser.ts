/**
 * `@atoll/transport-websocket/browser`: the WebSocket client for browsers, on the native
 * `WebSocket`. It never imports `ws`, so browser bundles stay free of Node modules.
 *
 * @packageDocumentation
 */
import type { Transport } from '@atoll/sync';
import { WebSocketConnectError } from './errors.js';
import { SocketTransport, browserCanSend, type WebSocketLike } from './socket-transport.js';

export { WebSocketConnectError } from './errors.js';
export type { WebSocketLike } from './socket-transport.js';

/** A WebSocket class: the browser's global `WebSocket`, or one with the same API. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Options of {@link connectBrowserWebSocket}. */
export interface BrowserWebSocketOptions {
  /** Subprotocols to offer. */
  readonly protocols?: string | readonly string[];
  /** Aborts the attempt; the promise rejects with a {@link WebSocketConnectError} whose `cause` is the signal's reason. It has no effect once connected. */
  readonly signal?: AbortSignal;
  /**
   * The WebSocket class to use. Default: the global `WebSocket`. Anything with the WHATWG API
   * works — the tests run this client in Node on the `ws` package's class.
   */
  readonly WebSocket?: WebSocketConstructor;
}

/**
 * Dials an Atoll WebSocket listener with the browser's `WebSocket` (binary frames as
 * `ArrayBuffer`s) and resolves with the open {@link Transport}; rejects with a
 * {@link WebSocketConnectError} when it cannot connect (a browser does not say why, so
 * `status` is undefined). A browser only sends close codes 1000 and 3000–4999: `close()` with
 * another code sends 1000, keeping the reason.
 *
 * @example
 * import { connectBrowserWebSocket } from '@atoll/transport-websocket/browser';
 *
 * const transport = await connectBrowserWebSocket('wss://relay.example.com/sync', {
 *   signal: AbortSignal.timeout(10_000),
 * });
 * peer.connect(transport);
 */
export function connectBrowserWebSocket(url: string | URL, options: BrowserWebSocketOptions = {}): Promise<Transport> {
  const href = String(url);
  const { signal } = options;
  return new Promise<Transport>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new WebSocketConnectError(href, 'aborted', { cause: signal.reason }));
      return;
    }
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof Socket !== 'function') {
      reject(new WebSocketConnectError(href, 'this environment has no WebSocket; pass options.WebSocket'));
      return;
    }
    let socket: WebSocketLike;
    try {
      socket = options.protocols === undefined ? new Socket(href) : new Socket(href, typeof options.protocols === 'string' ? options.protocols : [...options.protocols]);
    } catch (error) {
      // The constructor throws a SyntaxError for a malformed URL or a scheme other than ws(s).
      reject(new WebSocketConnectError(href, error instanceof Error ? error.message : 'invalid address', { cause: error }));
      return;
    }
    socket.binaryType = 'arraybuffer';
    const transport = new SocketTransport(socket, browserCanSend);
    let settled = false;
    const settle = () => {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (message: string, cause?: unknown) => {
      if (settled) return;
      settle();
      reject(new WebSocketConnectError(href, message, cause === undefined ? {} : { cause }));
    };
    const onAbort = () => {
      fail('aborted', signal?.reason);
      socket.close();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.addEventListener('open', () => {
      if (settled) return;
      settle();
      resolve(transport);
    });
    socket.addEventListener('error', (event) => {
      const message = (event as { message?: unknown } | undefined)?.message;
      fail(typeof message === 'string' && message ? message : 'the connection failed');
    });
    socket.addEventListener('close', (event) => fail(`closed before opening (code ${event.code})`));
  });
}
