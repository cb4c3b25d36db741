import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ALL_COLLECTIONS, DEFAULTS, LIMITS, PeerRole, type PeerId } from '@atoll/protocol';
import { SqliteStorageAdapter } from '@atoll/storage-sqlite';
import { Store, consoleLogger, type Logger } from '@atoll/store';
import { SyncPeer, type Connection, type Transport } from '@atoll/sync';
import { listenWebSocket, type WebSocketListener } from '@atoll/transport-websocket';
import { PermissionSet, authenticator, type AuthConfig, type PermissionsDocument } from './auth.js';
import { lockDataDir, type DataDir } from './data-dir.js';
import { RelayConfigError, RelayListenError } from './errors.js';
import { DEFAULT_RATE_LIMIT, GuardedTransport, type RateLimitOptions } from './guarded-transport.js';
import { httpHandler, type RelayHealth } from './http.js';
import { RelayMetrics } from './metrics.js';
import { StaticFiles } from './static-files.js';

/** Options for {@link startRelay}. Every one has a default; the CLI maps its flags onto them. */
export interface RelayOptions {
  /** TCP port; 0 picks a free one (read it back from {@link Relay.port}). Default 8787. */
  readonly port?: number;
  /** Interface to bind. Default 127.0.0.1: the relay is reachable from elsewhere only when asked. */
  readonly host?: string;
  /** Directory for the relay's data (`relay.db`, created if missing). Default `./atoll-data`. */
  readonly dataDir?: string;
  /** A shared secret every peer must send in `hello`. Exclusive with the permissions options. */
  readonly token?: string;
  /** A JSON file mapping tokens to `{ peer?, read, write }`; validated at startup. */
  readonly permissionsFile?: string;
  /** The same mapping given directly (embedding, tests). Exclusive with `permissionsFile` and `token`. */
  readonly permissions?: PermissionsDocument | PermissionSet;
  /** Largest frame accepted (and advertised in `welcome`), in bytes: 64 KiB to 1 GiB. Default 16 MiB. */
  readonly maxMessageBytes?: number;
  /** Per-connection message rate limit; `false` turns it off. Default {@link DEFAULT_RATE_LIMIT}. */
  readonly rateLimit?: Partial<RateLimitOptions> | false;
  /** Serve this directory's files over HTTP (`index.html` at `/`) instead of the status page. */
  readonly staticDir?: string;
  /** Where the relay, its store and its sync peer report. Default: the console. */
  readonly logger?: Logger;
  /** How long {@link Relay.close} waits for peers to answer the WebSocket close. Default 5000 ms. */
  readonly closeTimeoutMs?: number;
}

