import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@atoll/store';
import { DATABASE_FILE, LOCK_FILE, RelayDataDirLockedError, RelayListenError, startRelay } from '../src/index.js';
import { cleanUp, idsOf, snapshot, tempDir, testClient, testRelay, until } from './support.js';

afterEach(cleanUp);

describe('persistence', () => {
  it('a restart keeps everything: same peer id, same log, and a fresh client catches up', async () => {
    const dataDir = await tempDir();
    const relay = await startRelay({ port: 0, dataDir, logger: silentLogger });
    const writer = await testClient(relay.syncUrl);
    for (let i = 0; i < 20; i++) await writer.store.insert('notes', { _id: `n${i}`, text: `note ${i}` });
    await writer.store.transaction(async (tx) => {
      await tx.insert('accounts', { _id: 'ann', balance: 90 });
      await tx.insert('accounts', { _id: 'bob', balance: 10 });
    });
    await until(() => relay.store.position === 21, () => `the relay to apply 21 commits (at ${relay.store.position})`);
    const peerId = relay.peerId;
    const logId = relay.store.logId;
    const before = await snapshot(relay.store);
    await writer.sync.close();
    await relay.close();
    await expect(readFile(join(dataDir, LOCK_FILE))).rejects.toThrow(/ENOENT/);

    const again = await startRelay({ port: 0, dataDir, logger: silentLogger });
    try {
      expect(again.peerId).toBe(peerId);
      expect(again.store.logId).toBe(logId);
      expect(again.store.position).toBe(21);
      expect(await snapshot(again.store)).toEqual(before);
      expect(again.health()).toMatchObject({ status: 'ok', peerId, position: 21 });

      const reader = await testClient(again.syncUrl);
      await until(async () => (await idsOf(reader.store, 'notes')).length === 20 && (await idsOf(reader.store, 'accounts')).length === 2, 'the fresh client to catch up');
      expect(await snapshot(reader.store)).toEqual(before);
      // The transfer arrived as one transaction: one log entry with both documents.
      const entries = await reader.store.readLog(0);
      expect(entries.find((e) => e.manifest.includes('accounts/ann' as never))?.parts.map((p) => p.key).sort()).toEqual(['accounts/ann', 'accounts/bob']);
    } finally {
      await again.close();
    }
  });

  it('a relay shutting down while a client writes is a close for the client, not a failure', async () => {
    const relay = await testRelay();
    const failures: string[] = [];
    const logger = { ...silentLogger, error: (message: string) => void (message.startsWith('sync connection failed') && failures.push(message)) };
    const client = await testClient(relay.syncUrl, { logger });
    await until(() => client.dialer.status === 'open', 'the client to connect');
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await client.store.insert('notes', { _id: `n${written++}` });
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    })();
    await until(() => relay.store.position >= 20, 'writes to reach the relay');
    // The relay closes each socket with 1001 while the client keeps shipping: between the close
    // frame and the socket's close event the client's transport is already closed.
    await relay.close();
    await until(() => client.dialer.status !== 'open', 'the client to see the close');
    // Go on writing for a while with the connection gone: those commits wake the closed link.
    const atClose = written;
    await until(() => written >= atClose + 10, 'the client to write on after the close');
    writing = false;
    await writer;
    client.dialer.stop();
    expect(failures).toEqual([]);
  });

  it('keeps its data in <dataDir>/relay.db and refuses a second relay on the same directory', async () => {
    const relay = await testRelay();
    await expect(readFile(join(relay.dataDir, DATABASE_FILE))).resolves.toBeInstanceOf(Buffer);
    expect((await readFile(join(relay.dataDir, LOCK_FILE), 'utf8')).trim()).toBe(String(process.pid));
    await expect(startRelay({ port: 0, dataDir: relay.dataDir, logger: silentLogger })).rejects.toBeInstanceOf(RelayDataDirLockedError);
    // The refused start did not disturb the running relay.
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  });

  it('reports a port in use clearly and leaves the data directory free', async () => {
    const first = await testRelay();
    const dataDir = await tempDir();
    const error: unknown = await startRelay({ port: first.port, dataDir, logger: silentLogger }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RelayListenError);
    expect((error as Error).message).toMatch(new RegExp(`127\\.0\\.0\\.1:${first.port}.*EADDRINUSE`));
    // The lock was released: another relay can use the directory.
    const second = await testRelay({ dataDir });
    expect(second.port).not.toBe(first.port);
  });
});
