import { afterEach, describe, expect, it, vi } from 'vitest';
import { ValidationError } from '@atoll/protocol';
import { createMemoryTransportPair, type MemoryTransport } from '../src/transport/memory.js';
import { TransportClosedError, type CloseInfo } from '../src/transport/transport.js';
import { runTransportTests } from '../src/testing/index.js';

runTransportTests('memory', { pair: async () => createMemoryTransportPair() });
runTransportTests('memory, 1 ms latency', { pair: async () => createMemoryTransportPair({ latencyMs: 1 }) });

/** Everything an end delivers, in order: message bytes as arrays, closes as CloseInfo. */
function record(t: MemoryTransport): (number[] | CloseInfo)[] {
  const log: (number[] | CloseInfo)[] = [];
  t.onMessage((m) => log.push([...m]));
  t.onClose((info) => log.push(info));
  return log;
}

/** Runs every queued microtask and one timer turn: enough for anything the memory transport has due. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('memory transport', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers on a microtask: not inside send, but before any timer', async () => {
    const [a, b] = createMemoryTransportPair();
    const log = record(b);
    a.send(new Uint8Array([1]));
    expect(log).toEqual([]);
    let timerRan = false;
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        timerRan = true;
        resolve();
      }, 0),
    );
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual([[1]]);
    expect(timerRan).toBe(false);
    await timer;
  });

  it('copies on send: changing the buffer afterwards changes nothing that arrives', async () => {
    const [a, b] = createMemoryTransportPair();
    const log = record(b);
    const buffer = new Uint8Array([1, 2, 3]);
    a.send(buffer);
    buffer.fill(9);
    await settle();
    expect(log).toEqual([[1, 2, 3]]);
  });

  it('pause(): messages queue up, the sender’s bufferedAmount grows; resume() delivers them in order', async () => {
    const [a, b] = createMemoryTransportPair();
    const log = record(b);
    b.pause();
    expect(b.paused).toBe(true);
    a.send(new Uint8Array(10));
    a.send(new Uint8Array([7]));
    a.send(new Uint8Array(0));
    await settle();
    expect(log).toEqual([]);
    expect(a.bufferedAmount).toBe(11);
    for (let i = 0; i < 1000; i++) a.send(new Uint8Array(100));
    expect(a.bufferedAmount).toBe(11 + 100_000);
    expect(b.bufferedAmount).toBe(0);
    b.resume();
    expect(b.paused).toBe(false);
    await settle();
    expect(log).toHaveLength(1003);
    expect(log.slice(0, 3)).toEqual([new Array(10).fill(0), [7], []]);
    expect(a.bufferedAmount).toBe(0);
  });

  it('pause() holds a close behind the queued messages; the closer learns of its own close at once', async () => {
    const [a, b] = createMemoryTransportPair();
    const logA = record(a);
    const logB = record(b);
    b.pause();
    a.send(new Uint8Array([1]));
    a.close(4000, 'done');
    await settle();
    expect(logA).toEqual([{ code: 4000, reason: 'done', local: true }]);
    expect(logB).toEqual([]);
    expect(b.closed).toBe(false);
    b.resume();
    await settle();
    expect(logB).toEqual([[1], { code: 4000, reason: 'done', local: false }]);
    expect(b.closed).toBe(true);
  });

  it('kill(): both ends close with 1006 at once, and what was in flight is lost', async () => {
    const [a, b] = createMemoryTransportPair();
    const logA = record(a);
    const logB = record(b);
    b.pause();
    a.send(new Uint8Array([1, 2]));
    b.send(new Uint8Array([3]));
    a.kill();
    expect(a.closed).toBe(true);
    expect(b.closed).toBe(true);
    expect(a.bufferedAmount).toBe(0);
    expect(() => a.send(new Uint8Array([4]))).toThrow(TransportClosedError);
    expect(() => b.send(new Uint8Array([4]))).toThrow(TransportClosedError);
    b.kill();
    a.close(4000, 'ignored');
    b.resume();
    await settle();
    expect(logA).toEqual([{ code: 1006, reason: '', local: false }]);
    expect(logB).toEqual([{ code: 1006, reason: '', local: false }]);
  });

  it('kill() after one end closed: the other, which had not heard yet, sees 1006', async () => {
    const [a, b] = createMemoryTransportPair();
    const logA = record(a);
    const logB = record(b);
    b.pause();
    a.close(4000, 'bye');
    b.kill();
    b.resume();
    await settle();
    expect(logA).toEqual([{ code: 4000, reason: 'bye', local: true }]);
    expect(logB).toEqual([{ code: 1006, reason: '', local: false }]);
  });

  it('latencyMs delays each message and keeps the order', async () => {
    vi.useFakeTimers();
    const [a, b] = createMemoryTransportPair({ latencyMs: 20 });
    const log = record(b);
    a.send(new Uint8Array([1]));
    await vi.advanceTimersByTimeAsync(10);
    a.send(new Uint8Array([2]));
    await vi.advanceTimersByTimeAsync(9);
    expect(log).toEqual([]);
    expect(a.bufferedAmount).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual([[1]]);
    await vi.advanceTimersByTimeAsync(10);
    expect(log).toEqual([[1], [2]]);
    expect(a.bufferedAmount).toBe(0);
  });

  it('rejects a negative latency', () => {
    expect(() => createMemoryTransportPair({ latencyMs: -1 })).toThrow(ValidationError);
  });
});
