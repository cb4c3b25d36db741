import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type Changeset, type DeliveryMessage, type Message, type PeerId, type TxId } from '@atoll/protocol';
import { MemoryStorageAdapter, Store, silentLogger } from '@atoll/store';
import { RATE_LIMITED_CLOSE_CODE, SOCKET_SLACK_BYTES, type Relay } from '../src/index.js';
import { RawClient, cleanUp, helloMessage, idsOf, key, snapshot, testClient, testRelay, until } from './support.js';

const MAX = 64 * 1024;

afterEach(cleanUp);

/**
 * Each case: a relay holding some data, a raw `ws` client sending one kind of bad input. The
 * client must get a typed `error` (and a close where the kind is fatal), the relay's data must
 * be unchanged, and a well-behaved client must still be served afterwards.
 */
describe('bad input from a raw WebSocket client', () => {
  let relay: Relay;
  let before: Record<string, unknown>;
  let position: number;

  beforeEach(async () => {
    relay = await testRelay({ maxMessageBytes: MAX, rateLimit: { messagesPerSecond: 50, burst: 50, maxQueuedMessages: 100 } });
    const seed = await testClient(relay.syncUrl);
    await seed.store.insert('notes', { _id: 'kept', text: 'before the attack' });
    await until(() => relay.store.position === 1, 'the seed write');
    await seed.sync.close();
    before = await snapshot(relay.store);
    position = relay.store.position;
  });

  /** The relay's data did not change, and it still serves a well-behaved client both ways. */
  async function stillServes(): Promise<void> {
    expect(relay.store.position).toBe(position);
    expect(await snapshot(relay.store)).toEqual(before);
    const client = await testClient(relay.syncUrl);
    await until(async () => (await idsOf(client.store, 'notes')).includes('kept'), 'a good client to catch up');
    await client.store.insert('notes', { _id: 'after', text: 'still served' });
    await until(() => relay.store.position === position + 1, 'the relay to take a good write');
  }

  function errorOf(client: RawClient, kind: string) {
    return client.next((m): m is Extract<Message, { type: 'error' }> => m.type === 'error' && m.kind === kind, `an error of kind ${kind}`);
  }

  it('malformed msgpack → malformed, fatal, closed', async () => {
    const client = await RawClient.connect(relay.syncUrl);
    await client.handshake();
    client.sendRaw(new Uint8Array([0xc1, 0x00, 0x01]));
    expect(await errorOf(client, 'malformed')).toMatchObject({ fatal: true });
    expect((await client.closeInfo()).code).toBe(4400);
    await stillServes();
  });

  it('bytes that are msgpack but not a map → malformed; a text frame → closed with 1003', async () => {
    const client = await RawClient.connect(relay.syncUrl);
    client.sendRaw(new Uint8Array([0x93, 0x01, 0x02, 0x03])); // [1, 2, 3]
    expect(await errorOf(client, 'malformed')).toMatchObject({ fatal: true });
    await client.closeInfo();
    const text = await RawClient.connect(relay.syncUrl);
    text.sendRaw('{"type":"hello"}');
    expect((await text.closeInfo()).code).toBe(1003);
    await stillServes();
  });

  it('an unknown message type → malformed, fatal, closed', async () => {
    const client = await RawClient.connect(relay.syncUrl);
    await client.handshake();
    client.send({ type: 'gossip', rumour: 'x' } as unknown as Message, false);
    const error = await errorOf(client, 'malformed');
    expect(error.message).toMatch(/unknown message type/);
    expect(error.fatal).toBe(true);
    expect((await client.closeInfo()).code).toBe(4400);
    await stillServes();
  });

  it('a wrong protocol version in hello → version, fatal, closed', async () => {
    const client = await RawClient.connect(relay.syncUrl);
    client.send(helloMessage({ versions: [PROTOCOL_VERSION + 41] }));
    const error = await errorOf(client, 'version');
    expect(error.fatal).toBe(true);
    expect(error.message).toMatch(/no common protocol version/);
    expect((await client.closeInfo()).code).toBe(4426);
    expect(client.messages.some((m) => m.type === 'welcome')).toBe(false);
    await stillServes();
  });

  it('messages before hello → protocol, fatal, closed', async () => {
    const client = await RawClient.connect(relay.syncUrl);
    client.send({ type: 'sync', since: 0 });
    expect(await errorOf(client, 'protocol')).toMatchObject({ fatal: true });
    expect((await client.closeInfo()).code).toBe(4400);
    await stillServes();
  });

  it('a frame over the size limit → too-large, fatal, closed; a far bigger one is cut off at the socket (1009)', async () => {
    const client = await RawClient.connect(relay.syncUrl);
    await client.handshake();
    expect(client.messages.find((m) => m.type === 'welcome')).toMatchObject({ maxBytes: MAX });
    client.sendRaw(new Uint8Array(MAX + 1));
    const error = await errorOf(client, 'too-large');
    expect(error.fatal).toBe(true);
    expect(error.message).toMatch(String(MAX));
    expect((await client.closeInfo()).code).toBe(1009);

    const huge = await RawClient.connect(relay.syncUrl);
    await huge.handshake();
    huge.sendRaw(new Uint8Array(MAX + SOCKET_SLACK_BYTES + 1));
    expect((await huge.closeInfo()).code).toBe(1009);
    await stillServes();
  });

  it('invalid Automerge bytes in a delivery → invalid-change naming the transaction, not fatal; nothing stored', async () => {
    const client = await RawClient.connect(relay.syncUrl);
    await client.handshake({ peerId: 'mallory' as PeerId });
    await client.next((m) => m.type === 'sync', 'the relay to ask for our log');
    const delivery: DeliveryMessage = {
      type: 'delivery',
      via: 'log',
      pos: 1,
      tx: { id: 'mallory:1' as TxId, origin: 'mallory' as PeerId, seq: 1, time: Date.now() },
      manifest: [key('notes', 'evil'), key('notes', 'kept')],
      redacted: 0,
      parts: [
        { key: key('notes', 'evil'), changes: [new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4])] },
        { key: key('notes', 'kept'), changes: [new Uint8Array(64).fill(7)] },
      ],
      omitted: [],
    };
    client.send(delivery);
    const error = await errorOf(client, 'invalid-change');
    expect(error).toMatchObject({ fatal: false, txId: 'mallory:1' });
    // Rejected counts as processed: acknowledged, so a real peer would not resend it.
    await client.next((m) => m.type === 'ack' && m.deliveries === 1, 'the ack of the rejected delivery');
    // The connection is still usable.
    client.send({ type: 'ping', nonce: 7 });
    await client.next((m) => m.type === 'pong' && m.nonce === 7, 'a pong');
    expect(relay.store.held()).toEqual([]);
    await stillServes();
  });

  it('an invalid delivery among valid ones queued together is rejected alone; the others are applied', async () => {
    // Real changes, written by a store of mallory's own.
    const own = await Store.open({ storage: new MemoryStorageAdapter(), logger: silentLogger, peerId: 'mallory' });
    await own.insert('notes', { _id: 'good-1', text: 'one' });
    await own.insert('notes', { _id: 'good-2', text: 'two' });
    const [first, second] = await Promise.all((await own.readLog(0)).map((entry) => own.changesetFor(entry)));
    await own.close();
    const delivery = (pos: number, cs: Changeset): DeliveryMessage => ({
      type: 'delivery',
      via: 'log',
      pos,
      tx: { id: cs.id, origin: cs.origin, seq: cs.seq, time: cs.time },
      manifest: [...cs.manifest],
      redacted: 0,
      parts: cs.parts.map((p) => ({ key: p.key, changes: [...p.changes] })),
      omitted: [],
    });
    const client = await RawClient.connect(relay.syncUrl);
    await client.handshake({ peerId: 'mallory' as PeerId });
    await client.next((m) => m.type === 'sync', 'the relay to ask for our log');
    const bad: DeliveryMessage = {
      type: 'delivery',
      via: 'log',
      pos: 2,
      tx: { id: 'mallory:99' as TxId, origin: 'mallory' as PeerId, seq: 99, time: Date.now() },
      manifest: [key('notes', 'evil')],
      redacted: 0,
      parts: [{ key: key('notes', 'evil'), changes: [new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4])] }],
      omitted: [],
    };
    // Back to back: the relay applies what is queued together in one write.
    client.send(delivery(1, first as Changeset));
    client.send(bad);
    client.send(delivery(3, second as Changeset));
    client.send(delivery(4, first as Changeset)); // a duplicate: applied already, acknowledged
    expect(await errorOf(client, 'invalid-change')).toMatchObject({ fatal: false, txId: 'mallory:99' });
    await client.next((m) => m.type === 'ack' && m.deliveries === 4, 'the ack of all four deliveries');
    expect((await idsOf(relay.store, 'notes')).sort()).toEqual(['good-1', 'good-2', 'kept']);
    expect(relay.store.position).toBe(position + 2);
    expect(relay.store.held()).toEqual([]);
    // The connection is still usable.
    client.send({ type: 'ping', nonce: 8 });
    await client.next((m) => m.type === 'pong' && m.nonce === 8, 'a pong');
  });

  it('a flood past the rate limit → rate-limited (slowed first, then fatal), closed', async () => {
    const client = await RawClient.connect(relay.syncUrl);
    await client.handshake();
    for (let i = 0; i < 400; i++) client.send({ type: 'ping', nonce: i });
    const warning = await client.next((m) => m.type === 'error' && m.kind === 'rate-limited' && !m.fatal, 'the rate-limit warning');
    expect(warning).toMatchObject({ retryAfterMs: expect.any(Number) as unknown });
    const fatal = await client.next((m) => m.type === 'error' && m.kind === 'rate-limited' && m.fatal, 'the fatal rate-limited error');
    expect(fatal.type).toBe('error');
    expect((await client.closeInfo()).code).toBe(RATE_LIMITED_CLOSE_CODE);
    // Nothing was dropped silently before that: the pings read were answered in order.
    const pongs = client.messages.filter((m) => m.type === 'pong').map((m) => (m.type === 'pong' ? m.nonce : -1));
    expect(pongs).toEqual(pongs.map((_, i) => i));
    // The burst is 50 tokens and `hello` took one; the rest (refill while the flood is read) varies.
    expect(pongs.length).toBeGreaterThanOrEqual(49);
    expect(relay.metrics()).toMatch(/^atoll_relay_errors_total\{kind="rate-limited",direction="sent"\} 2$/m);
    await stillServes();
  });

  it('a burst within the queue bound is slowed down, not dropped: every message is answered, the connection stays', async () => {
    const client = await RawClient.connect(relay.syncUrl);
    await client.handshake();
    for (let i = 0; i < 120; i++) client.send({ type: 'ping', nonce: i });
    await client.next((m) => m.type === 'pong' && m.nonce === 119, 'the last pong');
    const pongs = client.messages.filter((m) => m.type === 'pong').map((m) => (m.type === 'pong' ? m.nonce : -1));
    expect(pongs).toEqual(Array.from({ length: 120 }, (_, i) => i));
    expect(client.errors().map((e) => [e.kind, e.fatal])).toEqual([['rate-limited', false]]);
    client.close();
    await stillServes();
  });
});
