// Opening fixture tabs from the Playwright tests and reading them.
import type { BrowserContext, Page } from '@playwright/test';
import type { BrowserPeerStatus } from '@atoll/browser';
import type { Doc } from '@atoll/store';
import type {} from '../src/api.js'; // declares window.atoll
import { appUrl, type RelayProcess } from './relay.js';

/** Opens a tab of profile `name` in `context` and waits for its peer to be open. */
export async function openTab(context: BrowserContext, name: string, relay?: RelayProcess): Promise<Page> {
  const page = await context.newPage();
  await page.goto(appUrl(name, relay));
  await waitForPeer(page);
  return page;
}

/** Waits for the page's peer (after a goto or reload); fails with the page's error if it could not open. */
export async function waitForPeer(page: Page): Promise<void> {
  await page.waitForFunction(() => window.atoll !== undefined || (document.getElementById('error')?.textContent ?? '') !== '');
  const error = await page.locator('#error').textContent();
  if (error) throw new Error(`the fixture page failed to open its peer: ${error}`);
}

/** Upserts `items/<id>` in the page's store. */
export function put(page: Page, id: string, fields: Record<string, unknown>): Promise<void> {
  return page.evaluate(([key, f]) => window.atoll?.put(key, f), [id, fields] as const);
}

/** Sets `fields` on the existing `items/<id>` in the page's store. */
export function update(page: Page, id: string, fields: Record<string, unknown>): Promise<void> {
  return page.evaluate(([key, f]) => window.atoll?.update(key, f), [id, fields] as const);
}

/** `items/<id>` as the page's store holds it now. */
export function item(page: Page, id: string): Promise<Doc | undefined> {
  return page.evaluate((key) => window.atoll?.get(key), id);
}

/** Every item the page's live query last showed, ordered by id. */
export function seen(page: Page): Promise<readonly Doc[]> {
  return page.evaluate(() => window.atoll?.seen ?? []);
}

/** The page's peer status. */
export function status(page: Page): Promise<BrowserPeerStatus | undefined> {
  return page.evaluate(() => window.atoll?.status());
}
