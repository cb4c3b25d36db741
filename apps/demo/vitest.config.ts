import { nodeProject } from '../../vitest.shared.js';

// The lab's model and the ledger's arithmetic run in Node; the pages themselves are tested in
// real Chromium by e2e/tests/demo-*.spec.ts.
export default nodeProject('demo');
