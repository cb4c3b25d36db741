import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RelayConfigError, RelayDataDirLockedError } from './errors.js';

/** Name of the SQLite database inside the data directory. */
export const DATABASE_FILE = 'relay.db';
/** Name of the lock file inside the data directory; it holds the relay's process id while it runs. */
export const LOCK_FILE = 'relay.lock';

/** Data directories locked by relays of this process (a pid check cannot tell those apart). */
const lockedHere = new Set<string>();

/** A data directory this relay holds. */
export interface DataDir {
  readonly path: string;
  readonly database: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates the data directory if needed and takes its lock, so two relays never write one store
 * (their log positions would collide). A lock left by a process that no longer runs is stale
 * and taken over.
 *
 * @throws {RelayDataDirLockedError} when a running relay holds it.
 * @throws {RelayConfigError} when the directory cannot be created or written.
 */
export async function lockDataDir(dir: string): Promise<DataDir> {
  const path = resolve(dir);
  const lockFile = join(path, LOCK_FILE);
  try {
    await mkdir(path, { recursive: true });
  } catch (err) {
    throw new RelayConfigError(`cannot create the data directory ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (lockedHere.has(path)) throw new RelayDataDirLockedError(lockFile, 'another relay in this process');
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new RelayDataDirLockedError(lockFile, 'another relay starting at the same time');
        throw new RelayConfigError(`cannot write the lock file ${lockFile}: ${(err as Error).message}`, { cause: err });
      }
      const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new RelayDataDirLockedError(lockFile, `process ${holder}`);
      }
      // Stale: its process is gone (or it was this process's, released without cleanup).
      await rm(lockFile, { force: true });
    }
  }
  lockedHere.add(path);
  let released = false;
  return {
    path,
    database: join(path, DATABASE_FILE),
    release: async () => {
      if (released) return;
      released = true;
      lockedHere.delete(path);
      await rm(lockFile, { force: true });
    },
  };
}
