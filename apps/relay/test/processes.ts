// Real processes for the tests that need them: the built relay (`dist/cli.js`) and the peer
// fixture. Both run the built packages, so these tests need a build first
// (`npx turbo run build --filter=@atoll/relay`; `npm test` at the root builds first).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WAIT_MS, onCleanUp, within } from './support.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const PEER_FIXTURE = fileURLToPath(new URL('./fixtures/peer.mjs', import.meta.url));

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** Fails clearly when the relay's build is missing or older than its sources. */
export function requireBuild(): void {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    // missing
  }
  const sources = newest(`${appDir}src`);
  if (built < sources) {
    throw new Error(`apps/relay/dist is ${built === 0 ? 'missing' : 'older than apps/relay/src'}: run \`npx turbo run build --filter=@atoll/relay\` before these tests (npm test at the root does)`);
  }
}

/** A child process that speaks JSON lines (the peer fixture), or plain lines (the relay). */
export class Proc {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiters = new Set<() => void>();
  readonly name: string;

  constructor(name: string, args: string[]) {
    this.name = name;
    this.#child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.#child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      this.lines.push(line);
      for (const w of [...this.#waiters]) w();
    });
    this.exited = new Promise((resolve) => this.#child.once('close', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => {
      for (const w of [...this.#waiters]) w();
    });
    onCleanUp(async () => {
      if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
      await this.exited;
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The first line (from the start) that `match` accepts, waiting for it. */
  async line(match: (line: string) => boolean, what: string, ms = WAIT_MS): Promise<string> {
    let found: string | undefined;
    let gone = false;
    await within(
      new Promise<void>((resolve, reject) => {
        const check = () => {
          found = this.lines.find(match);
          if (found !== undefined) {
            this.#waiters.delete(check);
            resolve();
          } else if (gone) {
            this.#waiters.delete(check);
            reject(new Error(`${this.name} exited before ${what}; stdout: ${this.lines.join('\n')}; stderr: ${this.stderr}`));
          }
        };
        void this.exited.then(() => {
          gone = true;
          check();
        });
        this.#waiters.add(check);
        check();
      }),
      `${what} from ${this.name}`,
      ms,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; stderr: ${this.stderr}`);
    });
    return found as string;
  }

  /** The first JSON event matching, waiting for it. */
  async event(match: (event: Record<string, unknown>) => boolean, what: string, ms = WAIT_MS): Promise<Record<string, unknown>> {
    const parse = (line: string): Record<string, unknown> | undefined => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    };
    return parse(
      await this.line((l) => {
        const e = parse(l);
        return e !== undefined && match(e);
      }, what, ms),
    ) as Record<string, unknown>;
  }

  #requests = 0;

  /** Sends a command with a fresh tag and resolves with its answer. */
  async request(command: Record<string, unknown>, what: string, ms = WAIT_MS): Promise<Record<string, unknown>> {
    const tag = `r${++this.#requests}`;
    this.send({ ...command, tag });
    const answer = await this.event((e) => e['tag'] === tag, what, ms);
    if (answer['event'] === 'failed') throw new Error(`${this.name} failed ${what}: ${String(answer['message'])}`);
    return answer;
  }

  send(command: Record<string, unknown>): void {
    this.#child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }
}

/** The built relay as a process, on 127.0.0.1 and a free port. */
export class RelayProc extends Proc {
  url = '';
  syncUrl = '';

  static async start(dataDir: string, extra: string[] = []): Promise<RelayProc> {
    requireBuild();
    const relay = new RelayProc('relay', [CLI, '--port', '0', '--host', '127.0.0.1', '--data', dataDir, ...extra]);
    await relay.line((l) => l.includes('authentication: '), 'the end of the banner');
    const banner = await relay.line((l) => l.includes(' listening on '), 'the listening banner');
    relay.url = /listening on (http:\/\/\S+)/.exec(banner)?.[1] ?? '';
    relay.syncUrl = `${relay.url.replace('http://', 'ws://')}/sync`;
    return relay;
  }
}

let fixtures = 0;

/** The peer fixture as a process; resolves once it is ready. */
export async function startPeerProcess(config: Record<string, unknown>): Promise<{ proc: Proc; peerId: string; url: string | undefined }> {
  requireBuild();
  const proc = new Proc(`peer ${++fixtures}`, [PEER_FIXTURE, JSON.stringify(config)]);
  const ready = await proc.event((e) => e['event'] === 'ready', 'ready');
  return { proc, peerId: String(ready['peerId']), url: typeof ready['url'] === 'string' ? ready['url'] : undefined };
}

/** JSON with object keys sorted, to compare documents whatever order their fields merged in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v,
  );
}
