// The demo is a plain Vite app with two pages: the caveats lab (index.html) and the shared
// ledger (ledger/index.html). It is served in production by the relay (`--static dist`), so
// the ledger reaches the relay at ws(s)://<same host>/sync; `npm run dev` proxies /sync to a
// relay on 127.0.0.1:8787.
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

/** Automerge, initialised from its .wasm file: see src/automerge.ts. */
const automerge = fileURLToPath(new URL('./src/automerge.ts', import.meta.url));

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources, as in the tests.
  resolve: {
    conditions: ['source', ...defaultClientConditions],
    alias: [{ find: /^@automerge\/automerge$/, replacement: automerge }],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: {
      onwarn(warning, warn) {
        // zod's sources carry /* @__PURE__ */ comments where Rollup cannot use them; harmless.
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('/node_modules/zod/')) return;
        warn(warning);
      },
      input: {
        lab: 'index.html',
        ledger: 'ledger/index.html',
      },
      output: {
        // Both pages share the engine (Atoll's packages and their dependencies) and the styles.
        manualChunks(id) {
          if (id.endsWith('.css')) return 'styles';
          if (id.includes('/node_modules/') || id.includes('/packages/')) return 'engine';
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: {
      '/sync': { target: 'ws://127.0.0.1:8787', ws: true },
      '/healthz': { target: 'http://127.0.0.1:8787' },
    },
  },
});
