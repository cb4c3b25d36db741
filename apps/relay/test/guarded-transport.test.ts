import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeMessage, type ErrorMessage } from '@atoll/protocol';
import type { CloseInfo, Transport } from '@atoll/sync';
import { GuardedTransport, RATE_LIMITED_CLOSE_CODE, type RateLimitOptions } from '../src/index.js';

/** A transport driven by hand: `deliver` plays a frame from the peer. */
class FakeTransport implements Transport {
  readonly sent: Uint8Array[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  #onMessage: ((m: Uint8Array) => void) | undefined;
  #onClose: ((info: CloseInfo) => void) | undefined;
  bufferedAmount = 0;
  get closed(): boolean {
    return this.closedWith !== undefined;
  }
  send(message: Uint8Array): void {
    this.sent.push(message);
  }
  onMessage(handler: (m: Uint8Array) => void): void {
    this.#onMessage = handler;
  }
  onClose(handler: (info: CloseInfo) => void): void {
    this.#onClose = handler;
  }
  close(code?: number, reason?: string): void {
    if (this.closedWith) return;
    this.closedWith = { ...(code !== undefined ? { code } : {}), ...(reason !== undefined ? { reason } : {}) };
    this.#onClose?.({ code: code ?? 1000, reason: reason ?? '', local: true });
  }
  deliver(bytes: Uint8Array): void {
    this.#onMessage?.(bytes);
  }
  errors(): ErrorMessage[] {
    return this.sent.map((b) => decodeMessage(b, { maxBytes: 1 << 20 })).filter((m): m is ErrorMessage => m.type === 'error');
  }
}

const LIMIT: RateLimitOptions = { messagesPerSecond: 10, burst: 3, maxQueuedMessages: 5, maxQueuedBytes: 1000 };

function setup(limit: RateLimitOptions | false = LIMIT) {
  let now = 0;
  const inner = new FakeTransport();
  const frames: [string, number][] = [];
  const reports: boolean[] = [];
  const guarded = new GuardedTransport(inner, limit, { frame: (d, b) => frames.push([d, b]), rateLimited: (f) => reports.push(f) }, () => now);
  const got: number[] = [];
  guarded.onMessage((m) => got.push(m[0] ?? -1));
  return { inner, guarded, got, frames, reports, advance: (ms: number) => (now += ms) };
}

describe('GuardedTransport', () => {
  afterEach(() => void vi.useRealTimers());

  it('passes a burst through, then holds messages back in order, and warns once per episode', () => {
    vi.useFakeTimers();
    const { inner, guarded, got, reports, advance } = setup();
    for (let i = 0; i < 5; i++) inner.deliver(new Uint8Array([i]));
    expect(got).toEqual([0, 1, 2]);
    expect(guarded.queued).toBe(2);
    expect(inner.errors()).toMatchObject([{ kind: 'rate-limited', fatal: false, retryAfterMs: 100 }]);
    expect(reports).toEqual([false]);
    advance(100); // one token
    vi.advanceTimersByTime(100);
    expect(got).toEqual([0, 1, 2, 3]);
    advance(100);
    vi.advanceTimersByTime(100);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(guarded.queued).toBe(0);
    expect(inner.closed).toBe(false);
    expect(inner.errors()).toHaveLength(1);
    // A later episode warns again.
    for (let i = 5; i < 8; i++) inner.deliver(new Uint8Array([i]));
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(inner.errors()).toHaveLength(2);
  });

  it('closes a flooding peer with a fatal rate-limited error, and hands nothing on after that', () => {
    const { inner, guarded, got, reports } = setup();
    for (let i = 0; i < 3 + 5 + 1; i++) inner.deliver(new Uint8Array([i]));
    expect(got).toEqual([0, 1, 2]);
    expect(inner.errors().map((e) => [e.kind, e.fatal])).toEqual([
      ['rate-limited', false],
      ['rate-limited', true],
    ]);
    expect(inner.closedWith).toEqual({ code: RATE_LIMITED_CLOSE_CODE, reason: 'rate-limited' });
    expect(reports).toEqual([false, true]);
    expect(guarded.queued).toBe(0);
    inner.deliver(new Uint8Array([99]));
    expect(got).toEqual([0, 1, 2]);
  });

  it('also bounds the bytes held back', () => {
    const { inner } = setup();
    for (let i = 0; i < 3; i++) inner.deliver(new Uint8Array([i]));
    inner.deliver(new Uint8Array(600));
    expect(inner.closed).toBe(false);
    inner.deliver(new Uint8Array(600));
    expect(inner.closedWith?.code).toBe(RATE_LIMITED_CLOSE_CODE);
  });

  it('counts frames and bytes both ways; with the limit off it only counts', () => {
    const { inner, guarded, got, frames } = setup(false);
    for (let i = 0; i < 100; i++) inner.deliver(new Uint8Array([i, 0]));
    guarded.send(new Uint8Array(7));
    expect(got).toHaveLength(100);
    expect(frames.filter(([d]) => d === 'received')).toHaveLength(100);
    expect(frames.at(-1)).toEqual(['sent', 7]);
    expect(inner.sent).toHaveLength(1);
  });
});
