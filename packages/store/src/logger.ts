/**
 * Where the store reports what it wants a human to see: long transactions, writers stuck on the
 * write lock, callbacks that threw. Pluggable so that apps route it into their own logging (and
 * tests record it); every message is one readable sentence, with machine-readable `fields`.
 */
export interface Logger {
  /** Detail worth having when investigating, e.g. the first report of a long transaction. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Noteworthy but normal, e.g. a long transaction reported a second time. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Likely trouble, e.g. a writer waiting too long for the write lock (a possible deadlock). */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something failed or is stuck, e.g. a live query callback that threw, or a transaction running far too long. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * One of the four levels of a {@link Logger}, in rising order of urgency: `debug`, `info`,
 * `warn`, `error`. Long-transaction reports climb through them in this order.
 */
export type LogLevel = keyof Logger;

/** The default logger: the console, with an `[atoll]` prefix so the store's lines stand out. */
export const consoleLogger: Logger = {
  debug: (m, f) => console.debug(`[atoll] ${m}`, ...(f ? [f] : [])),
  info: (m, f) => console.info(`[atoll] ${m}`, ...(f ? [f] : [])),
  warn: (m, f) => console.warn(`[atoll] ${m}`, ...(f ? [f] : [])),
  error: (m, f) => console.error(`[atoll] ${m}`, ...(f ? [f] : [])),
};

/** Logs nothing: for tests and for apps that watch the store some other way. */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
