import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A fresh database path in its own temp directory, so WAL and SHM side files are cleaned up with it. */
export function tempDbPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'atoll-sqlite-')), 'store.db');
}

/** Removes the directory {@link tempDbPath} made. */
export function removeTempDb(path: string): void {
  rmSync(dirname(path), { recursive: true, force: true });
}

/** fast-check parameters from the environment, so a failing run replays (`ATOLL_SEED`, `ATOLL_RUNS`). */
export function propertyParams(defaultRuns: number): { numRuns: number; seed?: number } {
  const numRuns = Number(process.env.ATOLL_RUNS ?? defaultRuns);
  const seed = process.env.ATOLL_SEED;
  return seed === undefined ? { numRuns } : { numRuns, seed: Number(seed) };
}
