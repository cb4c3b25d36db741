import { decodeMessage, encodeMessage, type LogId, type Message, type PeerId } from '@atoll/protocol';
import { MemoryStorageAdapter, StorageError, type StorageBatch } from '@atoll/store';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryTransportPair } from '../src/index.js';
import { all, closeAll, link, testPeer, until, type TestPeer } from './helpers.js';

afterEach(closeAll);

/** Memory storage whose writes can be held in flight, then let through or failed. */
class GatedStorage extends MemoryStorageAdapter {
  #gate: Promise<void> | undefined;

  /** Holds every write from now until the returned function is called (with an error: they fail). */
  hold(): (err?: Error) => void {
    let open!: (err?: Error) => void;
    this.#gate = new Promise<Error | undefined>((resolve) => (open = resolve)).then((err) => {
      if (err) throw err;
    });
    this.#gate.catch(() => {});
    return (err) => {
      this.#gate = undefined;
      open(err);
    };
  }

  override async write(batch: StorageBatch): Promise<void> {
    if (this.#gate) await this.#gate;
    return super.write(batch);
  }
}

interface Cursor {
  pos: number;
  unconfirmed?: string[];
}

const cursorOf = (peer: TestPeer, remote: TestPeer): Promise<Cursor | undefined> => peer.store.readSyncState<Cursor>(`cursor/${remote.store.peerId}`);

/** writer → relay → reader, the relay on storage whose writes the test holds. */
async function chain(): Promise<{ writer: TestPeer; relay: TestPeer; reader: TestPeer; storage: GatedStorage }> {
  const storage = new GatedStorage();
  const relay = await testPeer([all()], { storage });
  const writer = await testPeer([all()]);
  const reader = await testPeer([all()]);
  link(writer, relay);
  link(reader, relay);
  await until(() => relay.sync.connections.filter((c) => c.isOpen).length === 2, 'both links open');
  return { writer, relay, reader, storage };
}

