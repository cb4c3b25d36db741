import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import {
  ALL_COLLECTIONS,
  PROTOCOL_VERSION,
  decodeMessage,
  encodeMessage,
  type DocKey,
  type HelloMessage,
  type LogId,
  type Message,
  type PeerId,
  type Subscription,
} from '@atoll/protocol';
import { SqliteStorageAdapter } from '@atoll/storage-sqlite';
import { MemoryStorageAdapter, Store, silentLogger, type Logger, type StorageAdapter } from '@atoll/store';
import { SyncPeer, type Dialer, type SyncPeerOptions, type Transport } from '@atoll/sync';
import { connectWebSocket } from '@atoll/transport-websocket';
import { startRelay, type Relay, type RelayOptions } from '../src/index.js';

/** Longest any test waits for one condition. */
export const WAIT_MS = 15_000;

const cleanups: (() => Promise<unknown>)[] = [];

/** Runs (in reverse order) everything the test registered; call from afterEach. */
export async function cleanUp(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => {});
}

/** Registers a cleanup step. */
export function onCleanUp(step: () => Promise<unknown>): void {
  cleanups.push(step);
}

/** A fresh temporary directory, removed after the test. */
export async function tempDir(prefix = 'atoll-relay-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onCleanUp(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger that keeps what it is told (relays under test stay quiet). */
export function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** A relay on 127.0.0.1, port 0, in a fresh data directory unless one is given; closed after the test. */
export async function testRelay(options: RelayOptions = {}): Promise<Relay> {
  const relay = await startRelay({ port: 0, host: '127.0.0.1', dataDir: options.dataDir ?? (await tempDir()), logger: silentLogger, ...options });
  onCleanUp(() => relay.close());
  return relay;
}

/** Waits until `check` holds, re-checking every few milliseconds; fails naming `what` after {@link WAIT_MS}. */
export async function until(check: () => boolean | Promise<boolean>, what: string | (() => string), ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves with `promise`, or rejects naming `what` after {@link WAIT_MS}. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const everything = (id = 'all'): Subscription => ({ id, collection: ALL_COLLECTIONS });

/** A client peer: a store (in memory unless given) and a SyncPeer dialing the relay. */
export interface TestClient {
  readonly store: Store;
  readonly sync: SyncPeer;
  readonly dialer: Dialer;
  /** Every frame the client received, decoded (the spy sits under the SyncPeer). */
  readonly received: Message[];
}

/**
 * Opens a client on `storage` (memory by default) that dials `relay` and keeps the connection
 * up. `received` records every message the relay sent it.
 */
export async function testClient(
  syncUrl: string,
  options: Partial<Omit<SyncPeerOptions, 'store'>> & { storage?: StorageAdapter; peerId?: string } = {},
): Promise<TestClient> {
  const { storage, peerId, ...syncOptions } = options;
  const store = await Store.open({ storage: storage ?? new MemoryStorageAdapter(), logger: silentLogger, ...(peerId ? { peerId } : {}) });
  const sync = new SyncPeer({ logger: silentLogger, role: 'client', subscriptions: [everything()], ...syncOptions, store });
  const received: Message[] = [];
  const dialer = sync.dial(async () => spy(await connectWebSocket(syncUrl), received), { minDelayMs: 20, maxDelayMs: 200 });
  onCleanUp(async () => {
    await sync.close();
    await store.close();
  });
  return { store, sync, dialer, received };
}

/** A client on a SQLite file (to restart it on the same data). */
export async function sqliteStorage(dir: string, name: string): Promise<SqliteStorageAdapter> {
  return SqliteStorageAdapter.open(join(dir, `${name}.db`));
}

/** Wraps a transport so every incoming frame is also decoded into `into`. */
export function spy(transport: Transport, into: Message[], sent?: Message[]): Transport {
  const decode = (bytes: Uint8Array): Message | undefined => {
    try {
      return decodeMessage(bytes, { maxBytes: 1 << 30 });
    } catch {
      return undefined;
    }
  };
  return {
    get bufferedAmount() {
      return transport.bufferedAmount;
    },
    get closed() {
      return transport.closed;
    },
    send(message) {
      const msg = sent ? decode(message) : undefined;
      if (msg) sent?.push(msg);
      transport.send(message);
    },
    onMessage(handler) {
      transport.onMessage((bytes) => {
        const msg = decode(bytes);
        if (msg) into.push(msg);
        handler(bytes);
      });
    },
    onClose: (handler) => transport.onClose(handler),
    close: (code, reason) => transport.close(code, reason),
  };
}

/** Ids of the documents of a collection. */
export async function idsOf(store: Store, collection: string): Promise<string[]> {
  return (await store.find({ collection })).map((d) => d._id).sort();
}

/** Everything a store holds, as `collection/_id → value`, for before/after comparisons. */
export async function snapshot(store: Store): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const collection of store.collections().sort()) {
    for (const doc of await store.find({ collection })) out[`${collection}/${doc._id}`] = doc;
  }
  return out;
}

