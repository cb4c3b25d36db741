// Benchmark servers run as processes of their own (so their memory and CPU are theirs), spawned
// from `servers/*.mjs` with a Node IPC channel: they report `ready` with their URL, answer
// `mem` after a full GC, and exit on `stop` — or by themselves if this process goes away.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const serversDir = fileURLToPath(new URL('../servers/', import.meta.url));

/** The systems that have a server process. */
export type ServerKind = 'atoll' | 'automerge-repo' | 'yjs' | 'raw';

export interface ServerMemory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** A running benchmark server. */
export class ServerProc {
  readonly kind: ServerKind;
  readonly url: string;
  readonly docs: number;
  readonly pid: number;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  stderr = '';

  private constructor(kind: ServerKind, child: ChildProcess, ready: { url: string; docs?: number }) {
    this.kind = kind;
    this.#child = child;
    this.url = ready.url;
    this.docs = ready.docs ?? 0;
    this.pid = child.pid ?? -1;
    child.on('message', (msg: { id?: number; error?: string }) => {
      const waiter = msg.id !== undefined ? this.#pending.get(msg.id) : undefined;
      if (!waiter || msg.id === undefined) return;
      this.#pending.delete(msg.id);
      if (msg.error !== undefined) waiter.reject(new Error(`${kind} server: ${msg.error}`));
      else waiter.resolve(msg);
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < 20_000) this.stderr += d.toString();
    });
  }

  /**
   * Starts a server and resolves once it listens. `seed` documents are written before that
   * (not measured). Rejects if it is not ready within `timeoutMs`.
   */
  static async start(kind: ServerKind, options: { dataDir?: string; seed?: number; timeoutMs?: number } = {}): Promise<ServerProc> {
    const seed = String(options.seed ?? 0);
    const dataDir = options.dataDir ?? '';
    const script = { atoll: 'atoll-relay.mjs', 'automerge-repo': 'automerge-server.mjs', yjs: 'yjs-server.mjs', raw: 'echo-relay.mjs' }[kind];
    const args = kind === 'yjs' ? [seed] : kind === 'raw' ? [] : [dataDir, seed];
    const execArgv = ['--expose-gc'];
    // ATOLL_BENCH_PROFILE=DIR writes a V8 CPU profile of every server process into DIR.
    const profileDir = process.env['ATOLL_BENCH_PROFILE'];
    if (profileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
    if (kind === 'yjs') execArgv.push('--import', pathToFileURL(`${serversDir}y-leveldb-hook.mjs`).href);
    const child = fork(`${serversDir}${script}`, args, { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 20_000) stderr += d.toString();
    });
    const timeoutMs = options.timeoutMs ?? 60_000;
    const ready = await new Promise<{ url: string; docs?: number }>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${kind} server not ready within ${timeoutMs} ms\n${stderr}`));
      }, timeoutMs);
      child.once('message', (msg: { type?: string; url?: string; docs?: number }) => {
        clearTimeout(timer);
        if (msg.type === 'ready' && typeof msg.url === 'string') resolve({ url: msg.url, ...(msg.docs !== undefined ? { docs: msg.docs } : {}) });
        else reject(new Error(`${kind} server sent ${JSON.stringify(msg)} before ready`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${kind} server exited with ${code} before ready\n${stderr}`));
      });
    });
    return new ServerProc(kind, child, ready);
  }

  /** Sends a request and waits for its answer. */
  request<T extends Record<string, unknown>>(type: string, fields: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.kind} server: no answer to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#child.send({ id, type, ...fields });
    });
  }

  /** Memory after a full GC in the server. */
  memory(): Promise<ServerMemory> {
    return this.request<ServerMemory & Record<string, unknown>>('mem');
  }

  /** Resident set size now, without a GC (from /proc). */
  rssNow(): number {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return kb === undefined ? Number.NaN : Number(kb) * 1024;
    } catch {
      return Number.NaN;
    }
  }

  /** Stops the server (gracefully, then by force after 5 s). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    try {
      this.#child.send({ id: 0, type: 'stop' });
    } catch {
      // The channel is already closed.
    }
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
