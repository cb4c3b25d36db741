import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Store, type Logger, type LogLevel } from '../src/index.js';

interface Line {
  level: LogLevel;
  message: string;
}

function recordingLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: LogLevel) => (message: string) => lines.push({ level, message });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('long transactions are logged by hint at rising levels', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('after transactionDurationBeforeLoggingMs, then every transactionTraceIntervalMs: debug, info, warn, error, error', async () => {
    const { logger, lines } = recordingLogger();
    const store = await Store.open({ logger });
    let finish!: () => void;
    const running = store.transaction(() => new Promise<void>((r) => (finish = r)), { hint: 'import contacts' });
    await vi.advanceTimersByTimeAsync(9_999);
    expect(lines).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(5_000 * 4);
    expect(lines.map((l) => l.level)).toEqual(['debug', 'info', 'warn', 'error', 'error']);
    expect(lines[0]!.message).toBe("read-write transaction 'import contacts' has been running for 10000 ms");
    expect(lines[4]!.message).toContain('30000 ms');
    finish();
    await running;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(lines.length).toBe(5);
    await store.close();
  });

  it('honours custom thresholds and read-only transactions', async () => {
    const { logger, lines } = recordingLogger();
    const store = await Store.open({ logger, transactionDurationBeforeLoggingMs: 100, transactionTraceIntervalMs: 50 });
    let finish!: () => void;
    const running = store.transaction(() => new Promise<void>((r) => (finish = r)), { hint: 'report', readOnly: true });
    await vi.advanceTimersByTimeAsync(200);
    expect(lines.map((l) => l.level)).toEqual(['debug', 'info', 'warn']);
    expect(lines[0]!.message).toBe("read-only transaction 'report' has been running for 100 ms");
    finish();
    await running;
    await store.close();
  });

  it("the lock watchdog names the holder's hint when a writer waits too long", async () => {
    const { logger, lines } = recordingLogger();
    const store = await Store.open({ logger, lockWatchdogMs: 1_000, transactionDurationBeforeLoggingMs: Infinity });
    let finish!: () => void;
    const holder = store.transaction(() => new Promise<void>((r) => (finish = r)), { hint: 'holder' });
    const waiter = store.transaction(() => 'ran', { hint: 'waiter' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn' });
    expect(lines[0]!.message).toMatch(/transaction 'waiter' has waited 1000 ms for the write lock, held by transaction 'holder'/);
    finish();
    await holder;
    expect(await waiter).toBe('ran');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(lines).toHaveLength(1);
    await store.close();
  });
});
