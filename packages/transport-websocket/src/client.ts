import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { DEFAULTS } from '@atoll/protocol';
import type { Transport } from '@atoll/sync';
import { WebSocketConnectError } from './errors.js';
import { coalesceWrites } from './coalesce.js';
import { SocketTransport, wsCanSend } from './socket-transport.js';

/** Options of {@link connectWebSocket}. */
export interface ConnectWebSocketOptions {
  /** Extra HTTP headers of the upgrade request (a proxy's credentials, say; Atoll's own token goes in `hello`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Largest message accepted from the server, in bytes; a bigger one closes the connection with 1009. Default 16 MiB (`DEFAULTS.maxMessageBytes`). */
  readonly maxPayload?: number;
  /** Aborts the attempt; the promise rejects with a {@link WebSocketConnectError} whose `cause` is the signal's reason. It has no effect once connected. */
  readonly signal?: AbortSignal;
  /** Gives up when the opening handshake takes longer than this. Default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Offer permessage-deflate. Default false. */
  readonly perMessageDeflate?: boolean;
}

/**
 * Dials an Atoll WebSocket listener from Node (on `ws`) and resolves with the open
 * {@link Transport}; rejects with a {@link WebSocketConnectError} when the connection cannot be
 * opened. Browsers use `connectBrowserWebSocket` from `@atoll/transport-websocket/browser`.
 *
 * @example
 * const transport = await connectWebSocket('ws://127.0.0.1:8787/sync', {
 *   signal: AbortSignal.timeout(5000),
 * });
 * peer.connect(transport);
 */
export function connectWebSocket(url: string | URL, options: ConnectWebSocketOptions = {}): Promise<Transport> {
  const href = String(url);
  const { signal } = options;
  return new Promise<Transport>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new WebSocketConnectError(href, 'aborted', { cause: signal.reason }));
      return;
    }
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, {
        ...(options.headers ? { headers: { ...options.headers } } : {}),
        maxPayload: options.maxPayload ?? DEFAULTS.maxMessageBytes,
        perMessageDeflate: options.perMessageDeflate ?? false,
        handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
      });
    } catch (error) {
      reject(new WebSocketConnectError(href, error instanceof Error ? error.message : 'invalid address', { cause: error }));
      return;
    }
    ws.binaryType = 'nodebuffer';
    // The TCP socket, known from the upgrade on: frames sent in one turn go out in one write.
    let socket: Duplex | undefined;
    ws.once('upgrade', (response) => (socket = response.socket));
    // Listening from the start: it also handles 'error', which would otherwise throw.
    const transport = new SocketTransport(ws, wsCanSend, { beforeSend: coalesceWrites(() => socket) });
    let settled = false;
    const settle = () => {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (message: string, details: { status?: number; cause?: unknown } = {}) => {
      if (settled) return;
      settle();
      reject(new WebSocketConnectError(href, message, details));
    };
    const onAbort = () => {
      fail('aborted', { cause: signal?.reason });
      ws.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    ws.once('open', () => {
      if (settled) return;
      settle();
      resolve(transport);
    });
    ws.once('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      fail(`the server answered ${status} ${response.statusMessage ?? ''} instead of upgrading`.trimEnd(), { status });
      response.resume();
      ws.terminate();
    });
    ws.once('error', (error) => fail(error.message, { cause: error }));
    ws.once('close', (code) => fail(`closed before opening (code ${code})`));
  });
}
