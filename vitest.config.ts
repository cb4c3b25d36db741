import { defineConfig } from 'vitest/config';

// One Vitest run over every package's projects (see vitest.shared.ts for the base).
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'packages/*/vitest.browser.config.ts', 'apps/*/vitest.config.ts'],
  },
});
