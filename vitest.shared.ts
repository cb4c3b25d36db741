// The base every package's Vitest project extends. Workspace packages resolve to their
// TypeScript sources through the `source` export condition, so tests never need a build of
// the package under test (child-process fixtures that run plain Node use the built `dist`).
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig, mergeConfig, type ViteUserConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { chromiumArgs, chromiumExecutable } from './chromium.config.js';

const resolveSource = {
  resolve: { conditions: ['source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['source', ...defaultServerConditions] } },
} satisfies ViteUserConfig;

/** A Node project: `test/**\/*.test.ts`, except `*.browser.test.ts`. */
export function nodeProject(name: string, extra: ViteUserConfig = {}): ViteUserConfig {
  return mergeConfig(
    defineConfig({
      ...resolveSource,
      test: {
        name,
        include: ['test/**/*.test.ts'],
        exclude: ['test/**/*.browser.test.ts', '**/node_modules/**'],
        environment: 'node',
        testTimeout: 30_000,
        hookTimeout: 30_000,
      },
    }),
    extra,
  );
}

/**
 * Automerge's `browser` export is built for bundlers that import .wasm as an ES module, which
 * Vite cannot do; its base64 build (the WebAssembly inlined and instantiated on import) runs
 * anywhere, so browser projects use it.
 */
export const automergeBase64 = fileURLToPath(new URL('./node_modules/@automerge/automerge/dist/mjs/entrypoints/fullfat_base64.js', import.meta.url));

/** A project that runs `test/**\/*.browser.test.ts` in real headless Chromium. */
export function browserProject(name: string, extra: ViteUserConfig = {}): ViteUserConfig {
  return mergeConfig(
    defineConfig({
      resolve: { ...resolveSource.resolve, alias: [{ find: /^@automerge\/automerge$/, replacement: automergeBase64 }] },
      ssr: resolveSource.ssr,
      test: {
        name: `${name}:chromium`,
        include: ['test/**/*.browser.test.ts'],
        testTimeout: 30_000,
        hookTimeout: 30_000,
        browser: {
          enabled: true,
          headless: true,
          screenshotFailures: false,
          provider: playwright({
            launchOptions: { executablePath: chromiumExecutable, args: chromiumArgs },
          }),
          instances: [{ browser: 'chromium' }],
        },
      },
    }),
    extra,
  );
}
