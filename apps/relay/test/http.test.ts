import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@atoll/store';
import { RelayConfigError, startRelay } from '../src/index.js';
import { RawClient, cleanUp, idsOf, tempDir, testClient, testRelay, until } from './support.js';

afterEach(cleanUp);

/** A GET with the path sent exactly as given (fetch would normalise `..` away). */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Parses the Prometheus text format, checking every line is a comment or a well-formed sample. */
function parseMetrics(text: string): { samples: Map<string, number>; types: Map<string, string>; helps: Set<string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const helps = new Set<string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.trimEnd().split('\n')) {
    const help = /^# HELP ([a-z_]+) .+$/.exec(line);
    const type = /^# TYPE ([a-z_]+) (counter|gauge|histogram)$/.exec(line);
    const sample = /^([a-z_]+(?:\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})?) (-?[0-9.e+-]+|\+Inf|NaN)$/.exec(line);
    if (help) helps.add(help[1] as string);
    else if (type) types.set(type[1] as string, type[2] as string);
    else if (sample) samples.set(sample[1] as string, Number(sample[2]));
    else throw new Error(`not a Prometheus line: ${line}`);
  }
  return { samples, types, helps };
}

describe('HTTP endpoints', () => {
  it('/healthz and /metrics report the traffic', async () => {
    const relay = await testRelay({ token: 'tok' });
    const health0 = (await (await fetch(`${relay.url}/healthz`)).json()) as Record<string, unknown>;
    expect(health0).toMatchObject({ status: 'ok', peerId: relay.peerId, connections: 0, position: 0, logId: relay.store.logId });

    const a = await testClient(relay.syncUrl, { token: 'tok' });
    const b = await testClient(relay.syncUrl, { token: 'tok' });
    for (let i = 0; i < 5; i++) await a.store.insert('notes', { _id: `n${i}`, text: 'x'.repeat(100) });
    await until(async () => (await idsOf(b.store, 'notes')).length === 5, 'b to receive the notes');
    await until(() => a.sync.connections[0]?.inflightBytes === 0 && relay.peer.connections.every((c) => c.inflightBytes === 0), 'every delivery to be acked');
    const bad = await RawClient.connect(relay.syncUrl);
    bad.sendRaw(new Uint8Array([0xc1]));
    await bad.closeInfo();
    await until(() => relay.peer.connections.length === 2, 'the bad connection to go');

    const health = await fetch(`${relay.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await health.json()).toMatchObject({ status: 'ok', peerId: relay.peerId, connections: 2, position: 5 });

    const response = await fetch(`${relay.url}/metrics`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const { samples, types, helps } = parseMetrics(await response.text());
    for (const [name, type] of types) expect(helps.has(name), `HELP for ${name} (${type})`).toBe(true);
    expect(Object.fromEntries(types)).toEqual({
      atoll_relay_info: 'gauge',
      atoll_relay_start_time_seconds: 'gauge',
      atoll_relay_connections: 'gauge',
      atoll_relay_connections_accepted_total: 'counter',
      atoll_relay_connections_closed_total: 'counter',
      atoll_relay_frames_total: 'counter',
      atoll_relay_bytes_total: 'counter',
      atoll_relay_messages_total: 'counter',
      atoll_relay_deliveries_sent_total: 'counter',
      atoll_relay_deliveries_received_total: 'counter',
      atoll_relay_errors_total: 'counter',
      atoll_relay_apply_duration_seconds: 'histogram',
      atoll_relay_log_position: 'gauge',
    });
    const get = (name: string) => {
      const value = samples.get(name);
      if (value === undefined) throw new Error(`no sample ${name}`);
      return value;
    };
    expect(get(`atoll_relay_info{peer_id="${relay.peerId}",version="0.1.0"}`)).toBe(1);
    expect(get('atoll_relay_connections{state="open"}')).toBe(2);
    expect(get('atoll_relay_connections{state="handshaking"}')).toBe(0);
    expect(get('atoll_relay_connections_accepted_total')).toBe(3);
    expect(get('atoll_relay_connections_closed_total{code="4400"}')).toBe(1);
    expect(get('atoll_relay_deliveries_received_total{status="applied"}')).toBe(5);
    expect(get('atoll_relay_deliveries_sent_total')).toBe(5); // to b; never echoed back to a
    expect(get('atoll_relay_messages_total{direction="received",type="delivery"}')).toBe(5);
    expect(get('atoll_relay_messages_total{direction="sent",type="delivery"}')).toBe(5);
    expect(get('atoll_relay_messages_total{direction="received",type="hello"}')).toBe(2);
    expect(get('atoll_relay_messages_total{direction="received",type="ack"}')).toBeGreaterThanOrEqual(1);
    expect(get('atoll_relay_bytes_total{direction="received"}')).toBeGreaterThan(5 * 100);
    expect(get('atoll_relay_bytes_total{direction="sent"}')).toBeGreaterThan(5 * 100);
    expect(get('atoll_relay_frames_total{direction="received"}')).toBe(
      [...samples].filter(([k]) => k.startsWith('atoll_relay_messages_total{direction="received"')).reduce((s, [, v]) => s + v, 0) + 1, // + the malformed frame
    );
    expect(get('atoll_relay_errors_total{kind="malformed",direction="sent"}')).toBe(1);
    expect(get('atoll_relay_errors_total{kind="auth",direction="sent"}')).toBe(0);
    expect(get('atoll_relay_apply_duration_seconds_count')).toBe(5);
    expect(get('atoll_relay_apply_duration_seconds_bucket{le="+Inf"}')).toBe(5);
    expect(get('atoll_relay_apply_duration_seconds_sum')).toBeGreaterThan(0);
    expect(get('atoll_relay_log_position')).toBe(5);
    const buckets = [...samples].filter(([k]) => k.startsWith('atoll_relay_apply_duration_seconds_bucket')).map(([, v]) => v);
    expect(buckets).toEqual([...buckets].sort((x, y) => x - y)); // cumulative
  });

  it('serves the status page at / when there are no static files, 404 elsewhere, 405 for other methods, 426 on /sync', async () => {
    const relay = await testRelay();
    const page = await fetch(`${relay.url}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<h1>Atoll relay</h1>');
    expect(html).toContain(relay.peerId);
    expect(html).toContain(`ws://127.0.0.1:${relay.port}/sync`);
    expect(await (await fetch(`${relay.url}/status`)).text()).toBe(html);
    expect((await fetch(`${relay.url}/nope`)).status).toBe(404);
    const post = await fetch(`${relay.url}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${relay.url}/sync`)).status).toBe(426);
    const head = await fetch(`${relay.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    // WebSocket upgrades elsewhere than /sync are refused.
    await expect(RawClient.connect(relay.url.replace('http', 'ws') + '/elsewhere')).rejects.toThrow(/404/);
  });

  it('serves static files with content types and never outside the directory', async () => {
    const root = await tempDir();
    const site = join(root, 'site');
    await mkdir(join(site, 'assets'), { recursive: true });
    await writeFile(join(site, 'index.html'), '<!doctype html><title>demo</title><h1>Demo</h1>');
    await writeFile(join(site, 'assets', 'app.js'), 'console.log("hi")');
    await writeFile(join(site, 'assets', 'style.css'), 'body{}');
    await writeFile(join(site, 'assets', 'data.bin'), 'x');
    await writeFile(join(site, 'assets', 'atoll.wasm'), 'x');
    await writeFile(join(site, '.env'), 'SECRET=1');
    await writeFile(join(root, 'outside.txt'), 'outside the site');
    await symlink(join(root, 'outside.txt'), join(site, 'link.txt'));
    await mkdir(join(site, 'docs'));
    await writeFile(join(site, 'docs', 'index.html'), 'docs');

    const relay = await testRelay({ staticDir: site });
    const index = await fetch(`${relay.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toContain('<h1>Demo</h1>');
    const types: Record<string, string> = {
      '/assets/app.js': 'text/javascript; charset=utf-8',
      '/assets/style.css': 'text/css; charset=utf-8',
      '/assets/data.bin': 'application/octet-stream',
      '/assets/atoll.wasm': 'application/wasm',
      '/index.html': 'text/html; charset=utf-8',
    };
    for (const [path, type] of Object.entries(types)) {
      const res = await fetch(`${relay.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(type);
      await res.arrayBuffer();
    }
    const js = await fetch(`${relay.url}/assets/app.js`);
    const etag = js.headers.get('etag') ?? '';
    expect(await js.text()).toBe('console.log("hi")');
    expect((await fetch(`${relay.url}/assets/app.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const dir = await rawGet(relay.url, '/docs');
    expect(dir.status).toBe(301);
    expect(dir.headers['location']).toBe('/docs/');
    expect((await rawGet(relay.url, '/docs/')).body).toBe('docs');

    for (const path of ['/../outside.txt', '/%2e%2e/outside.txt', '/assets/..%2f..%2foutside.txt', '/assets%2f..%2f..%2foutside.txt', '/link.txt', '/.env', '/%2eenv', '/missing.html']) {
      const res = await rawGet(relay.url, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('outside the site');
      expect(res.body, path).not.toContain('SECRET');
    }
    expect((await rawGet(relay.url, '/%E0%A4%A')).status).toBe(400);
    expect((await rawGet(relay.url, '/a%00b')).status).toBe(400);
    // The relay's own routes win over files; the status page moves to /status.
    expect((await fetch(`${relay.url}/healthz`)).headers.get('content-type')).toMatch(/json/);
    expect(await (await fetch(`${relay.url}/status`)).text()).toContain('<h1>Atoll relay</h1>');
  });

  it('refuses a static directory that does not exist', async () => {
    const dir = await tempDir();
    await expect(startRelay({ port: 0, dataDir: dir, staticDir: join(dir, 'nope'), logger: silentLogger })).rejects.toBeInstanceOf(RelayConfigError);
  });

  it('answers 503 on /healthz while stopping', async () => {
    const relay = await startRelay({ port: 0, dataDir: await tempDir(), logger: silentLogger });
    const client = await testClient(relay.syncUrl);
    await until(() => client.dialer.status === 'open', 'the client to connect');
    const closing = relay.close();
    expect(relay.health().status).toBe('stopping');
    await closing;
    await expect(fetch(`${relay.url}/healthz`)).rejects.toThrow();
  });
});
