import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryMessage, PeerId } from '@atoll/protocol';
import { silentLogger } from '@atoll/store';
import { PermissionSet, RelayConfigError, startRelay, type PermissionsDocument } from '../src/index.js';
import { RawClient, cleanUp, idsOf, key, snapshot, tempDir, testClient, testRelay, until, within } from './support.js';

afterEach(cleanUp);

const PERMISSIONS: PermissionsDocument = {
  'admin-secret-0001': { read: ['*'], write: ['*'] },
  'todo-writer-0002': { peer: 'ann', read: ['todos', 'notes'], write: ['todos'] },
  'todo-reader-0003': { read: ['todos'], write: [] },
};

describe('shared token', () => {
  it('a wrong or missing token gets an auth error and a close; the dialer stops; the right one is served', async () => {
    const relay = await testRelay({ token: 'correct horse battery staple' });
    expect(relay.auth).toBe('token');

    for (const token of ['wrong', undefined]) {
      const client = await testClient(relay.syncUrl, token === undefined ? {} : { token });
      await until(() => client.dialer.status === 'failed', `the dialer with token ${String(token)} to give up`);
      const error = client.received.find((m) => m.type === 'error');
      expect(error).toMatchObject({ type: 'error', kind: 'auth', fatal: true });
      expect(client.received.some((m) => m.type === 'welcome')).toBe(false);
    }

    // Raw: the error frame, then the close.
    const raw = await RawClient.connect(relay.syncUrl);
    raw.send({ type: 'hello', versions: [1], peerId: 'eve' as PeerId, role: 'client', logId: 'l' as never, maxBytes: 1 << 20, token: 'guess' });
    expect(await raw.next((m) => m.type === 'error', 'the auth error')).toMatchObject({ kind: 'auth', fatal: true, message: 'wrong token' });
    expect((await raw.closeInfo()).code).toBe(4401);

    const good = await testClient(relay.syncUrl, { token: 'correct horse battery staple' });
    await good.store.insert('todos', { _id: 't1' });
    await until(() => relay.store.position === 1, 'the authenticated write');
    expect(relay.metrics()).toMatch(/^atoll_relay_errors_total\{kind="auth",direction="sent"\} 3$/m);
  });
});

