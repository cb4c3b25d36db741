import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Store, silentLogger } from '@atoll/store';
import { SqliteStorageAdapter } from '../src/index.js';
import { removeTempDb, tempDbPath } from './support.js';

const worker = fileURLToPath(new URL('./fixtures/transfer-worker.mjs', import.meta.url));
const ACCOUNTS = 6;
const KILLS = Number(process.env['ATOLL_CRASH_KILLS'] ?? 12);
const seed = Number(process.env['ATOLL_SEED'] ?? Date.now() % 1_000_000);

let state = seed;
const random = (n: number) => {
  state = (state * 1103515245 + 12345) % 2 ** 31;
  return state % n;
};

/**
 * Runs the worker until it has acknowledged `acks` commits, then kills it with SIGKILL after
 * a random few milliseconds — usually in the middle of a later commit. Resolves the acked ids.
 */
function runAndKill(path: string, runSeed: number, acks: number, delayMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, path, String(runSeed), String(ACCOUNTS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: string[] = [];
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (line.startsWith('ack ')) acked.push(line.slice(4));
      if (!killed && acked.length >= acks) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker made no progress in 20 s (acked ${acked.length}): ${stderr}`));
    }, 20_000);
    // 'close' comes after stdout is drained, so every ack the worker wrote has been read.
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`worker exited with ${code ?? signal}: ${stderr}`));
    });
  });
}

describe('durability and crash atomicity on SQLite', () => {
  const path = tempDbPath();
  afterAll(() => removeTempDb(path));

  it(`keeps the total and every acknowledged commit across ${KILLS} SIGKILLs at random moments (ATOLL_SEED=${seed})`, async () => {
    const allAcked: string[] = [];
    let lastPosition = 0;
    for (let round = 0; round < KILLS; round++) {
      const acked = await runAndKill(path, seed + round, 1 + random(40), random(15));
      allAcked.push(...acked);
      const store = await Store.open({ storage: await SqliteStorageAdapter.open(path), logger: silentLogger });
      try {
        const balances = (await store.find({ collection: 'accounts' })).map((d) => d['balance'] as number);
        expect(balances, `round ${round}: every account is there`).toHaveLength(ACCOUNTS);
        expect(balances.reduce((a, b) => a + b, 0), `round ${round}: total balance`).toBe(ACCOUNTS * 1000);
        const ids = new Set<string>();
        for (let after = 0; ; ) {
          const entries = await store.readLog(after, 1_000);
          if (entries.length === 0) break;
          for (const e of entries) ids.add(e.id);
          after = entries[entries.length - 1]!.pos;
        }
        const lost = allAcked.filter((id) => !ids.has(id));
        expect(lost, `round ${round}: acknowledged commits missing after the kill`).toEqual([]);
        expect(store.position).toBeGreaterThanOrEqual(lastPosition);
        expect(ids.size).toBe(store.position);
        lastPosition = store.position;
      } finally {
        await store.close();
      }
    }
    expect(allAcked.length).toBeGreaterThanOrEqual(KILLS);
  }, 180_000);
});
