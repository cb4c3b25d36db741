import { expect, test } from '@playwright/test';

test('the relay serves a page a person can open', async ({ page, request }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Atoll relay' })).toBeVisible();
  await expect(page.locator('#status')).toHaveText('The relay is running.');
  const health = await request.get('/healthz');
  expect(health.ok()).toBe(true);
  expect(await health.json()).toEqual({ status: 'ok' });
});
