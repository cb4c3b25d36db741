// Replication over loopback WebSockets: propagation latency (sequential edits), the same under
// an 8-typist load, fan-out to many subscribers, the relay's forwarding rate, and the relay's
// memory per idle connection. Each system runs against its own fresh server process.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { Row, SystemName } from '../catalog.js';
import { newRow, now, put, selected, sleep, until, type BenchContext } from '../context.js';
import { ServerProc } from '../procs.js';
import { latency, median } from '../stats.js';
import { typingSchedule } from '../workloads.js';
import { clientFactory, share, type EditClient } from './clients.js';

const NET_SYSTEMS: readonly SystemName[] = ['atoll', 'automerge-repo', 'yjs', 'raw'];
const EDIT_TIMEOUT_MS = 3000;

/**
 * Runs `fn` with the system's server (one process per system for the whole group; each test
 * uses its own collection, room or documents) and always closes the clients it made.
 */
async function withServer<T>(server: ServerProc, fn: (server: ServerProc, clients: EditClient[]) => Promise<T>): Promise<T> {
  const clients: EditClient[] = [];
  try {
    return await fn(server, clients);
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
  }
}

/** The whole group: for each system, one fresh server, then every test in turn. */
export async function replicationBenchmarks(ctx: BenchContext): Promise<Row[]> {
  const rows = {
    propagation: newRow('net.propagation', { edits: ctx.sizes.edits }),
    load: newRow('net.load', {}),
    fanout: newRow('net.fanout', { edits: ctx.sizes.fanoutEdits, subscribers: ctx.sizes.fanoutClients }),
    forwarding: newRow('net.forwarding', { edits: ctx.sizes.forwardEdits, burst: 10 }),
    connections: newRow('memory.connections', { connections: ctx.sizes.idleConnections }),
  };
  for (const system of selected(ctx, NET_SYSTEMS)) {
    const server = await ServerProc.start(system, { dataDir: mkdtempSync(join(ctx.tmp, `${system}-`)) });
    try {
      await propagation(ctx, system, server, rows.propagation);
      await load(ctx, system, server, rows.load);
      await fanout(ctx, system, server, rows.fanout);
      await forwarding(ctx, system, server, rows.forwarding);
      await idleConnections(ctx, system, server, rows.connections);
    } finally {
      await server.stop();
    }
  }
  return Object.values(rows);
}

async function connectMany(ctx: BenchContext, system: SystemName, url: string, space: string, n: number, into: EditClient[]): Promise<EditClient[]> {
  const factory = clientFactory(system, url, space);
  const made: EditClient[] = [];
  // A few at a time: a burst of handshakes is not what is measured.
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => factory.connect()));
    made.push(...batch);
    into.push(...batch);
  }
  return made;
}

/** Waits for `doc` to reach `v` at a client (a later value counts too: some systems coalesce). */
function arrival(client: EditClient, doc: string, v: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const previous = client.onRemote;
    const timer = setTimeout(() => {
      client.onRemote = previous;
      resolve(Number.NaN);
    }, timeoutMs);
    client.onRemote = (d, value) => {
      if (d === doc && value >= v) {
        const t = now();
        clearTimeout(timer);
        client.onRemote = previous;
        resolve(t);
      }
    };
  });
}

async function propagation(ctx: BenchContext, system: SystemName, server: ServerProc, row: Row): Promise<void> {
  const n = ctx.sizes.edits;
  const warmup = Math.max(3, Math.floor(n / 10));
  row.params['warmup'] = warmup;
  {
    ctx.log(`net.propagation: ${system}`);
    await withServer(server, async (server, clients) => {
      const [a, b] = (await connectMany(ctx, system, server.url, 'propagation', 2, clients)) as [EditClient, EditClient];
      await share(a, [b], 'p');
      const samples: number[] = [];
      let lost = 0;
      for (let i = 1; i <= n + warmup; i++) {
        const got = arrival(b, 'p', i, EDIT_TIMEOUT_MS);
        const t = now();
        a.write('p', i);
        const at = await got;
        if (Number.isNaN(at)) lost++;
        if (i > warmup) samples.push(at - t);
      }
      put(row, system, { ...latency(samples), extra: { lost } });
    });
  }
}

