// Two browser contexts are two devices (two profiles, two peers) meeting through the real relay
// process: writes cross over, and a device that goes offline catches up both ways when it is back.
import { expect, test, type BrowserContext } from '@playwright/test';
import { item, openTab, put, seen, status, update } from '../browser-app/harness/pages.js';
import { startRelay, type RelayProcess } from '../browser-app/harness/relay.js';

let relay: RelayProcess;
let laptopContext: BrowserContext;
let phoneContext: BrowserContext;

test.beforeEach(async ({ browser }) => {
  relay = await startRelay();
  laptopContext = await browser.newContext();
  phoneContext = await browser.newContext();
});

test.afterEach(async () => {
  await laptopContext.close();
  await phoneContext.close();
  await relay.dispose();
});

test('a write on one device appears on the other; offline writes converge when back online', async () => {
  const laptop = await openTab(laptopContext, 'laptop', relay);
  const phone = await openTab(phoneContext, 'phone', relay);
  await expect(laptop.locator('#connection')).toHaveText('open');
  await expect(phone.locator('#connection')).toHaveText('open');

  await put(laptop, 'greeting', { text: 'hi from the laptop' });
  await expect(phone.locator('#items')).toContainText('hi from the laptop');
  expect((await relay.health()).position).toBe(1);

  // The laptop goes offline; both keep writing, to their own documents and to a shared one.
  await laptopContext.setOffline(true);
  await expect(laptop.locator('#online')).toHaveText('false');
  await expect(laptop.locator('#connection')).not.toHaveText('open');
  await put(laptop, 'written-offline', { by: 'laptop' });
  await update(laptop, 'greeting', { laptop: 1, text: 'laptop edit' });
  await put(phone, 'written-meanwhile', { by: 'phone' });
  await update(phone, 'greeting', { phone: 2, text: 'phone edit' });
  // The phone's two commits reach the relay; the laptop's do not, nor does anything reach it.
  await expect.poll(async () => (await relay.health()).position).toBe(3);
  expect(await item(laptop, 'written-meanwhile')).toBeUndefined();
  expect((await status(laptop))?.connection).not.toBe('open');

  await laptopContext.setOffline(false);
  await expect(laptop.locator('#online')).toHaveText('true');
  await expect(laptop.locator('#connection')).toHaveText('open', { timeout: 10_000 });
  // Both ways, to the same state: every document, and both field edits of the shared one (the
  // conflicting `text` resolved the same way on both).
  const ids = ['greeting', 'written-meanwhile', 'written-offline'];
  for (const device of [laptop, phone]) {
    await expect.poll(async () => (await seen(device)).map((d) => d._id), { timeout: 15_000 }).toEqual(ids);
    await expect.poll(() => item(device, 'greeting')).toMatchObject({ laptop: 1, phone: 2 });
  }
  expect(await seen(laptop)).toEqual(await seen(phone));
  expect(['laptop edit', 'phone edit']).toContain((await item(phone, 'greeting'))?.['text']);
});
