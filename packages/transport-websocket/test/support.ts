import type { IncomingMessage, Server } from 'node:http';
import type { CloseInfo, Transport } from '@atoll/sync';
import { listenWebSocket, type WebSocketListener } from '../src/index.js';

/** Longest any test waits for one event. */
export const WAIT_MS = 10_000;

/** Resolves with `promise`, or rejects saying `what` after {@link WAIT_MS}. */
export function within<T>(promise: Promise<T>, what: string | (() => string)): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A listener on 127.0.0.1, port 0, whose accepted connections the test takes one by one. */
export class TestListener {
  readonly #accepted: { transport: Transport; request: IncomingMessage }[] = [];
  readonly #waiters: ((connection: { transport: Transport; request: IncomingMessage }) => void)[] = [];
  listener!: WebSocketListener;

  static async start(options: { server?: Server; path?: string; maxPayload?: number; closeTimeoutMs?: number } = {}): Promise<TestListener> {
    const test = new TestListener();
    const { server, ...rest } = options;
    const onConnection = (transport: Transport, request: IncomingMessage) => {
      const waiter = test.#waiters.shift();
      if (waiter) waiter({ transport, request });
      else test.#accepted.push({ transport, request });
    };
    test.listener = await listenWebSocket(server ? { ...rest, server, onConnection } : { ...rest, host: '127.0.0.1', port: 0, onConnection });
    return test;
  }

  get url(): string {
    return this.listener.url;
  }

  /** The next accepted connection. */
  next(): Promise<{ transport: Transport; request: IncomingMessage }> {
    const ready = this.#accepted.shift();
    if (ready) return Promise.resolve(ready);
    return within(new Promise((resolve) => this.#waiters.push(resolve)), 'a connection');
  }

  async nextTransport(): Promise<Transport> {
    return (await this.next()).transport;
  }
}

/** Resolves with the CloseInfo of the transport's close. */
export function closed(transport: Transport): Promise<CloseInfo> {
  return within(new Promise((resolve) => transport.onClose(resolve)), 'a close');
}

/** Collects a transport's messages; `until(n)` resolves once n have arrived. */
export function collect(transport: Transport): { messages: Uint8Array[]; until(count: number): Promise<void> } {
  const messages: Uint8Array[] = [];
  const waiters = new Set<() => void>();
  transport.onMessage((m) => {
    messages.push(m);
    for (const w of [...waiters]) w();
  });
  return {
    messages,
    until: (count) =>
      within(
        new Promise<void>((resolve) => {
          const check = () => {
            if (messages.length >= count) {
              waiters.delete(check);
              resolve();
            }
          };
          waiters.add(check);
          check();
        }),
        () => `${count} messages (got ${messages.length})`,
      ),
  };
}