/** A running relay. */
export interface Relay {
  /** `http://host:port`: the status page (or the static files), `/healthz` and `/metrics`. */
  readonly url: string;
  /** `ws://host:port/sync`: where peers dial. */
  readonly syncUrl: string;
  /** The bound address. */
  readonly host: string;
  /** The bound port (the real one when started with port 0). */
  readonly port: number;
  /** The relay's peer id, kept in its data directory across restarts. */
  readonly peerId: PeerId;
  /** The absolute path of the data directory. */
  readonly dataDir: string;
  /** How peers are authenticated. */
  readonly auth: AuthConfig['mode'];
  /** The relay's store (read it, do not write to it behind the peers' backs). */
  readonly store: Store;
  /** The relay's sync peer (its connections and events). */
  readonly peer: SyncPeer;
  /** What `/healthz` answers now. */
  health(): RelayHealth;
  /** What `/metrics` answers now. */
  metrics(): string;
  /**
   * Shuts down gracefully: stops accepting, closes every connection (waiting for deliveries
   * being applied), closes the store (waiting for pending commits) and releases the data
   * directory. Everything the relay acknowledged was durable before it was acknowledged.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** Path of the sync WebSocket endpoint. */
export const SYNC_PATH = '/sync';
/**
 * How far past `maxMessageBytes` the socket still reads a frame. A frame a little over the limit
 * reaches the sync peer and gets a typed `too-large` error; a bigger one is cut off by the socket
 * (close 1009) before it is buffered.
 */
export const SOCKET_SLACK_BYTES = 64 * 1024;

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || host.startsWith('127.');

/** The host to put in a URL a person (or a peer on this machine) opens. */
function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function checkOptions(options: RelayOptions): { port: number; host: string; dataDir: string; maxMessageBytes: number; rateLimit: RateLimitOptions | false } {
  const port = options.port ?? 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RelayConfigError(`port must be an integer from 0 to 65535, got ${port}`);
  const host = options.host ?? '127.0.0.1';
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < LIMITS.minMessageBytes || maxMessageBytes > LIMITS.maxMessageBytes) {
    throw new RelayConfigError(`max message bytes must be an integer from ${LIMITS.minMessageBytes} (64 KiB) to ${LIMITS.maxMessageBytes} (1 GiB), got ${maxMessageBytes}`);
  }
  let rateLimit: RateLimitOptions | false = false;
  if (options.rateLimit !== false) {
    // A single frame must fit in what may be held back, whatever the frame limit.
    const maxQueuedBytes = Math.max(DEFAULT_RATE_LIMIT.maxQueuedBytes, 2 * maxMessageBytes);
    rateLimit = { ...DEFAULT_RATE_LIMIT, maxQueuedBytes, ...options.rateLimit };
    for (const [name, value] of Object.entries(rateLimit)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new RelayConfigError(`rate limit ${name} must be a positive number, got ${String(value)}`);
    }
    if (rateLimit.burst < 1) throw new RelayConfigError(`rate limit burst must be at least 1, got ${rateLimit.burst}`);
    if (rateLimit.maxQueuedBytes < maxMessageBytes) {
      throw new RelayConfigError(`rate limit maxQueuedBytes (${rateLimit.maxQueuedBytes}) must be at least max message bytes (${maxMessageBytes}): one frame must fit`);
    }
  }
  const sources = [options.token !== undefined, options.permissionsFile !== undefined, options.permissions !== undefined].filter(Boolean).length;
  if (sources > 1) throw new RelayConfigError('give either a token or permissions (a file or an object), not both: a permissions file can hold a token with full access ({ "read": ["*"], "write": ["*"] })');
  if (options.token !== undefined && (options.token.length === 0 || options.token.length > LIMITS.tokenLength)) {
    throw new RelayConfigError(`the token must be 1 to ${LIMITS.tokenLength} characters`);
  }
  return { port, host, dataDir: options.dataDir ?? './atoll-data', maxMessageBytes, rateLimit };
}

