import { AtollError } from '@atoll/protocol';

/**
 * The relay's configuration cannot work: a bad flag or option, an unreadable or invalid
 * permissions file, a missing static directory. The message says which setting and what to
 * change; the CLI prints it and exits with status 2.
 */
export class RelayConfigError extends AtollError {}

/**
 * Another relay (in this process or another one) already uses the data directory. Two relays
 * writing one store would corrupt its log: stop the other relay, or give this one its own
 * `--data` directory. If no relay runs, the lock file is stale and may be removed.
 */
export class RelayDataDirLockedError extends AtollError {
  /** The lock file that is held. */
  readonly lockFile: string;
  constructor(lockFile: string, holder: string) {
    super(`the data directory is in use by ${holder} (lock file ${lockFile}); stop that relay or choose another --data directory`);
    this.lockFile = lockFile;
  }
}

/** The relay could not listen on its address: the port is taken, or the host is not an address of this machine. */
export class RelayListenError extends AtollError {
  /** `host:port` it tried to bind. */
  readonly address: string;
  constructor(address: string, options: { cause?: unknown } = {}) {
    const detail = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`cannot listen on ${address}${detail}; pick another --port or --host`, 'cause' in options ? { cause: options.cause } : undefined);
    this.address = address;
  }
}
