import { AtollError } from '@atoll/protocol';

/**
 * A WebSocket connection could not be opened: nothing listens at the address, the server
 * answered without upgrading (see {@link WebSocketConnectError.status}), the opening handshake
 * timed out, or the attempt was aborted. Retry later — the sync layer backs off and reconnects.
 */
export class WebSocketConnectError extends AtollError {
  /** The address that was dialed. */
  readonly url: string;
  /** The HTTP status of a server that answered without upgrading (404 wrong path, 401, 503…); undefined when there was no answer, or in a browser, which hides it. */
  readonly status: number | undefined;

  constructor(url: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(`cannot connect to ${url}: ${message}`, 'cause' in options ? { cause: options.cause } : undefined);
    this.url = url;
    this.status = options.status;
  }
}

/** A {@link WebSocketListener} could not start listening: the port is taken, or the host is not an address of this machine. */
export class WebSocketListenError extends AtollError {
  /** The address it tried to bind, as `host:port`. */
  readonly address: string;

  constructor(address: string, options: { cause?: unknown } = {}) {
    const detail = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`cannot listen on ${address}${detail}`, 'cause' in options ? { cause: options.cause } : undefined);
    this.address = address;
  }
}
