// The demo's shared ledger (apps/demo/ledger, served by the relay): a real app on
// @atoll/browser. Two browser contexts are two devices meeting through the relay; two pages
// of one context are two tabs of one browser.
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';

/**
 * Console errors and page errors fail the test. Chromium itself logs a failed WebSocket
 * attempt as a console error; `allowOffline` accepts exactly that, for the test that takes a
 * device offline on purpose.
 */
function watchConsole(page: Page, problems: string[], allowOffline: boolean): void {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (allowOffline && /^WebSocket connection to '.*\/sync' failed: .*ERR_INTERNET_DISCONNECTED/.test(m.text())) return;
    problems.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
}

interface Device {
  readonly context: BrowserContext;
  readonly page: Page;
}

const opened: BrowserContext[] = [];
let problems: string[] = [];

test.beforeEach(() => {
  problems = [];
});

test.afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
  expect(problems, 'console errors and page errors').toEqual([]);
});

async function openTab(context: BrowserContext, allowOffline = false): Promise<Page> {
  const page = await context.newPage();
  watchConsole(page, problems, allowOffline);
  await page.goto('/ledger/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Shared ledger');
  return page;
}

/** A device: a browser context of its own (its own IndexedDB), with the ledger open and in sync. */
async function device(browser: Browser, allowOffline = false): Promise<Device> {
  const context = await browser.newContext();
  opened.push(context);
  const page = await openTab(context, allowOffline);
  await expect(status(page)).toContainText('Online, in sync');
  return { context, page };
}

const status = (page: Page) => page.getByTestId('sync-status');
const entries = (page: Page) => page.getByTestId('entry');
const unique = (what: string) => `${what} ${Math.random().toString(36).slice(2, 8)}`;

async function addExpense(page: Page, description: string, amount: string, paidBy: string): Promise<void> {
  await page.getByLabel('What for').fill(description);
  await page.getByLabel('Amount').fill(amount);
  await page.getByLabel('Paid by').fill(paidBy);
  await page.getByRole('button', { name: 'Add entry' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Added “${description}”.` })).toBeVisible();
}

test('two devices share the ledger through the relay', async ({ browser }, testInfo) => {
  const ann = await device(browser);
  const bob = await device(browser);
  await expect(ann.page.getByTestId('tab-role')).toHaveText('This tab holds the relay connection for this browser.');

  const groceries = unique('Groceries');
  await addExpense(ann.page, groceries, '42.50', 'Ann');
  await expect(entries(bob.page).filter({ hasText: groceries })).toContainText('42.50');

  const tickets = unique('Train tickets');
  await addExpense(bob.page, tickets, '18', 'Bob');
  await expect(entries(ann.page).filter({ hasText: tickets })).toContainText('18.00');
  // Both devices converge on the same ledger and the same total.
  await expect(entries(ann.page)).toHaveCount(await entries(bob.page).count());
  await expect(ann.page.getByTestId('total')).toHaveText((await bob.page.getByTestId('total').textContent()) ?? '');

  // A deletion travels too.
  await entries(bob.page).filter({ hasText: groceries }).getByRole('button', { name: `Delete “${groceries}”` }).click();
  await expect(entries(ann.page).filter({ hasText: groceries })).toHaveCount(0);

  const path = testInfo.outputPath('ledger-two-devices.png');
  await ann.page.screenshot({ path, fullPage: true });
  await testInfo.attach('ledger-two-devices', { path, contentType: 'image/png' });
});

test('a device that goes offline keeps working and catches up when back online', async ({ browser }, testInfo) => {
  const ann = await device(browser, true);
  const bob = await device(browser);

  await ann.context.setOffline(true);
  await expect(status(ann.page)).toContainText('Offline');
  const coffee = unique('Coffee');
  await addExpense(ann.page, coffee, '3.20', 'Ann');
  await expect(entries(ann.page).filter({ hasText: coffee })).toContainText('3.20');
  const path = testInfo.outputPath('ledger-offline.png');
  await ann.page.screenshot({ path, fullPage: true });
  await testInfo.attach('ledger-offline', { path, contentType: 'image/png' });

  await ann.context.setOffline(false);
  await expect(status(ann.page)).toContainText('Online, in sync');
  await expect(entries(bob.page).filter({ hasText: coffee })).toContainText('3.20');
});

test('two tabs of one browser share one connection, and hand it over when the leader closes', async ({ browser }) => {
  const ann = await device(browser);
  const second = await openTab(ann.context);
  await expect(second.getByTestId('tab-role')).toHaveText('Another tab of this browser holds the relay connection; this tab shares its data.');
  await expect(status(second)).toContainText('Online, in sync');
  const bob = await device(browser);

  // A write in the follower tab reaches the other tab at once, and the other device through the leader.
  const lunch = unique('Lunch');
  await addExpense(second, lunch, '25', 'Ann');
  await expect(entries(ann.page).filter({ hasText: lunch })).toBeVisible();
  await expect(entries(bob.page).filter({ hasText: lunch })).toBeVisible();

  // The leader tab closes: the other tab takes the connection over and keeps syncing.
  await ann.page.close();
  await expect(second.getByTestId('tab-role')).toHaveText('This tab holds the relay connection for this browser.');
  await expect(status(second)).toContainText('Online, in sync');
  const dinner = unique('Dinner');
  await addExpense(bob.page, dinner, '31', 'Bob');
  await expect(entries(second).filter({ hasText: dinner })).toBeVisible();
});
