import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StaticFiles } from './static-files.js';

/** What `GET /healthz` answers, as JSON. */
export interface RelayHealth {
  /** `ok` while serving; `stopping` once shutdown has begun (then the status code is 503). */
  readonly status: 'ok' | 'stopping';
  /** The relay's peer id: the same across restarts on one data directory. */
  readonly peerId: string;
  /** The id of the relay's log incarnation (changes only if the data directory is wiped). */
  readonly logId: string;
  /** Sync connections now, handshaking or open. */
  readonly connections: number;
  /** Position of the last entry in the relay's log. */
  readonly position: number;
  /** Seconds since the relay started. */
  readonly uptimeSeconds: number;
}

/** What the HTTP routes need from the relay. */
export interface HttpRoutes {
  readonly syncPath: string;
  health(): RelayHealth;
  metrics(): string;
  readonly staticFiles: StaticFiles | undefined;
}

/** The status page's own path; it is also served at `/` when the relay serves no static files. */
export const STATUS_PATH = '/status';

const TEXT = 'text/plain; charset=utf-8';
const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff' } as const;

function send(request: IncomingMessage, response: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', ...SECURITY_HEADERS, ...extra });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/**
 * The relay's plain HTTP routes: `/healthz`, `/metrics`, `/status` (the status page, also at `/`
 * without static files), the static files, and a 426 for a `/sync` request that is not a
 * WebSocket upgrade (upgrades never reach here). The relay's own paths win over files.
 */
export function httpHandler(routes: HttpRoutes): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    handle(routes, request, response).catch(() => {
      if (!response.headersSent) send(request, response, 500, TEXT, 'internal error\n');
      else response.destroy();
    });
  };
}

async function handle(routes: HttpRoutes, request: IncomingMessage, response: ServerResponse): Promise<void> {
  let pathname: string;
  try {
    pathname = new URL(request.url ?? '/', 'http://relay').pathname;
  } catch {
    send(request, response, 400, TEXT, 'bad request\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(request, response, 405, TEXT, 'method not allowed\n', { allow: 'GET, HEAD' });
    return;
  }
  if (pathname === '/healthz') {
    const health = routes.health();
    send(request, response, health.status === 'ok' ? 200 : 503, 'application/json; charset=utf-8', JSON.stringify(health));
    return;
  }
  if (pathname === '/metrics') {
    send(request, response, 200, 'text/plain; version=0.0.4; charset=utf-8', routes.metrics());
    return;
  }
  if (pathname === routes.syncPath) {
    send(request, response, 426, TEXT, 'this endpoint speaks WebSocket: connect an Atoll peer to it\n', { upgrade: 'websocket', connection: 'Upgrade' });
    return;
  }
  if (pathname === STATUS_PATH || (pathname === '/' && !routes.staticFiles)) {
    send(request, response, 200, 'text/html; charset=utf-8', statusPage(routes.health(), request, routes.syncPath));
    return;
  }
  if (!routes.staticFiles || !(await routes.staticFiles.serve(request, response, pathname))) send(request, response, 404, TEXT, 'not found\n');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page a person sees at `/` when the relay serves no static files. */
function statusPage(health: RelayHealth, request: IncomingMessage, syncPath: string): string {
  const host = request.headers.host ?? 'this-host';
  const secure = request.headers['x-forwarded-proto'] === 'https';
  const syncUrl = `${secure ? 'wss' : 'ws'}://${host}${syncPath}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Atoll relay</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>Atoll relay</h1>
<p id="status">The relay is running.</p>
<dl>
<dt>Peers connect to</dt><dd><code id="sync-url">${escapeHtml(syncUrl)}</code></dd>
<dt>Peer id</dt><dd><code id="peer-id">${escapeHtml(health.peerId)}</code></dd>
<dt>Connections</dt><dd id="connections">${health.connections}</dd>
<dt>Log position</dt><dd id="position">${health.position}</dd>
</dl>
<p>Health: <a href="/healthz">/healthz</a> · Metrics: <a href="/metrics">/metrics</a> · This page: <a href="${STATUS_PATH}">${STATUS_PATH}</a></p>
</body></html>`;
}
