/**
 * The root of every error Atoll throws. `name` is set on every subclass so errors stay
 * recognisable after crossing a `structuredClone`, a worker or a log line.
 */
export class AtollError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input that does not have the shape Atoll expects: a bad id, a bad filter, a bad message. */
export class ValidationError extends AtollError {
  /** Where in the input the problem is, as a dotted path (`parts.0.key`), or '' for the root. */
  readonly path: string;
  constructor(message: string, path = '', options?: ErrorOptions) {
    super(path ? `${message} (at ${path})` : message, options);
    this.path = path;
  }
}

/** Thrown by {@link assert} when an internal invariant does not hold: always a bug in Atoll. */
export class InvariantError extends AtollError {}

/**
 * Checks an invariant. The message is built lazily so that hot paths pay nothing for it.
 *
 * @example
 * assert(pos > lastPos, () => `log position went backwards: ${pos} <= ${lastPos}`);
 */
export function assert(condition: unknown, message: () => string): asserts condition {
  if (!condition) throw new InvariantError(message());
}

/** Marks the end of an exhaustive `switch`; the compiler rejects a missing case. */
export function unreachable(value: never): never {
  throw new InvariantError(`unreachable: ${JSON.stringify(value)}`);
}
