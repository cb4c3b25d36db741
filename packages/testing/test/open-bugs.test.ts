import { describe, expect, it } from 'vitest';
import { failures, runScenario, type Scenario } from '../src/index.js';

/**
 * Bugs the properties found whose cause is not established. While one reproduces, its test is
 * `it.fails` (it passes while the bug is there). The case below stopped reproducing when the
 * sync layer's schedule changed (forwarding before durability, protocol version 2): the same
 * replay now converges, but nobody found why it failed. It stays as a plain test that must keep
 * passing, and the `resubscribe` fault stays out of the CI properties until the cause is known
 * (docs/testing.md, "Open bugs").
 */
describe('open bugs (cause not established)', () => {
  // Found by "todo lists under filters on a field that changes converge and lose nothing" with
  // the `resubscribe` fault back in (ATOLL_SEED=1229107753, run 215), once H was fixed; the
  // shrunk scenario, not yet reduced by hand. A chain p0 ← p1 ← p2 (p1 and p2 follow open
  // todos) with crashes and restarts of p0 and p1 and a re-subscription of p0: p2 never
  // received two of p0's writes to todos/home-first, which p1 holds and p2 selects.
  it('every peer on the path receives the writes its subscription selects, through crashes and a re-subscription', async () => {
    const scenario = {"seed":2147475432,"storage":"memory","topology":"chain","interleave":0,"latency":[1,5],"workloads":["todo"],"peers":[{"name":"p0","subscriptions":[{"id":"todo-all","collection":"*"}],"label":"todo:all","atomicity":"eventual"},{"name":"p1","subscriptions":[{"id":"todo-lists","collection":"lists"},{"id":"todo-open","collection":"todos","where":{"done":false}}],"label":"todo:open todos","atomicity":"eventual"},{"name":"p2","subscriptions":[{"id":"todo-lists","collection":"lists"},{"id":"todo-open","collection":"todos","where":{"done":false}}],"label":"todo:open todos","atomicity":"eventual"}],"links":[{"dialer":"p1","listener":"p0"},{"dialer":"p2","listener":"p1"}],"steps":[{"at":8,"kind":"op","peer":"p1","workload":"todo"},{"at":8,"kind":"restart","peer":"p0"},{"at":9,"kind":"op","peer":"p1","workload":"todo"},{"at":9,"kind":"drop","a":"p1","b":"p0"},{"at":27,"kind":"op","peer":"p0","workload":"todo"},{"at":47,"kind":"drop","a":"p2","b":"p1"},{"at":49,"kind":"subscribe","peer":"p0","subscriptions":[{"id":"todo-all","collection":"*"}],"label":"todo:all"},{"at":62,"kind":"op","peer":"p2","workload":"todo"},{"at":72,"kind":"op","peer":"p0","workload":"todo"},{"at":72,"kind":"op","peer":"p0","workload":"todo"},{"at":85,"kind":"op","peer":"p0","workload":"todo"},{"at":105,"kind":"op","peer":"p0","workload":"todo"},{"at":111,"kind":"restart","peer":"p0"},{"at":113,"kind":"crash","peer":"p1"},{"at":119,"kind":"crash","peer":"p0"},{"at":127,"kind":"op","peer":"p1","workload":"todo"},{"at":140,"kind":"op","peer":"p2","workload":"todo"},{"at":146,"kind":"crash","peer":"p0"},{"at":150,"kind":"op","peer":"p1","workload":"todo"},{"at":156,"kind":"op","peer":"p1","workload":"todo"},{"at":158,"kind":"op","peer":"p0","workload":"todo"},{"at":173,"kind":"op","peer":"p1","workload":"todo"},{"at":174,"kind":"op","peer":"p0","workload":"todo"},{"at":190,"kind":"op","peer":"p1","workload":"todo"},{"at":209,"kind":"op","peer":"p0","workload":"todo"},{"at":214,"kind":"op","peer":"p1","workload":"todo"},{"at":220,"kind":"op","peer":"p1","workload":"todo"},{"at":232,"kind":"op","peer":"p2","workload":"todo"},{"at":236,"kind":"op","peer":"p1","workload":"todo"},{"at":248,"kind":"op","peer":"p0","workload":"todo"}]} as Scenario;
    const { report } = await runScenario(scenario);
    expect(failures(report, { readAtomicity: false, invariants: false })).toBeUndefined();
  });
});