async function authConfig(options: RelayOptions): Promise<AuthConfig> {
  if (options.token !== undefined) return { mode: 'token', token: options.token };
  if (options.permissionsFile !== undefined) return { mode: 'permissions', permissions: await PermissionSet.load(options.permissionsFile) };
  if (options.permissions !== undefined) {
    const permissions = options.permissions instanceof PermissionSet ? options.permissions : PermissionSet.parse(options.permissions, 'the permissions option');
    return { mode: 'permissions', permissions };
  }
  return { mode: 'open' };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new RelayListenError(`${host}:${port}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Where a connection comes from, for logs. */
function origin(request: IncomingMessage): string {
  const forwarded = request.headers['x-forwarded-for'];
  const address = request.socket.remoteAddress ?? 'unknown';
  return typeof forwarded === 'string' ? `${address} (x-forwarded-for ${forwarded})` : address;
}

/**
 * Starts a relay: a sync peer that subscribes to everything, persists it in SQLite under
 * `dataDir`, and serves peers over WebSockets at `/sync`, with `/healthz`, `/metrics` and a
 * status page (or static files) on the same port. Resolves once it listens.
 *
 * @throws {RelayConfigError} for invalid options or an invalid permissions file.
 * @throws {RelayDataDirLockedError} when another relay uses the data directory.
 * @throws {RelayListenError} when the address cannot be bound.
 * @example
 * const relay = await startRelay({ port: 8787, dataDir: './atoll-data', token: process.env.ATOLL_TOKEN });
 * console.log(`open ${relay.url}; peers dial ${relay.syncUrl}`);
 * process.once('SIGTERM', () => void relay.close());
 */
export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  const { port, host, dataDir, maxMessageBytes, rateLimit } = checkOptions(options);
  const logger = options.logger ?? consoleLogger;
  const auth = await authConfig(options);
  const staticFiles = options.staticDir !== undefined ? await StaticFiles.open(options.staticDir) : undefined;
  const startedAt = Date.now();

  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async () => {
    for (const step of cleanups.splice(0).reverse()) await step().catch(() => {});
  };
  try {
    const dir: DataDir = await lockDataDir(dataDir);
    cleanups.push(() => dir.release());
    const storage = await SqliteStorageAdapter.open(dir.database, { durability: 'full' });
    cleanups.push(() => storage.close()); // idempotent; the store closes it too
    const settings = await storage.settings();
    logger.info(`storage ${dir.database}: journal ${settings.journalMode}, synchronous ${settings.synchronous}`);
    const store = await Store.open({ storage, logger });
    cleanups.push(() => store.close());
    const peer = new SyncPeer({
      store,
      role: PeerRole.Relay,
      subscriptions: [{ id: 'all', collection: ALL_COLLECTIONS }],
      authenticate: authenticator(auth),
      maxMessageBytes,
      logger,
    });
    cleanups.push(() => peer.close());
    const metrics = new RelayMetrics(peer, store, { version: VERSION, startedAt });
    let stopping = false;

    const health = (): RelayHealth => ({
      status: stopping ? 'stopping' : 'ok',
      peerId: store.peerId,
      logId: store.logId,
      connections: peer.connections.length,
      position: store.position,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    });
    const server = createServer(httpHandler({ syncPath: SYNC_PATH, health, metrics: () => metrics.render(), staticFiles }));
    const origins = new WeakMap<Connection, string>();
    const describe = (c: Connection) => `${c.remote ? `peer ${c.remote.peerId} (${c.remote.role})` : 'a peer'} from ${origins.get(c) ?? 'unknown'}`;
    const stopLogging = [
      peer.events.on('open', ({ connection }) => logger.info(`${describe(connection)} connected`)),
      peer.events.on('close', ({ connection, info }) => logger.info(`${describe(connection)} disconnected (${info.code}${info.reason ? ` ${info.reason}` : ''})`)),
      peer.events.on('error', ({ connection, direction, kind, message }) => {
        if (direction === 'sent') logger.warn(`reported ${kind} to ${describe(connection)}: ${message}`);
      }),
    ];

    const listener: WebSocketListener = await listenWebSocket({
      server,
      path: SYNC_PATH,
      maxPayload: maxMessageBytes + SOCKET_SLACK_BYTES,
      ...(options.closeTimeoutMs !== undefined ? { closeTimeoutMs: options.closeTimeoutMs } : {}),
      onConnection: (transport: Transport, request: IncomingMessage) => {
        if (stopping) {
          transport.close(1001, 'relay shutting down');
          return;
        }
        metrics.connectionAccepted();
        const guarded = new GuardedTransport(transport, rateLimit, {
          frame: (direction, bytes) => metrics.frame(direction, bytes),
          rateLimited: (fatal) => {
            metrics.errorSent('rate-limited');
            logger.warn(`${fatal ? 'closed a flooding connection' : 'slowed down a connection'} from ${origin(request)}: rate-limited`);
          },
        });
        origins.set(peer.accept(guarded), origin(request));
      },
      onError: (error) => logger.error('the sync listener failed', { error }),
    });
    cleanups.push(() => listener.close());
    await listen(server, port, host);
    const serverClosed = new Promise<void>((resolve) => server.once('close', resolve));
    cleanups.push(async () => {
      server.close();
      server.closeAllConnections();
      await serverClosed;
    });

    const address = server.address() as AddressInfo;
    const base = `${displayHost(host)}:${address.port}`;
    if (auth.mode === 'open') {
      if (isLoopback(host)) {
        logger.warn(`open relay: no token or permissions, so any program on this machine may read and write every document (set --token or --permissions before binding beyond loopback)`);
      } else {
        logger.error(`OPEN RELAY ON ${host}: no token or permissions, so anyone who can reach ${host}:${address.port} may read and write every document; set --token or --permissions`);
      }
    }

    let closing: Promise<void> | undefined;
    const close = async (): Promise<void> => {
      stopping = true;
      // Stop accepting: new TCP connections are refused, idle keep-alive ones dropped.
      server.close();
      server.closeIdleConnections();
      const started = performance.now();
      const since = () => `${Math.round(performance.now() - started)} ms`;
      const connections = peer.connections.length;
      try {
        // Close every sync connection; each waits for the delivery it is applying and saves its cursor.
        await peer.close();
        logger.info(`shutdown: ${connections} connections closed after ${since()}`);
        await listener.close();
        logger.info(`shutdown: sockets closed after ${since()}`);
      } finally {
        try {
          // Waits for every commit already started, then closes SQLite.
          await store.close();
          logger.info(`shutdown: store closed after ${since()} at log position ${store.position}`);
        } finally {
          for (const stop of stopLogging) stop();
          metrics.dispose();
          server.closeAllConnections();
          await serverClosed;
          await dir.release();
        }
      }
    };

    return {
      url: `http://${base}`,
      syncUrl: `ws://${base}${SYNC_PATH}`,
      host,
      port: address.port,
      peerId: store.peerId,
      dataDir: dir.path,
      auth: auth.mode,
      store,
      peer,
      health,
      metrics: () => metrics.render(),
      close: () => (closing ??= close()),
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
