// The demo's caveats lab (apps/demo, served by the relay at /): Ditto's two scenarios, each in
// eventual and in atomic mode, driven through the page as a person would, asserting what the
// page shows. Screenshots of every preset are attached to the tests (test-results/…/*.png).
import { expect, test as base, type Locator, type Page, type TestInfo } from '@playwright/test';

/** Every test fails on a console error or an uncaught page error. */
const test = base.extend<{ consoleProblems: string[] }>({
  consoleProblems: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await use(problems);
      expect(problems, 'console errors and page errors').toEqual([]);
    },
    { auto: true },
  ],
});

type Mode = 'eventual' | 'atomic';

const peer = (page: Page, n: 1 | 2 | 3): Locator => page.locator(`#peer-${n}`);
const invariant = (page: Page, n: 1 | 2 | 3): Locator => page.getByTestId(`invariant-${n}`);
const account = (page: Page, n: 1 | 2 | 3, a: 'A' | 'B'): Locator => page.getByTestId(`peer-${n}-account-${a}`);
const tornCount = (page: Page, n: 1 | 2 | 3): Locator => page.getByTestId(`torn-count-${n}`);
const preset = (page: Page, n: 1 | 2): Locator => page.getByRole('article', { name: new RegExp(`^Scenario ${n}:`) });

/** Opens the lab and waits until its three peers are up (peer 1 has opened the accounts). */
async function openLab(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('When a peer gets only part of a transaction');
  await expect(invariant(page, 1)).toHaveAttribute('data-state', 'balanced');
}

/**
 * Records, in the page, every state peer `n`'s invariant shows from now on (a MutationObserver
 * on its `data-state`), so a test can assert what was never shown, not just what is shown now.
 */
async function recordInvariant(page: Page, n: 1 | 2 | 3): Promise<() => Promise<string[]>> {
  await page.evaluate((index) => {
    const el = document.querySelector<HTMLElement>(`[data-testid="invariant-${index}"]`);
    if (!el) throw new Error('no invariant');
    const seen: string[] = [el.dataset['state'] ?? ''];
    (window as unknown as Record<string, string[]>)[`invariantStates${index}`] = seen;
    new MutationObserver(() => seen.push(el.dataset['state'] ?? '')).observe(el, { attributes: true, attributeFilter: ['data-state'] });
  }, n);
  return () => page.evaluate((index) => (window as unknown as Record<string, string[]>)[`invariantStates${index}`] ?? [], n);
}

async function runPreset(page: Page, n: 1 | 2, mode: Mode): Promise<void> {
  await preset(page, n).getByRole('button', { name: `Run in ${mode} mode` }).click();
  await expect(preset(page, n).getByRole('status')).toContainText(`Step 1 done (${mode} mode)`);
}

async function stepTwo(page: Page, n: 1 | 2): Promise<void> {
  const button = preset(page, n).getByRole('button', { name: n === 1 ? 'Widen peer 2 to B' : 'Mitigate: link peer 3 to peer 1' });
  await expect(button).toBeEnabled();
  await button.click();
  await expect(preset(page, n).getByRole('status')).toContainText('Done');
}

async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

test.describe('scenario 1: a subscription that widens', () => {
  for (const mode of ['eventual', 'atomic'] as const) {
    test(`${mode}: peer 2 receives only A, then B through back-fill after widening`, async ({ page }, testInfo) => {
      await openLab(page);
      await runPreset(page, 1, mode);

      // Step 1: peer 2 subscribes to A only and receives only A's parts.
      await expect(account(page, 2, 'A').locator('.balance')).toHaveText('70');
      await expect(account(page, 2, 'B')).toContainText('not subscribed');
      await expect(invariant(page, 2)).toHaveAttribute('data-state', 'one-account');
      const deliveries = peer(page, 2).getByTestId('delivery');
      await expect(deliveries).toHaveCount(2);
      await expect(deliveries.first()).toContainText('“transfer 30 from A to B”');
      await expect(deliveries.first()).toContainText('B: not subscribed');
      // Within its subscription peer 2 holds everything: not a tear.
      await expect(peer(page, 2).getByRole('region', { name: /Torn transactions/ })).toContainText('None.');
      await screenshot(page, testInfo, `scenario-1-${mode}-1-narrow`);

      // Step 2: widen to B; B's part of both transactions arrives later, through back-fill.
      const states = await recordInvariant(page, 2);
      await stepTwo(page, 1);
      await expect(account(page, 2, 'B').locator('.balance')).toHaveText('130');
      await expect(invariant(page, 2)).toHaveAttribute('data-state', 'balanced');
      await expect(deliveries.filter({ hasText: 'back-fill' })).toHaveCount(2);
      await screenshot(page, testInfo, `scenario-1-${mode}-2-widened`);

      if (mode === 'eventual') {
        // B's history arrives one transaction at a time: for one commit peer 2 showed A after
        // the transfer next to B before it, a total no transaction produced.
        await expect(tornCount(page, 2)).not.toHaveAttribute('data-count', '0');
        await expect(tornCount(page, 2)).toContainText('last: A 70 · B 100');
      } else {
        await expect(tornCount(page, 2)).toHaveAttribute('data-count', '0');
        expect(await states()).not.toContain('torn');
      }
    });
  }
});

