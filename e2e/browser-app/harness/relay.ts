// Real relay processes for the browser e2e tests: `node apps/relay/dist/cli.js` on a port of
// its own (bound to 127.0.0.1) and a throwaway data directory, started and stopped by the test
// that needs to take it down or bring it back.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../apps/relay/dist/cli.js', import.meta.url));

/** The fixture page, served by the `webServer` entry of e2e/playwright.config.ts. */
export const APP_URL = `http://127.0.0.1:${Number(process.env['ATOLL_E2E_APP_PORT'] ?? 18790)}/`;

/** The fixture page's address for one tab of profile `name`, syncing with `relay` if given. */
export function appUrl(name: string, relay?: RelayProcess): string {
  const url = new URL(APP_URL);
  url.searchParams.set('name', name);
  if (relay) url.searchParams.set('relay', relay.url);
  return url.href;
}

export interface RelayProcess {
  /** The port it listens on (kept across restarts). */
  readonly port: number;
  /** `ws://127.0.0.1:<port>`: what the page's `relay` parameter takes. */
  readonly url: string;
  readonly dataDir: string;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Stops it gracefully (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and removes its data directory. */
  dispose(): Promise<void>;
  /** Its `/healthz`: among others, the position of its log (how many transactions it holds). */
  health(): Promise<{ status: string; position: number; connections: number }>;
}

/** Starts a relay on a free port with a fresh data directory. */
export async function startRelay(): Promise<RelayProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'atoll-e2e-relay-'));
  let child: ChildProcess | undefined;
  let port = 0;
  let output = '';

  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(process.execPath, [CLI, '--host', '127.0.0.1', '--port', String(port), '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        if (match) {
          port = Number(match[1]);
          proc.stdout.off('data', onData);
          resolve();
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
      proc.once('exit', (code) => {
        if (child === proc) child = undefined;
        reject(new Error(`the relay exited (${String(code)}) before listening:\n${output}`));
      });
    });

  const stop = async () => {
    const proc = child;
    if (!proc) return;
    child = undefined;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  };

  await launch();
  return {
    get port() {
      return port;
    },
    get url() {
      return `ws://127.0.0.1:${port}`;
    },
    dataDir,
    get running() {
      return child !== undefined;
    },
    stop,
    start: async () => {
      if (!child) await launch();
    },
    dispose: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    health: async () => {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      return (await response.json()) as { status: string; position: number; connections: number };
    },
  };
}
