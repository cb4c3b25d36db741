import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorageAdapter, type StorageBatch, type StorageEntry } from '@atoll/store';
import { createMemoryTransportPair } from '../src/index.js';
import { all, closeAll, link, testPeer, until, type TestPeer } from './helpers.js';

afterEach(closeAll);

/** Memory storage that counts its writes (each one is an fsync on a durable adapter). */
class CountingStorage extends MemoryStorageAdapter {
  writes = 0;
  override async write(batch: StorageBatch): Promise<void> {
    this.writes++;
    await super.write(batch);
  }
}

const count = async (p: TestPeer, collection: string) => (await p.store.find({ collection })).length;

describe('what replication costs the receiver', () => {
  it('a live delivery costs one storage write, its cursor included; a caught-up alone costs none', async () => {
    const a = await testPeer([all()]);
    const storage = new CountingStorage();
    const b = await testPeer([all()], { storage });
    link(b, a);
    await until(() => b.sync.connections[0]?.isOpen === true, 'open');
    await a.store.insert('docs', { _id: 'first' });
    await until(async () => (await count(b, 'docs')) === 1, 'the first edit');
    await until(async () => true, 'settle');
    const before = storage.writes;
    const caughtUp: number[] = [];
    b.sync.events.on('caught-up', (e) => caughtUp.push(e.pos));
    for (let i = 0; i < 20; i++) {
      await a.store.insert('docs', { _id: `d${i}` });
      await until(async () => (await count(b, 'docs')) === i + 2, `edit ${i}`);
    }
    await until(() => caughtUp.at(-1) === a.store.position, 'the caught-up at the head');
    // One write per applied delivery, with the cursor in it: not a second one per caught-up.
    expect(storage.writes - before).toBe(20);
  });

  it('deliveries queued back to back are applied in a few storage writes, each still whole, one event each', async () => {
    const a = await testPeer([all()]);
    for (let i = 0; i < 200; i++) {
      await a.store.transaction(async (tx) => {
        await tx.insert('left', { _id: `l${i}`, n: i });
        await tx.insert('right', { _id: `r${i}`, n: i });
      });
    }
    const storage = new CountingStorage();
    const b = await testPeer([all()], { storage });
    const statuses: string[] = [];
    b.sync.events.on('delivery-received', (e) => statuses.push(e.status));
    // A reader never sees one side of a transaction without the other.
    const torn: string[] = [];
    b.store.onCommit(() => {
      const left = b.store.keysOf('left').length;
      const right = b.store.keysOf('right').length;
      if (left !== right) torn.push(`${left} left, ${right} right`);
    });
    const acks: number[] = [];
    b.sync.events.on('message-sent', (e) => {
      if (e.type === 'ack') acks.push(e.bytes);
    });
    link(b, a);
    await until(async () => (await count(b, 'right')) === 200, 'the catch-up');
    expect(torn).toEqual([]);
    expect(statuses).toHaveLength(200);
    expect(statuses.every((s) => s === 'applied')).toBe(true);
    // 200 deliveries, each once one commit and one write, now share writes and acks.
    expect(storage.writes).toBeLessThan(50);
    expect(acks.length).toBeLessThan(50);
    // Every entry is in b's log as its own transaction.
    expect(b.store.position).toBe(200);
  });

  it('a burst of commits ships without a caught-up per delivery, and ends with one at the head', async () => {
    const a = await testPeer([all()]);
    const b = await testPeer([all()]);
    link(b, a);
    await until(() => b.sync.connections[0]?.isOpen === true, 'open');
    await until(async () => true, 'settle');
    const caughtUp: number[] = [];
    b.sync.events.on('caught-up', (e) => caughtUp.push(e.pos));
    await Promise.all(Array.from({ length: 100 }, (_, i) => a.store.insert('docs', { _id: `d${i}` })));
    await until(async () => (await count(b, 'docs')) === 100, 'the burst');
    await until(() => caughtUp.at(-1) === a.store.position, 'a caught-up at the head once the stream is quiet');
    expect(caughtUp.length).toBeLessThan(10);
  });

  it('the cursor is durable with the apply: after a crash, a reconnect sends only what is new', async () => {
    const a = await testPeer([all()]);
    const data = new Map<string, StorageEntry>();
    const b = await testPeer([all()], { storage: new MemoryStorageAdapter(data) });
    link(b, a);
    await until(() => b.sync.connections[0]?.isOpen === true, 'open');
    for (let i = 0; i < 30; i++) await a.store.insert('docs', { _id: `d${i}` });
    await until(async () => (await count(b, 'docs')) === 30, 'the live edits');
    // A crash right now: b's storage as it is, nothing saved on close, no debounced save yet.
    const crashed = new MemoryStorageAdapter(new Map(data));
    for (let i = 30; i < 33; i++) await a.store.insert('docs', { _id: `d${i}` });
    const again = await testPeer([all()], { storage: crashed, peerId: b.store.peerId });
    let deliveries = 0;
    again.sync.events.on('delivery-received', () => deliveries++);
    const [dialerEnd, listenerEnd] = createMemoryTransportPair();
    a.sync.accept(listenerEnd);
    again.sync.connect(dialerEnd, 'dialer');
    await until(async () => (await count(again, 'docs')) === 33, 'the new edits');
    await until(async () => true, 'settle');
    expect(deliveries).toBe(3);
  });

  it('a cursor moved only by a caught-up (entries the remote sent itself) is saved on close', async () => {
    const relay = await testPeer([all()]);
    const b = await testPeer([all()]);
    const first = link(b, relay);
    await until(() => b.sync.connections[0]?.isOpen === true, 'open');
    // b's own edits come back to it as entries of the relay's log that are skipped for b.
    for (let i = 0; i < 10; i++) await b.store.insert('docs', { _id: `d${i}` });
    const caughtUp: number[] = [];
    b.sync.events.on('caught-up', (e) => caughtUp.push(e.pos));
    await until(() => relay.store.position === 10 && caughtUp.at(-1) === 10, 'the caught-up over b’s own edits');
    first.dialerEnd.close();
    await until(() => b.sync.connections.length === 0, 'the close');
    // The close saved it: the cursor is past b's own edits, so no reconnect rescans them.
    expect((await b.store.readSyncState<{ pos: number }>(`cursor/${relay.store.peerId}`))?.pos).toBe(10);
    let deliveries = 0;
    b.sync.events.on('delivery-received', () => deliveries++);
    link(b, relay);
    await until(() => caughtUp.length >= 2, 'the second catch-up');
    expect(caughtUp.at(-1)).toBe(10);
    expect(deliveries).toBe(0);
  });

  it('fanning one commit out, each peer gets its own share of it (deliveries are shared only when identical)', async () => {
    const relay = await testPeer([all()], {
      peerId: 'relay',
      authenticate: (hello) => (hello.peerId === 'restricted' ? { canRead: (key) => !key.startsWith('private/'), canWrite: () => true } : { canRead: () => true, canWrite: () => true }),
    });
    const full = await testPeer([all()], { peerId: 'full' });
    const twin = await testPeer([all()], { peerId: 'twin' });
    const narrow = await testPeer([{ id: 'public', collection: 'public' }], { peerId: 'narrow' });
    const restricted = await testPeer([all()], { peerId: 'restricted' });
    const peers = [full, twin, narrow, restricted];
    const manifests = new Map<string, string[]>();
    for (const p of peers) {
      p.sync.events.on('delivery-received', (e) => manifests.set(p.store.peerId, [...e.delivery.manifest, ...e.delivery.omitted.map((o) => `omitted:${o.key}:${o.reason}`), `redacted:${e.delivery.redacted}`]));
      link(p, relay);
    }
    await until(() => peers.every((p) => p.sync.connections[0]?.isOpen === true), 'every peer connected');
    await until(async () => true, 'settle');
    await relay.store.transaction(async (tx) => {
      await tx.insert('public', { _id: 'p' });
      await tx.insert('private', { _id: 'x' });
    });
    await until(() => manifests.size === 4, 'every peer to get its delivery');
    expect(manifests.get('full')).toEqual(['public/p', 'private/x', 'redacted:0']);
    expect(manifests.get('twin')).toEqual(['public/p', 'private/x', 'redacted:0']);
    expect(manifests.get('narrow')).toEqual(['public/p', 'private/x', 'omitted:private/x:not-subscribed', 'redacted:0']);
    expect(manifests.get('restricted')).toEqual(['public/p', 'redacted:1']);
    expect(await restricted.store.get('private', 'x')).toBeUndefined();
    expect(await narrow.store.get('private', 'x')).toBeUndefined();
    expect(await twin.store.get('private', 'x')).toBeDefined();
  });
});