test.describe('scenario 2: a narrow peer relays to a broad one', () => {
  test('eventual: peer 3 shows A without B, torn and reported, until it is linked to peer 1', async ({ page }, testInfo) => {
    await openLab(page);
    await runPreset(page, 2, 'eventual');

    await expect(account(page, 3, 'A').locator('.balance')).toHaveText('70');
    await expect(account(page, 3, 'B')).toContainText('not received');
    await expect(invariant(page, 3)).toHaveAttribute('data-state', 'torn');
    await expect(invariant(page, 3)).toContainText('Torn. Shows A without B.');
    await expect(tornCount(page, 3)).not.toHaveAttribute('data-count', '0');
    // torn() lists both transactions, B missing because peer 2 never had it.
    const torn = peer(page, 3).getByRole('region', { name: /Torn transactions/ }).getByRole('listitem');
    await expect(torn).toHaveCount(2);
    await expect(torn.nth(0)).toContainText('missing B (sender lacks it)');
    // The delivery from peer 2 names the omitted part and why.
    const fromPeer2 = peer(page, 3).getByTestId('delivery').filter({ hasText: 'from peer 2' });
    await expect(fromPeer2).toHaveCount(2);
    await expect(fromPeer2.first()).toContainText('B: sender lacks it');
    await expect(fromPeer2.first()).toContainText('applied → torn');
    // Eventual mode holds nothing back.
    await expect(peer(page, 3).getByRole('region', { name: /Held back/ })).toContainText('Nothing held');
    await screenshot(page, testInfo, 'scenario-2-eventual-1-torn');

    // The mitigation: link peer 3 to a broad peer; the tears heal.
    await stepTwo(page, 2);
    await expect(account(page, 3, 'B').locator('.balance')).toHaveText('130');
    await expect(invariant(page, 3)).toHaveAttribute('data-state', 'balanced');
    await expect(peer(page, 3).getByRole('region', { name: /Torn transactions/ })).toContainText('None.');
    await screenshot(page, testInfo, 'scenario-2-eventual-2-mitigated');
  });

  test('atomic: peer 3 never shows A without B; it holds both transactions, then shows them whole once linked to peer 1', async ({ page }, testInfo) => {
    await openLab(page);
    const states = await recordInvariant(page, 3);
    await runPreset(page, 2, 'atomic');

    // Nothing shown rather than half: both transactions are held, invisible.
    await expect(invariant(page, 3)).toHaveAttribute('data-state', 'empty');
    await expect(account(page, 3, 'A')).toContainText('held back, invisible');
    await expect(account(page, 3, 'A').locator('.balance')).toHaveText('—');
    const held = peer(page, 3).getByRole('region', { name: /Held back/ }).getByRole('listitem');
    await expect(held).toHaveCount(2);
    await expect(held.nth(0)).toContainText('“open A and B (100 each)” waits for its missing part: has A, missing B (sender lacks it)');
    await expect(held.nth(1)).toContainText('Peer 2 answered “unavailable”');
    await expect(held.nth(1).getByRole('button', { name: /^Release “transfer 30 from A to B” on peer 3/ })).toBeVisible();
    await expect(peer(page, 3).getByTestId('delivery').filter({ hasText: 'from peer 2' }).first()).toContainText('held back, invisible');
    await expect(peer(page, 3).getByRole('region', { name: /Torn transactions/ })).toContainText('None.');
    await screenshot(page, testInfo, 'scenario-2-atomic-1-held');

    // The mitigation: linked to peer 1, each transaction becomes visible whole.
    await stepTwo(page, 2);
    await expect(account(page, 3, 'A').locator('.balance')).toHaveText('70');
    await expect(account(page, 3, 'B').locator('.balance')).toHaveText('130');
    await expect(invariant(page, 3)).toHaveAttribute('data-state', 'balanced');
    await expect(peer(page, 3).getByRole('region', { name: /Held back/ })).toContainText('Nothing held.');
    await screenshot(page, testInfo, 'scenario-2-atomic-2-mitigated');

    await expect(tornCount(page, 3)).toHaveAttribute('data-count', '0');
    expect(await states()).not.toContain('torn');
  });

  test('atomic: releasing held work shows its parts, reported as torn', async ({ page }) => {
    await openLab(page);
    await runPreset(page, 2, 'atomic');
    const heldRegion = peer(page, 3).getByRole('region', { name: /Held back/ });
    await heldRegion.getByRole('button', { name: /^Release “open A and B \(100 each\)”/ }).click();
    await expect(account(page, 3, 'A').locator('.balance')).toHaveText('100');
    await expect(invariant(page, 3)).toHaveAttribute('data-state', 'torn');
    await expect(peer(page, 3).getByRole('region', { name: /Torn transactions/ }).getByRole('listitem')).toHaveCount(1);
    await expect(heldRegion.getByRole('listitem')).toHaveCount(1);
  });
});

