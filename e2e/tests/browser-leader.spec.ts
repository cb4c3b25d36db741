// One tab per profile holds the relay connection. When it closes or crashes, another tab's
// pending Web Lock request is granted and that tab takes over, resuming from the cursor the
// profile persisted.
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { item, openTab, put, status } from '../browser-app/harness/pages.js';
import { startRelay, type RelayProcess } from '../browser-app/harness/relay.js';

let relay: RelayProcess;
let otherDevice: BrowserContext;

test.beforeEach(async ({ browser }) => {
  relay = await startRelay();
  otherDevice = await browser.newContext();
});

test.afterEach(async () => {
  await otherDevice.close();
  await relay.dispose();
});

/** Sets up a leader and a follower tab of one profile and a device that writes `count` items through the relay. */
async function setUp(context: BrowserContext, count: number): Promise<{ leader: Page; follower: Page; device: Page }> {
  const leader = await openTab(context, 'profile', relay);
  const follower = await openTab(context, 'profile', relay);
  const device = await openTab(otherDevice, 'device', relay);
  await expect(leader.locator('#role')).toHaveText('leader');
  await expect(leader.locator('#connection')).toHaveText('open');
  await expect(follower.locator('#role')).toHaveText('follower');
  // The follower shows the leader's connection.
  await expect(follower.locator('#connection')).toHaveText('open');
  for (let i = 0; i < count; i++) await put(device, `before-${i}`, { i });
  await expect.poll(async () => (await item(follower, `before-${count - 1}`))?.['i']).toBe(count - 1);
  expect(await follower.evaluate(() => window.atoll?.deliveries)).toBe(0); // only the leader receives
  return { leader, follower, device };
}

/** Checks that `tab` syncs both ways with `device`. */
async function syncsBothWays(tab: Page, device: Page): Promise<void> {
  await put(device, 'after', { from: 'device' });
  await expect(tab.locator('#items')).toContainText('"from":"device"');
  await put(tab, 'from-new-leader', { from: 'tab' });
  await expect(device.locator('#items')).toContainText('"from":"tab"');
}

test('when the leader tab closes, another tab takes over sync within seconds, from the persisted cursor', async ({ context }) => {
  const { leader, follower, device } = await setUp(context, 10);
  const closedAt = Date.now();
  await leader.close();
  await expect(follower.locator('#role')).toHaveText('leader', { timeout: 5_000 });
  await expect.poll(async () => (await status(follower))?.connection, { timeout: 5_000 }).toBe('open');
  test.info().annotations.push({ type: 'takeover', description: `${Date.now() - closedAt} ms from close to an open connection` });
  await expect.poll(async () => (await status(follower))?.lastSyncAt ?? 0).toBeGreaterThan(closedAt);
  // Resumed from the cursor: the 10 transactions the old leader received are not sent again.
  expect(await follower.evaluate(() => window.atoll?.deliveries)).toBeLessThan(10);
  await syncsBothWays(follower, device);
});

test('when the leader tab crashes, another tab takes over', async ({ context }) => {
  const { leader, follower, device } = await setUp(context, 3);
  const cdp = await context.newCDPSession(leader);
  // The renderer dies without running any of the page's code: the browser releases its locks.
  void cdp.send('Page.crash').catch(() => {});
  await expect(follower.locator('#role')).toHaveText('leader', { timeout: 5_000 });
  await expect(follower.locator('#connection')).toHaveText('open', { timeout: 5_000 });
  await syncsBothWays(follower, device);
});
