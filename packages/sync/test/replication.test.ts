import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolError } from '@atoll/protocol';
import { MemoryStorageAdapter } from '@atoll/store';
import { subscriptionsKey } from '../src/index.js';
import { all, closeAll, link, testPeer, until } from './helpers.js';

afterEach(closeAll);

describe('replication over a transport', () => {
  it('ships commits both ways and converges', async () => {
    const a = await testPeer([all()]);
    const b = await testPeer([all()]);
    await a.store.insert('todos', { _id: 't1', title: 'from a' });
    link(a, b);
    await b.store.insert('todos', { _id: 't2', title: 'from b' });
    await until(async () => (await a.store.find({ collection: 'todos' })).length === 2 && (await b.store.find({ collection: 'todos' })).length === 2, 'both peers to hold both todos');
    await a.store.update('todos', 't2', (d) => void (d['done'] = true));
    await until(async () => (await b.store.get('todos', 't2'))?.['done'] === true, 'the update to reach b');
    expect(await a.store.find({ collection: 'todos' })).toEqual(await b.store.find({ collection: 'todos' }));
  });

  it('applies one delivery as one local commit: a subscriber never sees half a transaction', async () => {
    const a = await testPeer([]);
    const b = await testPeer([all()]);
    await a.store.transaction(async (tx) => {
      await tx.insert('accounts', { _id: 'ann', balance: 100 });
      await tx.insert('accounts', { _id: 'bob', balance: 0 });
    });
    const totals: number[] = [];
    b.store.observe({ collection: 'accounts' }, (docs) => totals.push(docs.reduce((s, d) => s + (d['balance'] as number), 0)));
    link(a, b);
    for (let i = 0; i < 20; i++) {
      await a.store.transaction(async (tx) => {
        await tx.update('accounts', 'ann', (d) => void (d['balance'] = (d['balance'] as number) - 5));
        await tx.update('accounts', 'bob', (d) => void (d['balance'] = (d['balance'] as number) + 5));
      });
    }
    await until(async () => (await b.store.get('accounts', 'bob'))?.['balance'] === 100, 'all transfers to arrive');
    expect(totals[0]).toBe(0);
    expect(totals.slice(1).every((t) => t === 100)).toBe(true);
  });

  it('ships only what the subscriptions select, evaluated on the shipping side, with omitted reasons', async () => {
    const a = await testPeer([]);
    const b = await testPeer([{ id: 'open', collection: 'todos', where: { done: false } }]);
    link(a, b);
    const received: string[] = [];
    b.sync.events.on('delivery-received', (e) => received.push(e.txId));
    await a.store.transaction(async (tx) => {
      await tx.insert('todos', { _id: 'open1', done: false });
      await tx.insert('todos', { _id: 'done1', done: true });
      await tx.insert('notes', { _id: 'n1', text: 'not subscribed' });
    });
    await until(async () => (await b.store.get('todos', 'open1')) !== undefined, 'the open todo');
    expect(await b.store.get('todos', 'done1')).toBeUndefined();
    expect(await b.store.get('notes', 'n1')).toBeUndefined();
    // The manifest still names the whole transaction.
    const [entry] = await b.store.readLog(0);
    expect(entry?.manifest).toEqual(['todos/open1', 'todos/done1', 'notes/n1']);
    expect(entry?.parts.map((p) => p.key)).toEqual(['todos/open1']);
    // A document that starts to match is shipped with its whole history…
    await a.store.update('todos', 'done1', (d) => void (d['done'] = false));
    await until(async () => (await b.store.get('todos', 'done1'))?.['done'] === false, 'done1 to start matching');
    // …and the change that makes one stop matching still reaches the subscriber.
    await a.store.update('todos', 'open1', (d) => void (d['done'] = true));
    await until(async () => (await b.store.get('todos', 'open1'))?.['done'] === true, 'open1 to leave the subscription');
    // After that it is no longer updated.
    const before = received.length;
    await a.store.update('todos', 'open1', (d) => void (d['title'] = 'hidden'));
    await a.store.insert('todos', { _id: 'marker', done: false });
    await until(async () => (await b.store.get('todos', 'marker')) !== undefined, 'the marker');
    expect(received.length).toBe(before + 1);
    expect((await b.store.get('todos', 'open1'))?.['title']).toBeUndefined();
  });

  it('replicates a delete to a subscriber that held the document', async () => {
    const a = await testPeer([]);
    const b = await testPeer([{ id: 'vip', collection: 'people', where: { vip: true } }]);
    link(a, b);
    await a.store.insert('people', { _id: 'ann', vip: true });
    await until(async () => (await b.store.get('people', 'ann')) !== undefined, 'ann');
    await a.store.delete('people', 'ann');
    await until(async () => (await b.store.get('people', 'ann')) === undefined, 'the delete');
  });

  it('catches up from a persisted cursor: a second connection carries only what is new', async () => {
    const bStorage = new MemoryStorageAdapter();
    const a = await testPeer([all()]);
    let b = await testPeer([all()], { storage: bStorage });
    for (let i = 0; i < 30; i++) await a.store.insert('docs', { _id: `d${i}`, n: i });
    const first = link(a, b);
    await until(async () => (await b.store.find({ collection: 'docs' })).length === 30, 'the first catch-up');
    await until(() => b.sync.connections[0]?.isOpen === true, 'open');
    first.dialerEnd.close();
    await until(() => a.sync.connections.length === 0 && b.sync.connections.length === 0, 'the close');
    for (let i = 30; i < 33; i++) await a.store.insert('docs', { _id: `d${i}`, n: i });
    // Restart b too: the cursor is in its storage.
    await b.sync.close();
    await b.store.close();
    b = await testPeer([all()], { storage: bStorage.reopen() });
    let deliveries = 0;
    let bytes = 0;
    b.sync.events.on('delivery-received', (e) => {
      deliveries++;
      bytes += e.bytes;
    });
    link(a, b);
    await until(async () => (await b.store.find({ collection: 'docs' })).length === 33, 'the second catch-up');
    await until(() => b.sync.connections[0]?.isOpen === true, 'open');
    expect(deliveries).toBe(3);
    expect(bytes).toBeLessThan(3 * 1_000);
  });

  it('a cursor past the sender’s head (a restored backup) gets the whole log, not a gap', async () => {
    const a = await testPeer([all()]);
    const b = await testPeer([all()]);
    for (let i = 0; i < 3; i++) await a.store.insert('docs', { _id: `d${i}` });
    await b.store.writeSyncState(`cursor/${a.store.peerId}`, { logId: a.store.logId, pos: 999, subs: subscriptionsKey([all()]) });
    link(b, a);
    await until(async () => (await b.store.find({ collection: 'docs' })).length === 3, 'the whole log');
  });

  it('never sends a changeset back to the peer it came from, and mesh loops end', async () => {
    const a = await testPeer([all()]);
    const b = await testPeer([all()]);
    const c = await testPeer([all()]);
    link(a, b);
    link(b, c);
    link(c, a);
    const echoes: string[] = [];
    for (const p of [a, b, c]) {
      p.sync.events.on('delivery-received', (e) => {
        if (e.txId.startsWith(`${p.store.peerId}:`)) echoes.push(`${p.store.peerId} got its own ${e.txId}`);
      });
    }
    await a.store.insert('x', { _id: '1' });
    await b.store.insert('x', { _id: '2' });
    await c.store.insert('x', { _id: '3' });
    await until(async () => {
      const counts = await Promise.all([a, b, c].map(async (p) => (await p.store.find({ collection: 'x' })).length));
      return counts.every((n) => n === 3);
    }, 'everyone to hold everything');
    // Each peer applies each foreign transaction once and skips the duplicate from the other side.
    expect(echoes).toEqual([]);
    expect(a.store.position).toBe(3);
    expect(b.store.position).toBe(3);
    expect(c.store.position).toBe(3);
  });

  it('back-fills a widened subscription with the history of the documents it now selects', async () => {
    const a = await testPeer([]);
    const b = await testPeer([{ id: 'a', collection: 'accounts', where: { _id: 'A' } }]);
    link(a, b);
    await a.store.transaction(async (tx) => {
      await tx.insert('accounts', { _id: 'A', balance: 50 });
      await tx.insert('accounts', { _id: 'B', balance: 50 });
    });
    await a.store.update('accounts', 'B', (d) => void (d['balance'] = 60));
    await until(async () => (await b.store.get('accounts', 'A')) !== undefined, 'A');
    expect(await b.store.get('accounts', 'B')).toBeUndefined();
    b.sync.setSubscriptions([{ id: 'all-accounts', collection: 'accounts' }]);
    await until(async () => (await b.store.get('accounts', 'B'))?.['balance'] === 60, 'B to be back-filled');
    expect(b.store.held()).toEqual([]);
  });

  it('refuses a peer that fails authentication, and a dialer stops retrying', async () => {
    const a = await testPeer([all()], { token: 'wrong' });
    const b = await testPeer([all()], {
      authenticate: (hello) => {
        if (hello.token !== 'secret') throw new ProtocolError('auth', 'bad token');
        return { canRead: () => true, canWrite: () => true };
      },
    });
    await b.store.insert('secret', { _id: 's' });
    const { dialerEnd, listenerEnd } = (() => {
      const pair = link(a, b);
      return pair;
    })();
    void listenerEnd;
    const conn = a.sync.connections[0]!;
    await expect(conn.opened).rejects.toBeInstanceOf(ProtocolError);
    const info = await conn.closedInfo;
    expect(info.code).toBe(4401);
    expect(dialerEnd.closed).toBe(true);
    expect(await a.store.get('secret', 's')).toBeUndefined();
  });

  it('rejects a changeset that writes outside the peer’s write permissions, whole', async () => {
    const a = await testPeer([all()]);
    const b = await testPeer([all()], { authenticate: () => ({ canRead: () => true, canWrite: (key) => !key.startsWith('admin/') }) });
    const errors: string[] = [];
    a.sync.events.on('error', (e) => errors.push(`${e.direction}:${e.kind}`));
    link(a, b);
    await a.store.transaction(async (tx) => {
      await tx.insert('todos', { _id: 't' });
      await tx.insert('admin', { _id: 'root' });
    });
    await a.store.insert('todos', { _id: 'after' });
    await until(async () => (await b.store.get('todos', 'after')) !== undefined, 'the later write');
    expect(await b.store.get('todos', 't')).toBeUndefined();
    expect(await b.store.get('admin', 'root')).toBeUndefined();
    expect(errors).toContain('received:forbidden');
  });

  it('never ships what a peer may not read; its manifest keys are redacted', async () => {
    const a = await testPeer([all()]);
    const b = await testPeer([], { authenticate: () => ({ canRead: (key) => !key.startsWith('private/'), canWrite: () => true }) });
    link(a, b);
    await b.store.transaction(async (tx) => {
      await tx.insert('public', { _id: 'p' });
      await tx.insert('private', { _id: 'x' });
    });
    await until(async () => (await a.store.get('public', 'p')) !== undefined, 'the public part');
    expect(await a.store.get('private', 'x')).toBeUndefined();
    const [entry] = await a.store.readLog(0);
    expect(entry?.manifest).toEqual(['public/p']);
  });
});
