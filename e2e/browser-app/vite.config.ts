// Builds the e2e fixture page. Workspace packages resolve to their TypeScript sources (the
// `source` export condition), so the fixture never waits for, or goes stale against, their builds.
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

/** Automerge's base64 build: its `browser` export needs a .wasm ES-module import Vite cannot do (see vitest.shared.ts). */
const automergeBase64 = fileURLToPath(new URL('../../node_modules/@automerge/automerge/dist/mjs/entrypoints/fullfat_base64.js', import.meta.url));

const APP_PORT = Number(process.env['ATOLL_E2E_APP_PORT'] ?? 18790);

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  resolve: {
    conditions: ['source', ...defaultClientConditions],
    alias: [{ find: /^@automerge\/automerge$/, replacement: automergeBase64 }],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Automerge's WebAssembly, inlined, is most of the bundle.
    chunkSizeWarningLimit: 8_000,
    rollupOptions: {
      onwarn(warning, warn) {
        // zod's sources carry `@__PURE__` comments where Rollup cannot use them; harmless.
        if (warning.code !== 'INVALID_ANNOTATION') warn(warning);
      },
    },
  },
  preview: { host: '127.0.0.1', port: APP_PORT, strictPort: true },
});
