import { nodeProject } from '../../vitest.shared.js';

// One test: the quick mode end to end (real processes, real sockets, real Chromium). It asserts
// that every benchmark row came out with finite numbers, never a timing.
export default nodeProject('bench', { test: { testTimeout: 120_000, hookTimeout: 60_000 } });
