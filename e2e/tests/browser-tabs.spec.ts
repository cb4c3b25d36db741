// Tabs of one browser profile (one Playwright context) sharing a browser peer: writes reach the
// other tabs' live queries and writers serialize across tabs with no relay involved; commits of
// every tab reach the relay once it is back; data survives a reload.
import { expect, test } from '@playwright/test';
import { item, openTab, put, seen, status, waitForPeer } from '../browser-app/harness/pages.js';
import { startRelay, type RelayProcess } from '../browser-app/harness/relay.js';

let relay: RelayProcess;

test.beforeEach(async () => {
  relay = await startRelay();
});

test.afterEach(async () => {
  await relay.dispose();
});

test('two tabs with the relay stopped: live queries, and 2×100 concurrent increments end at 200', async ({ context, browser }) => {
  test.slow(); // 200 cross-tab transactions, three page loads and a relay restart
  await relay.stop();
  const a = await openTab(context, 'tabs', relay);
  const b = await openTab(context, 'tabs', relay);
  await expect(a.locator('#role')).toHaveText('leader');
  await expect(b.locator('#role')).toHaveText('follower');
  // The leader cannot reach the relay, and nothing waits for it.
  await expect.poll(async () => (await status(a))?.connection).toMatch(/^(waiting|connecting)$/);

  // A write in one tab appears in the other's live query.
  await put(a, 'note', { text: 'hello from a' });
  await expect(b.locator('#items')).toContainText('hello from a');
  await put(b, 'reply', { text: 'hello from b' });
  await expect(a.locator('#items')).toContainText('hello from b');

  // Writers serialize across the tabs: no increment is lost.
  await put(a, 'counter', { n: 0 });
  await expect.poll(async () => (await item(b, 'counter'))?.['n']).toBe(0);
  await Promise.all([
    a.evaluate(() => window.atoll?.increment('counter', 100)),
    b.evaluate(() => window.atoll?.increment('counter', 100)),
  ]);
  await expect.poll(async () => (await item(a, 'counter'))?.['n']).toBe(200);
  await expect.poll(async () => (await item(b, 'counter'))?.['n']).toBe(200);
  await expect(b.locator('#items')).toContainText('"n":200');

  // The relay comes back: the leader ships every tab's commits, and another device gets them.
  await relay.start();
  await expect(a.locator('#connection')).toHaveText('open', { timeout: 10_000 });
  const device = await browser.newContext();
  try {
    const other = await openTab(device, 'tabs', relay);
    await expect.poll(async () => (await item(other, 'counter'))?.['n'], { timeout: 15_000 }).toBe(200);
    expect((await seen(other)).map((d) => d._id)).toEqual(['counter', 'note', 'reply']);
  } finally {
    await device.close();
  }
});

test('reload: data persists', async ({ context }) => {
  const page = await openTab(context, 'reload');
  await put(page, 'kept', { text: 'still here' });
  await page.reload();
  await waitForPeer(page);
  expect(await item(page, 'kept')).toEqual({ _id: 'kept', text: 'still here' });
  await expect(page.locator('#items')).toContainText('still here');
  await expect(page.locator('#role')).toHaveText('leader');
  await expect(page.locator('#connection')).toHaveText('no-relay');
});
