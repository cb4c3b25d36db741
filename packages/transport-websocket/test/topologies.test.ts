import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as WsWebSocket } from 'ws';
import type { Transport } from '@atoll/sync';
import { connectBrowserWebSocket } from '../src/browser.js';
import { connectWebSocket } from '../src/index.js';
import { TestListener, collect, within } from './support.js';

/** A message header: who sent it, to whom, its sequence number; then `size` patterned bytes. */
function frame(from: number, to: number, seq: number, size: number): Uint8Array {
  const bytes = new Uint8Array(6 + size);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, from);
  view.setUint8(1, to);
  view.setUint32(2, seq);
  for (let i = 0; i < size; i++) bytes[6 + i] = (from * 31 + to * 7 + seq + i) & 0xff;
  return bytes;
}

function parse(bytes: Uint8Array): { from: number; to: number; seq: number; intact: boolean } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const from = view.getUint8(0);
  const to = view.getUint8(1);
  const seq = view.getUint32(2);
  let intact = true;
  for (let i = 6; i < bytes.length; i++) if (bytes[i] !== ((from * 31 + to * 7 + seq + i - 6) & 0xff)) intact = false;
  return { from, to, seq, intact };
}

const sizeOf = (seq: number) => (seq === 7 ? 1024 * 1024 : (seq * 97) % 2048);

/** Sequence numbers received from each sender, in arrival order, and whether every payload was intact. */
function bySender(messages: Uint8Array[]): { seqs: Map<number, number[]>; intact: boolean } {
  const seqs = new Map<number, number[]>();
  let intact = true;
  for (const m of messages) {
    const p = parse(m);
    if (!p.intact) intact = false;
    seqs.set(p.from, [...(seqs.get(p.from) ?? []), p.seq]);
  }
  return { seqs, intact };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('WebSocket topologies over loopback', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('hub and spoke: 5 clients exchange through one listener, everything arrives in order', async () => {
    const CLIENTS = 5;
    const PER_PEER = 100;
    const hub = await TestListener.start();
    cleanups.push(() => hub.listener.close());

    // The hub forwards each message to the client it is addressed to.
    const spokes = new Map<number, Transport>();
    const clients: Transport[] = [];
    for (let id = 0; id < CLIENTS; id++) {
      const url = `${hub.url}?id=${id}`;
      const accepted = hub.next();
      // Mix the Node client and the browser client (on ws's class).
      clients.push(id % 2 === 0 ? await connectWebSocket(url) : await connectBrowserWebSocket(url, { WebSocket: WsWebSocket }));
      const { transport, request } = await accepted;
      const spokeId = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('id'));
      expect(spokeId).toBe(id);
      spokes.set(id, transport);
      transport.onMessage((m) => spokes.get(parse(m).to)?.send(m));
    }
    const inboxes = clients.map((c) => collect(c));
    for (let seq = 0; seq < PER_PEER; seq++) {
      for (let from = 0; from < CLIENTS; from++) {
        for (let to = 0; to < CLIENTS; to++) if (to !== from) clients[from]?.send(frame(from, to, seq, sizeOf(seq)));
      }
    }
    await Promise.all(inboxes.map((inbox) => inbox.until((CLIENTS - 1) * PER_PEER)));
    inboxes.forEach((inbox, id) => {
      const { seqs, intact } = bySender(inbox.messages);
      expect(intact, `payloads at client ${id}`).toBe(true);
      expect([...seqs.keys()].sort(), `senders seen by client ${id}`).toEqual(range(CLIENTS).filter((i) => i !== id));
      for (const [from, received] of seqs) expect(received, `${from} → ${id}`).toEqual(range(PER_PEER));
      expect(inbox.messages.every((m) => parse(m).to === id)).toBe(true);
    });
    for (const c of clients) c.close();
  });

  it('all to all: 3 listeners each dial the other two; every connection carries everything both ways', async () => {
    const NODES = 3;
    const PER_LINK = 100;
    const listeners = await Promise.all(range(NODES).map(() => TestListener.start()));
    for (const l of listeners) cleanups.push(() => l.listener.close());

    // links[i] = the transports of node i, with the node at the other end and who dialed.
    const links: { peer: number; dialed: boolean; transport: Transport }[][] = range(NODES).map(() => []);
    for (let i = 0; i < NODES; i++) {
      for (let j = 0; j < NODES; j++) {
        if (i === j) continue;
        const target = listeners[j] as TestListener;
        const accepted = target.next();
        links[i]?.push({ peer: j, dialed: true, transport: await connectWebSocket(`${target.url}?from=${i}`) });
        const { transport, request } = await accepted;
        expect(new URL(request.url ?? '/', 'http://x').searchParams.get('from')).toBe(String(i));
        links[j]?.push({ peer: i, dialed: false, transport });
      }
    }
    expect(links.map((l) => l.length)).toEqual([4, 4, 4]); // 6 connections, 2 ends each

    const inboxes = links.map((ls) => ls.map(({ peer, transport }) => ({ peer, inbox: collect(transport) })));
    for (let seq = 0; seq < PER_LINK; seq++) {
      links.forEach((ls, me) => ls.forEach(({ peer, transport }) => transport.send(frame(me, peer, seq, sizeOf(seq)))));
    }
    await Promise.all(inboxes.flat().map(({ inbox }) => inbox.until(PER_LINK)));
    inboxes.forEach((ls, me) =>
      ls.forEach(({ peer, inbox }) => {
        const { seqs, intact } = bySender(inbox.messages);
        expect(intact).toBe(true);
        expect([...seqs.keys()], `senders on a link of node ${me}`).toEqual([peer]);
        expect(seqs.get(peer), `${peer} → ${me}`).toEqual(range(PER_LINK));
        expect(inbox.messages.every((m) => parse(m).to === me)).toBe(true);
      }),
    );

    // Shutting one node's listener down closes the connections dialed into it, with 1001.
    const dialedIntoNode0 = range(NODES)
      .filter((i) => i !== 0)
      .map((i) => links[i]?.find((l) => l.peer === 0 && l.dialed)?.transport);
    const seen = dialedIntoNode0.map((t) => within(new Promise((resolve) => t?.onClose(resolve)), 'a close'));
    await listeners[0]?.listener.close();
    for (const info of await Promise.all(seen)) expect(info).toMatchObject({ code: 1001, local: false });
    for (const ls of links) for (const { transport } of ls) transport.close();
  });
});
