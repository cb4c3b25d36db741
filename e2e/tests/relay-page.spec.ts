import { expect, test } from '@playwright/test';

// The e2e relay serves the demo at `/` (--static), so its own page is at /status.
test('the relay serves a page a person can open', async ({ page, request, baseURL }) => {
  await page.goto('/status');
  await expect(page.getByRole('heading', { name: 'Atoll relay' })).toBeVisible();
  await expect(page.locator('#status')).toHaveText('The relay is running.');
  const health = await request.get('/healthz');
  expect(health.ok()).toBe(true);
  const body = (await health.json()) as { status: string; peerId: string; connections: number; position: number };
  expect(body).toMatchObject({ status: 'ok', connections: expect.any(Number), position: expect.any(Number) });
  // The page names the relay and tells a person where peers connect.
  await expect(page.locator('#peer-id')).toHaveText(body.peerId);
  await expect(page.locator('#sync-url')).toHaveText(`${(baseURL ?? '').replace('http://', 'ws://')}/sync`);
  await page.getByRole('link', { name: '/metrics' }).click();
  await expect(page.locator('body')).toContainText('# TYPE atoll_relay_connections gauge');
});