describe('permissions', () => {
  it('a changeset writing outside the write scope is rejected whole: nothing of it is stored', async () => {
    const relay = await testRelay({ permissions: PERMISSIONS });
    const ann = await testClient(relay.syncUrl, { token: 'todo-writer-0002', peerId: 'ann' });
    await ann.store.insert('todos', { _id: 'allowed', title: 'fine' });
    await until(() => relay.store.position === 1, 'the allowed write');

    // One transaction, one document in scope and one outside it.
    await ann.store.transaction(async (tx) => {
      await tx.insert('todos', { _id: 'sneaky', title: 'in scope' });
      await tx.insert('accounts', { _id: 'ann', balance: 1_000_000 });
    });
    const error = await within(
      (async () => {
        await until(() => ann.received.some((m) => m.type === 'error'), 'the forbidden error');
        return ann.received.find((m) => m.type === 'error');
      })(),
      'the forbidden error',
    );
    expect(error).toMatchObject({ kind: 'forbidden', fatal: false, txId: `ann:2` });
    expect((error as { message: string }).message).toMatch(/accounts\/ann/);

    // The connection stays open and later writes in scope go through.
    await ann.store.insert('todos', { _id: 'later' });
    await until(() => relay.store.position === 2, 'the next allowed write');
    expect(await idsOf(relay.store, 'todos')).toEqual(['allowed', 'later']);
    expect(await idsOf(relay.store, 'accounts')).toEqual([]);
    expect((await relay.store.readLog(0)).map((e) => e.id)).toEqual(['ann:1', 'ann:3']);
  });

  it('nothing outside the read scope is ever shipped, and manifests are redacted', async () => {
    const relay = await testRelay({ permissions: PERMISSIONS });
    const admin = await testClient(relay.syncUrl, { token: 'admin-secret-0001' });
    await admin.store.transaction(async (tx) => {
      await tx.insert('todos', { _id: 't1', title: 'visible' });
      await tx.insert('secrets', { _id: 'launch-codes', code: 'TOPSECRETVALUE' });
    });
    await admin.store.insert('secrets', { _id: 's2', code: 'TOPSECRETVALUE' });
    await until(() => relay.store.position === 2, 'the admin writes');

    // A raw reader, to see the bytes on the wire.
    const raw = await RawClient.connect(relay.syncUrl);
    raw.send({ type: 'hello', versions: [1], peerId: 'reader' as PeerId, role: 'client', logId: 'reader-log' as never, maxBytes: 1 << 20, token: 'todo-reader-0003' });
    await raw.next((m) => m.type === 'welcome', 'welcome');
    raw.send({ type: 'subscribe', subs: [{ id: 'all', collection: '*' }] });
    raw.send({ type: 'sync', since: 0 });
    await raw.next((m) => m.type === 'caught-up', 'caught-up');
    // Live: one more mixed transaction after the catch-up.
    await admin.store.transaction(async (tx) => {
      await tx.insert('todos', { _id: 't2', title: 'also visible' });
      await tx.insert('secrets', { _id: 's3', code: 'TOPSECRETVALUE' });
    });
    const deliveries = async () => raw.messages.filter((m): m is DeliveryMessage => m.type === 'delivery');
    await until(async () => (await deliveries()).length === 2, 'two deliveries');

    const got = await deliveries();
    expect(got.map((d) => ({ manifest: d.manifest, redacted: d.redacted, parts: d.parts.map((p) => p.key), omitted: d.omitted }))).toEqual([
      { manifest: ['todos/t1'], redacted: 1, parts: ['todos/t1'], omitted: [] },
      { manifest: ['todos/t2'], redacted: 1, parts: ['todos/t2'], omitted: [] },
    ]);
    // Not a byte of the secrets collection crossed the wire: no key, no value.
    const wire = Buffer.concat(raw.frames).toString('latin1');
    expect(wire).not.toMatch(/secrets|launch-codes|TOPSECRETVALUE/);
    expect(raw.frames.length).toBeGreaterThan(4);
    // Asking for the secret part by its key (guessed) gets nothing either.
    raw.send({ type: 'want', txId: got[0]!.tx.id, keys: [key('secrets', 'launch-codes')] });
    expect(await raw.next((m) => m.type === 'unavailable', 'unavailable')).toMatchObject({ keys: ['secrets/launch-codes'] });
    expect(raw.messages.filter((m) => m.type === 'delivery')).toHaveLength(2);

    // A SyncPeer client with the same scope ends up with the todos only.
    const reader = await testClient(relay.syncUrl, { token: 'todo-reader-0003' });
    await until(async () => (await idsOf(reader.store, 'todos')).length === 2, 'the reader to get both todos');
    expect(reader.store.collections()).toEqual(['todos']);
    expect((await reader.store.readLog(0)).flatMap((e) => e.manifest)).toEqual(['todos/t1', 'todos/t2']);
  });

  it('a token bound to a peer id refuses any other peer id', async () => {
    const relay = await testRelay({ permissions: PERMISSIONS });
    const raw = await RawClient.connect(relay.syncUrl);
    raw.send({ type: 'hello', versions: [1], peerId: 'not-ann' as PeerId, role: 'client', logId: 'l' as never, maxBytes: 1 << 20, token: 'todo-writer-0002' });
    expect(await raw.next((m) => m.type === 'error', 'the auth error')).toMatchObject({ kind: 'auth', fatal: true });
    expect((await raw.closeInfo()).code).toBe(4401);
    const before = await snapshot(relay.store);
    expect(before).toEqual({});
  });

  it('reads and validates the permissions file at startup, with clear errors', async () => {
    const dir = await tempDir();
    const file = join(dir, 'permissions.json');
    await writeFile(file, JSON.stringify(PERMISSIONS));
    const relay = await testRelay({ permissionsFile: file });
    expect(relay.auth).toBe('permissions');

    const bad: [unknown, RegExp][] = [
      [[], /top level: must be a JSON object/],
      [{ tok: { read: ['todos'] } }, /entry 1 \(token "…"\): "write" must be an array/],
      [{ 'long-enough-token': { read: ['to do'], write: [] } }, /entry 1 \(token "lon…"\): "read"\[0\]: "to do" is not a collection name/],
      [{ a: { read: [], write: [], wirte: ['x'] } }, /unknown field "wirte"/],
      [{ a: { read: [], write: [], peer: 7 } }, /"peer" must be a peer id/],
      [{ '': { read: [], write: [] } }, /a token must be 1 to 4096 characters/],
    ];
    for (const [document, message] of bad) {
      await writeFile(file, JSON.stringify(document));
      const error: unknown = await startRelay({ port: 0, dataDir: dir, permissionsFile: file, logger: silentLogger }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(RelayConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain(file);
    }
    await writeFile(file, '{ "a": ');
    await expect(startRelay({ port: 0, dataDir: dir, permissionsFile: file, logger: silentLogger })).rejects.toThrow(/is not valid JSON/);
    await expect(startRelay({ port: 0, dataDir: dir, permissionsFile: join(dir, 'missing.json'), logger: silentLogger })).rejects.toThrow(/cannot read the permissions file/);
    await expect(startRelay({ port: 0, dataDir: dir, token: 'x', permissions: PERMISSIONS, logger: silentLogger })).rejects.toThrow(/either a token or permissions/);
  });

  it('looks tokens up exactly', () => {
    const set = PermissionSet.parse(PERMISSIONS);
    expect(set.size).toBe(3);
    expect(set.lookup('todo-reader-0003')).toEqual({ read: ['todos'], write: [] });
    expect(set.lookup('todo-reader-0004')).toBeUndefined();
  });
});
