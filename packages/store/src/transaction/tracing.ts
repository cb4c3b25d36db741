import type { Logger, LogLevel } from '../logger.js';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * Logs a transaction that runs long: once after `firstMs`, then every `everyMs`, each time one
 * level louder (debug, info, warn, then error from there on), always naming its hint.
 * Returns the function that stops it.
 */
export function traceLongTransaction(
  logger: Logger,
  describe: () => { id: string; hint: string | undefined; readOnly: boolean; startedAt: number },
  firstMs: number,
  everyMs: number,
): () => void {
  if (!(firstMs >= 0) || !Number.isFinite(firstMs)) return () => {};
  let count = 0;
  let interval: ReturnType<typeof setInterval> | undefined;
  const log = () => {
    const info = describe();
    const level = LEVELS[Math.min(count, LEVELS.length - 1)] as LogLevel;
    count++;
    const elapsed = Date.now() - info.startedAt;
    logger[level](
      `${info.readOnly ? 'read-only' : 'read-write'} transaction ${info.hint ? `'${info.hint}'` : '(no hint)'} has been running for ${elapsed} ms`,
      { id: info.id, hint: info.hint, elapsedMs: elapsed },
    );
  };
  const first = setTimeout(() => {
    log();
    if (everyMs > 0 && Number.isFinite(everyMs)) {
      interval = setInterval(log, everyMs);
      (interval as { unref?: () => void }).unref?.();
    }
  }, firstMs);
  (first as { unref?: () => void }).unref?.();
  return () => {
    clearTimeout(first);
    if (interval !== undefined) clearInterval(interval);
  };
}
