/** Where the store reports what it wants a human to see. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = keyof Logger;

/** Logs to the console with an `[atoll]` prefix. */
export const consoleLogger: Logger = {
  debug: (m, f) => console.debug(`[atoll] ${m}`, ...(f ? [f] : [])),
  info: (m, f) => console.info(`[atoll] ${m}`, ...(f ? [f] : [])),
  warn: (m, f) => console.warn(`[atoll] ${m}`, ...(f ? [f] : [])),
  error: (m, f) => console.error(`[atoll] ${m}`, ...(f ? [f] : [])),
};

/** Logs nothing. */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