async function load(ctx: BenchContext, system: SystemName, server: ServerProc, row: Row): Promise<void> {
  const writers = 8;
  const rate = 6;
  const seconds = ctx.sizes.loadSeconds;
  const schedule = typingSchedule(writers, rate, seconds);
  Object.assign(row.params, { clients: writers, editsPerSecondEach: rate, seconds, edits: schedule.length });
  {
    ctx.log(`net.load: ${system} (${seconds} s)`);
    await withServer(server, async (server, clients) => {
      const typists = await connectMany(ctx, system, server.url, 'load', writers, clients);
      for (let w = 0; w < writers; w++) await share(typists[w] as EditClient, typists.filter((_, k) => k !== w), `w${w}`);
      const sentAt = new Map<string, number>();
      const samples: { at: number; ms: number }[] = [];
      let delivered = 0;
      const seen = typists.map(() => new Map<string, number>());
      typists.forEach((client, r) => {
        client.onRemote = (doc, v) => {
          const last = seen[r]?.get(doc) ?? 0;
          if (v <= last) return;
          seen[r]?.set(doc, v);
          const sent = sentAt.get(`${doc}:${v}`);
          if (sent === undefined) return;
          const t = now();
          samples.push({ at: t - start, ms: t - sent });
          delivered++;
        };
      });
      const rssStart = server.rssNow();
      const start = now();
      for (const edit of schedule) {
        const wait = edit.at - (now() - start);
        if (wait > 1) await sleep(wait);
        const v = edit.seq + 1;
        sentAt.set(`w${edit.writer}:${v}`, now());
        (typists[edit.writer] as EditClient).write(`w${edit.writer}`, v);
      }
      await until(() => delivered >= schedule.length * (writers - 1), 5000);
      const rssEnd = server.rssNow();
      const third = (seconds * 1000) / 3;
      const first = median(samples.filter((s) => s.at < third).map((s) => s.ms));
      const last = median(samples.filter((s) => s.at >= 2 * third).map((s) => s.ms));
      put(row, system, {
        ...latency(samples.map((s) => s.ms)),
        extra: {
          delivered: delivered / (schedule.length * (writers - 1)),
          'p50 first third ms': first,
          'p50 last third ms': last,
          'server RSS growth MiB': (rssEnd - rssStart) / 2 ** 20,
        },
      });
    });
  }
}

async function fanout(ctx: BenchContext, system: SystemName, server: ServerProc, row: Row): Promise<void> {
  const n = ctx.sizes.fanoutEdits;
  const subscribers = ctx.sizes.fanoutClients;
  {
    ctx.log(`net.fanout: ${system}`);
    await withServer(server, async (server, clients) => {
      const [writer] = await connectMany(ctx, system, server.url, 'fanout', 1, clients);
      const readers = await connectMany(ctx, system, server.url, 'fanout', subscribers, clients);
      await share(writer as EditClient, readers, 'f');
      const toAll: number[] = [];
      const each: number[] = [];
      let lost = 0;
      for (let i = 1; i <= n + 2; i++) {
        const arrivals = readers.map((r) => arrival(r, 'f', i, EDIT_TIMEOUT_MS * 2));
        const t = now();
        (writer as EditClient).write('f', i);
        const times = await Promise.all(arrivals);
        if (i <= 2) continue; // warm-up
        lost += times.filter((x) => Number.isNaN(x)).length;
        toAll.push(Math.max(...times) - t);
        for (const x of times) each.push(x - t);
        await sleep(20);
      }
      put(row, system, { ...latency(toAll), extra: { 'p50 per delivery ms': latency(each).p50, lost } });
    });
  }
}

async function forwarding(ctx: BenchContext, system: SystemName, server: ServerProc, row: Row): Promise<void> {
  const n = ctx.sizes.forwardEdits;
  {
    ctx.log(`net.forwarding: ${system}`);
    await withServer(server, async (server, clients) => {
      const [writer, reader] = (await connectMany(ctx, system, server.url, 'forwarding', 2, clients)) as [EditClient, EditClient];
      await share(writer, [reader], 'fwd');
      const done = arrival(reader, 'fwd', n, 120_000);
      const t = now();
      for (let i = 1; i <= n; i++) {
        writer.write('fwd', i);
        if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const at = await done;
      put(row, system, { value: n / ((at - t) / 1000), extra: { seconds: (at - t) / 1000 }, note: 'time until the reader has the last of the edits (some systems merge edits on the way)' });
    });
  }
}

async function idleConnections(ctx: BenchContext, system: SystemName, server: ServerProc, row: Row): Promise<void> {
  const n = ctx.sizes.idleConnections;
  {
    ctx.log(`memory.connections: ${system} (${n})`);
    await withServer(server, async (server, clients) => {
      // One document everyone follows, so each connection is a real, synced subscriber.
      const [owner] = await connectMany(ctx, system, server.url, 'idle', 1, clients);
      owner?.write('idle', 1);
      if (owner && 'published' in owner) await (owner as unknown as { published(d: string): Promise<void> }).published('idle');
      await sleep(200);
      const before = await server.memory();
      const idle = await connectMany(ctx, system, server.url, 'idle', n, clients);
      for (let i = 0; i < idle.length; i += 50) await Promise.all(idle.slice(i, i + 50).map((c) => c.follow('idle')));
      await sleep(1000);
      const after = await server.memory();
      const per1000 = (x: number) => ((x / n) * 1000) / 2 ** 20;
      put(row, system, { value: per1000(after.rss - before.rss), extra: { 'heap MiB per 1000': per1000(after.heapUsed - before.heapUsed) } });
    });
  }
}
