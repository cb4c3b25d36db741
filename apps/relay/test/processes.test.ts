// Real processes and real sockets: the built relay (`node dist/cli.js`) and peers in processes
// of their own. Needs a build first: `npx turbo run build --filter=@atoll/relay`.
import { afterEach, describe, expect, it } from 'vitest';
import type { Message, TxId } from '@atoll/protocol';
import { MemoryStorageAdapter, Store, silentLogger } from '@atoll/store';
import { SyncPeer } from '@atoll/sync';
import { connectWebSocket } from '@atoll/transport-websocket';
import { CLI, Proc, RelayProc, canonical, startPeerProcess } from './processes.js';
import { cleanUp, everything, idsOf, onCleanUp, snapshot, spy, tempDir, testClient, until, within } from './support.js';

afterEach(cleanUp);

describe('the relay process', () => {
  it('SIGTERM: stops accepting, exits 0, and every acknowledged write is there after a restart', async () => {
    const dataDir = await tempDir();
    const relay = await RelayProc.start(dataDir);

    // A writer whose frames are spied on: which deliveries it sent, which acks came back.
    const store = await Store.open({ storage: new MemoryStorageAdapter(), logger: silentLogger });
    const sync = new SyncPeer({ store, role: 'client', subscriptions: [everything()], logger: silentLogger });
    onCleanUp(async () => {
      await sync.close();
      await store.close();
    });
    const connections: { sent: Message[]; received: Message[] }[] = [];
    const dialer = sync.dial(async () => {
      const record = { sent: [] as Message[], received: [] as Message[] };
      connections.push(record);
      return spy(await connectWebSocket(relay.syncUrl), record.received, record.sent);
    }, { minDelayMs: 50, maxDelayMs: 200 });
    const docOf = new Map<string, string>();
    store.onCommit((e) => {
      if (e.source === 'local') docOf.set(e.entry.id, [...e.keys][0] ?? '');
    });
    const acked = (): TxId[] =>
      connections.flatMap(({ sent, received }) => {
        const deliveries = sent.flatMap((m) => (m.type === 'delivery' ? [m.tx.id] : []));
        const count = Math.max(0, ...received.map((m) => (m.type === 'ack' ? m.deliveries : 0)));
        return deliveries.slice(0, count);
      });

    // Write continuously; SIGTERM lands while deliveries are in flight.
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await store.insert('orders', { _id: `o${written++}`, n: written, pad: 'x'.repeat(200) });
        // A memory store commits on microtasks: let the sockets (and timers) have their turn.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    })();
    await until(() => acked().length >= 30, () => `30 acknowledged writes (have ${acked().length})`);
    relay.kill('SIGTERM');
    const exit = await within(relay.exited, 'the relay to exit');
    writing = false;
    await writer;
    expect(exit, relay.stderr).toEqual({ code: 0, signal: null });
    expect(relay.lines.join('\n')).toMatch(/SIGTERM: shutting down[\s\S]*stopped/);
    dialer.stop();
    const ackedIds = acked();
    expect(ackedIds.length).toBeGreaterThanOrEqual(30);
    expect(written).toBeGreaterThan(ackedIds.length); // writes were still going when it stopped

    const again = await RelayProc.start(dataDir);
    const reader = await testClient(again.syncUrl);
    const expected = ackedIds.map((id) => docOf.get(id)?.split('/')[1]);
    await until(async () => {
      const have = new Set(await idsOf(reader.store, 'orders'));
      return expected.every((id) => id !== undefined && have.has(id));
    }, () => `every acknowledged write (${ackedIds.length}) at the restarted relay`);
    // The restarted relay reports the same identity and at least that much log.
    const health = (await (await fetch(`${again.url}/healthz`)).json()) as { position: number; status: string };
    expect(health.status).toBe('ok');
    expect(health.position).toBeGreaterThanOrEqual(ackedIds.length);
    again.kill('SIGINT');
    expect(await within(again.exited, 'the second relay to exit')).toEqual({ code: 0, signal: null });
  });

  it('prints where to open it, and refuses bad flags with status 2', async () => {
    const dataDir = await tempDir();
    const relay = await RelayProc.start(dataDir, ['--token', 'process-token']);
    expect(relay.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(relay.lines.join('\n')).toContain(`peers dial ${relay.syncUrl}`);
    expect(relay.lines.join('\n')).toContain('authentication: token');
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
    relay.kill('SIGTERM');
    expect((await within(relay.exited, 'exit')).code).toBe(0);

    const bad = new Proc('bad relay', [CLI, '--port', 'eighty', '--data', dataDir]);
    expect((await within(bad.exited, 'the bad relay to exit')).code).toBe(2);
    expect(bad.stderr).toMatch(/--port \(ATOLL_PORT\) must be an integer/);
  });
});

describe('topologies with real processes', () => {
  it('clients ↔ relay ↔ clients: two client processes and one in-process client converge, concurrent edits included', async () => {
    const relay = await RelayProc.start(await tempDir(), ['--token', 'shared']);
    const dataDir = await tempDir();
    const a = await startPeerProcess({ dial: relay.syncUrl, token: 'shared', data: `${dataDir}/a.db` });
    const b = await startPeerProcess({ dial: relay.syncUrl, token: 'shared' });
    const c = await testClient(relay.syncUrl, { token: 'shared' });

    const N = 10;
    const ids = (name: string) => Array.from({ length: N }, (_, i) => `${name}-${i}`);
    const processes = [['a', a.proc], ['b', b.proc]] as const;
    for (const [name, peer] of processes) {
      for (const id of ids(name)) peer.send({ op: 'write', collection: 'notes', id, value: { by: name } });
    }
    for (const id of ids('c')) await c.store.insert('notes', { _id: id, by: 'c' });
    const all = [...ids('a'), ...ids('b'), ...ids('c')];

    // One shared document, then concurrent edits of different fields from every client.
    await c.store.insert('shared', { _id: 'board', title: 'plan' });
    for (const [name, peer] of processes) await peer.request({ op: 'await', collection: 'shared', ids: ['board'] }, `the board at ${name}`);
    a.proc.send({ op: 'update', collection: 'shared', id: 'board', value: { fromA: 1 } });
    b.proc.send({ op: 'update', collection: 'shared', id: 'board', value: { fromB: 2 } });
    await c.store.update('shared', 'board', (d) => void (d['fromC'] = 3));

    for (const [name, peer] of processes) await peer.request({ op: 'await', collection: 'notes', ids: all }, `all notes at ${name}`);
    await until(async () => (await idsOf(c.store, 'notes')).length === 3 * N, 'all notes at c');
    const board = { _id: 'board', title: 'plan', fromA: 1, fromB: 2, fromC: 3 };
    await until(async () => canonical(await c.store.get('shared', 'board')) === canonical(board), 'every edit of the board at c');

    // Everyone holds the same documents.
    const expected = canonical(await snapshot(c.store));
    for (const [name, peer] of processes) {
      await until(async () => canonical((await peer.request({ op: 'snapshot' }, 'a snapshot'))['docs']) === expected, `${name} to converge with c`);
    }
    const health = (await (await fetch(`${relay.url}/healthz`)).json()) as { position: number; connections: number };
    expect(health.connections).toBe(3);
    expect(health.position).toBe(3 * N + 4);
  });

  it('a chain A ↔ B ↔ C: B listens (a plain SyncPeer in a process), A and C dial it; writes cross both ways', async () => {
    const b = await startPeerProcess({ listen: true });
    expect(b.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/sync$/);
    const a = await startPeerProcess({ dial: b.url });
    const c = await testClient(b.url as string);
    await a.proc.event((e) => e['event'] === 'open', 'A to connect to B');
    await until(() => c.dialer.status === 'open', 'C to connect to B');

    a.proc.send({ op: 'write', collection: 'todos', id: 'from-a', value: { title: 'written at A' } });
    await until(async () => (await c.store.get('todos', 'from-a'))?.['title'] === 'written at A', 'A’s write at C');
    await c.store.insert('todos', { _id: 'from-c', title: 'written at C' });
    await a.proc.request({ op: 'await', collection: 'todos', ids: ['from-c'] }, 'C’s write at A');
    await b.proc.request({ op: 'await', collection: 'todos', ids: ['from-a', 'from-c'] }, 'both writes at B');

    // C's write reached A through B, not echoed back to C: C's log has its own write once.
    const log = await c.store.readLog(0);
    expect(log.filter((e) => e.manifest.includes('todos/from-c' as never))).toHaveLength(1);
    await a.proc.request({ op: 'exit' }, 'A to say goodbye');
    expect((await within(a.proc.exited, 'A to exit')).code).toBe(0);
  });
});