test('the lab is usable with the keyboard alone, and every control has a name', async ({ page }) => {
  await openLab(page);
  // The first Tab reaches the skip link, which moves focus to the content.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('main')).toBeFocused();
  // Tab order follows the page: the first control in the content is scenario 1's first button.
  await page.keyboard.press('Tab');
  await expect(preset(page, 1).getByRole('button', { name: 'Run in eventual mode' })).toBeFocused();

  // Run scenario 2 in atomic mode and mitigate it from the keyboard.
  const atomic2 = preset(page, 2).getByRole('button', { name: 'Run in atomic mode' });
  await atomic2.focus();
  await page.keyboard.press('Enter');
  await expect(preset(page, 2).getByRole('status')).toContainText('Step 1 done (atomic mode)');
  await page.keyboard.press('Tab');
  await expect(preset(page, 2).getByRole('button', { name: 'Mitigate: link peer 3 to peer 1' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(invariant(page, 3)).toHaveAttribute('data-state', 'balanced');

  // Switches and checkboxes toggle with Space.
  const link13 = page.getByRole('switch', { name: 'Peer 1 ↔ peer 3' });
  await expect(link13).toBeChecked();
  await link13.focus();
  await page.keyboard.press('Space');
  await expect(link13).not.toBeChecked();
  await expect(peer(page, 3)).toContainText('Linked to peer 2');

  // Invariants are live regions, so their changes are read out.
  for (const n of [1, 2, 3] as const) await expect(invariant(page, n)).toHaveRole('status');
  for (const control of await page.locator('main').locator('button, input, select').all()) {
    await expect(control).toHaveAccessibleName(/\S/);
  }
});

test('your own experiment: unsubscribe peer 2 from B, transfer, and peer 3 is torn', async ({ page }) => {
  await openLab(page);
  await expect(invariant(page, 3)).toHaveAttribute('data-state', 'balanced');
  const received = Number(await peer(page, 1).getAttribute('data-subscriptions-received'));
  await peer(page, 2).getByRole('checkbox', { name: 'Account B' }).uncheck();
  await expect(invariant(page, 2)).toHaveAttribute('data-state', 'one-account');
  // The new subscription travels to peer 1 over a link with the lab's 300 ms latency: a transfer
  // made before it arrives is still shipped whole to peer 2 (which then relays all of it).
  await expect(peer(page, 1)).toHaveAttribute('data-subscriptions-received', String(received + 1));
  await page.getByRole('spinbutton', { name: 'Amount' }).fill('45');
  await page.getByRole('button', { name: 'Transfer from A to B on peer 1' }).click();
  await expect(account(page, 1, 'A').locator('.balance')).toHaveText('55');
  await expect(account(page, 3, 'A').locator('.balance')).toHaveText('55');
  // Peer 3 keeps B from before the transfer: A + B is no longer 200.
  await expect(account(page, 3, 'B').locator('.balance')).toHaveText('100');
  await expect(invariant(page, 3)).toHaveAttribute('data-state', 'torn');
  await expect(invariant(page, 3)).toContainText('A + B = 155');
  // Too much is refused, in words.
  await page.getByRole('spinbutton', { name: 'Amount' }).fill('500');
  await page.getByRole('button', { name: 'Transfer from A to B on peer 1' }).click();
  await expect(page.getByRole('alert')).toHaveText('Account A holds only 55 at peer 1: it cannot send 500.');
});
