import { defineConfig } from '@playwright/test';
import { chromiumArgs, chromiumExecutable } from '../chromium.config.js';

const relayPort = Number(process.env['ATOLL_E2E_PORT'] ?? 18787);

export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  workers: 1,
  forbidOnly: Boolean(process.env['CI']),
  retries: 0,
  timeout: 60_000,
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    baseURL: `http://127.0.0.1:${relayPort}`,
    browserName: 'chromium',
    launchOptions: { executablePath: chromiumExecutable, args: chromiumArgs },
    trace: 'retain-on-failure',
  },
  webServer: [
    {
      // The built relay, as `npm start` runs it, on a port of its own and a throwaway data dir.
      command: `node ../apps/relay/dist/cli.js --port ${relayPort} --data ./test-results/relay-data --static ../apps/demo/dist`,
      url: `http://127.0.0.1:${relayPort}/healthz`,
      reuseExistingServer: false,
      timeout: 30_000,
    },
    {
      // The browser-peer fixture page (tests/browser-*.spec.ts), rebuilt first if stale; those tests start their own relays.
      command: 'node browser-app/serve.mjs',
      url: `http://127.0.0.1:${process.env['ATOLL_E2E_APP_PORT'] ?? 18790}/`,
      reuseExistingServer: false,
      timeout: 120_000,
    },
  ],
});