describe('forwarding before durability (protocol version 2)', () => {
  it('a relay forwards what it received while it writes it; the reader persists no cursor past what the relay made durable', async () => {
    const { writer, relay, reader, storage } = await chain();
    const release = storage.hold();
    await writer.store.insert('docs', { _id: 'a', v: 1 });
    await until(async () => (await reader.store.get('docs', 'a')) !== undefined, 'the reader to hold the forwarded transaction');
    // The relay's write is still in flight: nothing of it is durable there, or committed.
    expect(relay.store.position).toBe(0);
    expect(await relay.store.get('docs', 'a')).toBeUndefined();
    const early = await cursorOf(reader, relay);
    expect(early?.pos ?? 0).toBe(0);
    expect(early?.unconfirmed).toHaveLength(1);
    release();
    // Once durable, the relay's caught-up lets the reader's cursor move (saved within a second).
    await until(async () => (await cursorOf(reader, relay))?.pos === 1, "the reader's cursor to reach the durable position", 5_000);
    expect((await cursorOf(reader, relay))?.unconfirmed).toBeUndefined();
    expect(relay.store.position).toBe(1);
  });

  it('a failed write closes the connections that carried entries past the durable position, and the receiver resumes without a gap', async () => {
    const { writer, relay, reader, storage } = await chain();
    const release = storage.hold();
    await writer.store.insert('docs', { _id: 'a', v: 1 });
    await until(async () => (await reader.store.get('docs', 'a')) !== undefined, 'the forwarded transaction');
    const closed = new Promise<number>((resolve) => reader.sync.events.on('close', ({ info }) => resolve(info.code)));
    release(new StorageError('disk full'));
    expect(await closed).toBe(1011);
    expect(relay.store.position).toBe(0);
    // Position 1 now goes to another transaction: the reader must not skip it.
    await relay.store.insert('docs', { _id: 'b', v: 2 });
    expect(relay.store.position).toBe(1);
    await until(() => relay.sync.connections.filter((c) => c.isOpen).length === 0, 'the relay to drop its links');
    link(reader, relay);
    await until(async () => (await reader.store.get('docs', 'b')) !== undefined, 'the transaction written at the reused position');
    // The writer's transaction was never acknowledged: it is shipped again and reaches everyone.
    link(writer, relay);
    await until(async () => (await relay.store.get('docs', 'a')) !== undefined, 'the relay to get the writer’s transaction again');
    expect(await reader.store.get('docs', 'a')).toEqual({ _id: 'a', v: 1 });
  });

  it('after a relay crash loses what it forwarded, the receiver ships it back ahead of its own transactions built on it', async () => {
    const { writer, relay, reader, storage } = await chain();
    const release = storage.hold();
    await writer.store.insert('docs', { _id: 'a', v: 1, w: 0 });
    await until(async () => (await reader.store.get('docs', 'a')) !== undefined, 'the forwarded transaction');
    // The reader builds on it; the relay queues that apply behind its held write too.
    await reader.store.update('docs', 'a', (d) => void (d['w'] = 1));
    await until(async () => (await cursorOf(reader, relay))?.unconfirmed?.length === 1, 'the unconfirmed transaction in the persisted cursor', 3_000);
    // The relay goes down before its writes land (they fail, as in a crash nothing of them is stored).
    release(new StorageError('crashed'));
    await relay.sync.close();
    await relay.store.close().catch(() => {});
    const restarted = await testPeer([all()], { storage: storage.reopen() });
    expect(restarted.store.peerId).toBe(relay.store.peerId);
    expect(restarted.store.position).toBe(0);
    const statuses: string[] = [];
    restarted.sync.events.on('delivery-received', (e) => statuses.push(`${e.txId} ${e.status}`));
    // Only the reader reconnects (the writer, which would send its transaction again, stays away).
    link(reader, restarted);
    await until(async () => (await restarted.store.get('docs', 'a'))?.['w'] === 1, 'the relay to hold both transactions', 5_000);
    // The writer's transaction came back first, so the reader's applied whole: nothing held, nothing torn.
    expect(statuses).toEqual([`${writer.store.peerId}:1 applied`, `${reader.store.peerId}:1 applied`]);
    expect(restarted.store.held()).toEqual([]);
  });

  it('a peer that speaks only version 1 gets a transaction once the relay has made it durable, without `durable`', async () => {
    const storage = new GatedStorage();
    const relay = await testPeer([all()], { storage });
    const writer = await testPeer([all()]);
    link(writer, relay);
    // A hand-driven subscriber offering version 1 only.
    const [mine, theirs] = createMemoryTransportPair();
    relay.sync.accept(theirs);
    const received: Message[] = [];
    mine.onMessage((bytes) => received.push(decodeMessage(bytes, { maxBytes: 1 << 24 })));
    const send = (msg: Message): void => mine.send(encodeMessage(msg));
    send({ type: 'hello', versions: [1], peerId: 'old-peer' as PeerId, role: 'client', logId: 'old-log' as LogId, maxBytes: 1 << 24 });
    await until(() => received.some((m) => m.type === 'welcome'), 'welcome');
    expect(received.find((m) => m.type === 'welcome')).toMatchObject({ version: 1 });
    send({ type: 'subscribe', subs: [all()] });
    send({ type: 'sync', since: 0 });
    await until(() => received.some((m) => m.type === 'caught-up'), 'the catch-up');
    const release = storage.hold();
    await writer.store.insert('docs', { _id: 'a', v: 1 });
    await until(() => relay.sync.connections.length === 2 && relay.store.shippablePosition === 1, 'the relay to queue the transaction');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received.filter((m) => m.type === 'delivery')).toEqual([]);
    release();
    await until(() => received.some((m) => m.type === 'delivery'), 'the delivery once durable');
    const delivery = received.find((m) => m.type === 'delivery');
    expect(delivery).toMatchObject({ pos: 1 });
    expect(delivery).not.toHaveProperty('durable');
  });
});
