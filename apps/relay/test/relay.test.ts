import { afterEach, describe, expect, it } from 'vitest';
import { startRelay, type Relay } from '../src/index.js';

describe('relay http endpoints', () => {
  let relay: Relay | undefined;
  afterEach(async () => {
    await relay?.close();
    relay = undefined;
  });

  it('answers /healthz on loopback and 404 elsewhere', async () => {
    relay = await startRelay({ port: 0 });
    expect(relay.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${relay.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${relay.url}/nope`)).status).toBe(404);
  });
});