/** A `ws` client that speaks raw frames: for sending what no SyncPeer would. */
export class RawClient {
  readonly messages: Message[] = [];
  /** Every frame received, as bytes. */
  readonly frames: Uint8Array[] = [];
  /** Frames that did not decode (there should be none). */
  readonly undecodable: Uint8Array[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #waiters = new Set<() => void>();
  #ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => {
      const bytes = new Uint8Array(data);
      this.frames.push(bytes);
      try {
        this.messages.push(decodeMessage(bytes, { maxBytes: 1 << 30 }));
      } catch {
        this.undecodable.push(bytes);
      }
      for (const w of [...this.#waiters]) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    void this.closed.then(() => {
      for (const w of [...this.#waiters]) w();
    });
    ws.on('error', () => {});
  }

  static async connect(url: string, options: { maxPayload?: number } = {}): Promise<RawClient> {
    const ws = new WebSocket(url, { maxPayload: options.maxPayload ?? 1 << 30 });
    const client = new RawClient(ws);
    onCleanUp(async () => {
      ws.terminate();
      await client.closed;
    });
    await within(new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }), 'the raw client to connect');
    return client;
  }

  /** Sends raw bytes (or a string, as a text frame). */
  sendRaw(data: Uint8Array | string): void {
    this.#ws.send(data);
  }

  /** Encodes and sends a message, validated unless `validate` is false (to send invalid ones). */
  send(msg: Message, validate = true): void {
    this.#ws.send(encodeMessage(msg, { validate }));
  }

  /** Sends `hello` and waits for `welcome`. */
  async handshake(fields: Partial<HelloMessage> = {}): Promise<void> {
    this.send(helloMessage(fields));
    await this.next((m) => m.type === 'welcome', 'welcome');
  }

  /** The first message (from the start) that matches, waiting for it. */
  async next<T extends Message>(match: (m: Message) => m is T, what: string): Promise<T>;
  async next(match: (m: Message) => boolean, what: string): Promise<Message>;
  async next(match: (m: Message) => boolean, what: string): Promise<Message> {
    let found: Message | undefined;
    await within(
      new Promise<void>((resolve, reject) => {
        const check = () => {
          found = this.messages.find(match);
          if (found) {
            this.#waiters.delete(check);
            resolve();
          } else if (this.#ws.readyState === WebSocket.CLOSED) {
            this.#waiters.delete(check);
            reject(new Error(`the connection closed before ${what} arrived; got ${this.messages.map((m) => m.type).join(', ')}`));
          }
        };
        this.#waiters.add(check);
        check();
      }),
      what,
    );
    return found as Message;
  }

  /** The `error` messages received so far. */
  errors(): Extract<Message, { type: 'error' }>[] {
    return this.messages.filter((m): m is Extract<Message, { type: 'error' }> => m.type === 'error');
  }

  /** Waits for the close. */
  async closeInfo(): Promise<{ code: number; reason: string }> {
    return within(this.closed, 'the relay to close the connection');
  }

  close(): void {
    this.#ws.close();
  }
}

let rawPeers = 0;

/** A valid `hello` of a raw client, with fields overridden. */
export function helloMessage(fields: Partial<HelloMessage> = {}): HelloMessage {
  rawPeers++;
  return {
    type: 'hello',
    versions: [PROTOCOL_VERSION],
    peerId: `raw-${process.pid}-${rawPeers}` as PeerId,
    role: 'client',
    logId: `raw-log-${rawPeers}` as LogId,
    maxBytes: 16 * 1024 * 1024,
    ...fields,
  };
}

export const key = (collection: string, id: string): DocKey => `${collection}/${id}` as DocKey;
