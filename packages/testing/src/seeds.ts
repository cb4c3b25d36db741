import { ValidationError } from '@atoll/protocol';

/** fast-check parameters of a property run, from the environment. */
export interface PropertyParameters {
  /** `ATOLL_SEED`, or a fresh random seed (printed when the property fails). */
  readonly seed: number;
  /** `ATOLL_RUNS`, or the test's default. */
  readonly numRuns: number;
  /** `ATOLL_PATH`: replay a shrunk counterexample directly. */
  readonly path: string | undefined;
}

/**
 * Reads `ATOLL_SEED`, `ATOLL_RUNS` and `ATOLL_PATH`. Without `ATOLL_SEED` each run explores new
 * cases from a random seed; a failure prints the seed, so it replays.
 */
export function propertyParameters(defaultRuns: number, env: Record<string, string | undefined> = process.env): PropertyParameters {
  const runs = env['ATOLL_RUNS'];
  const seed = env['ATOLL_SEED'];
  const numRuns = runs === undefined || runs === '' ? defaultRuns : Number(runs);
  if (!Number.isSafeInteger(numRuns) || numRuns < 1) throw new ValidationError(`ATOLL_RUNS must be a positive integer, got ${JSON.stringify(runs)}`, 'ATOLL_RUNS');
  return { seed: seed === undefined || seed === '' ? randomSeed() : parseSeed(seed), numRuns, path: env['ATOLL_PATH'] || undefined };
}

/**
 * The seed of a single seeded run (a network outside a property): `ATOLL_SEED` if set, else
 * `fallback`. Use it in your own tests so a failure replays:
 *
 * @example
 * const seed = seedFromEnv(1234);
 * const net = createNetwork({ seed });
 * // on failure: console.log(replayCommand({ seed, file: 'test/my.test.ts', name: 'my test' }))
 */
export function seedFromEnv(fallback: number, env: Record<string, string | undefined> = process.env): number {
  const seed = env['ATOLL_SEED'];
  return seed === undefined || seed === '' ? fallback : parseSeed(seed);
}

/** What identifies a run to replay. */
export interface ReplayTarget {
  readonly seed: number | string;
  /** fast-check's counterexample path, to replay the shrunk case directly. */
  readonly path?: string | undefined;
  /** The test file, relative to the package. */
  readonly file: string;
  /** The test's name (for `-t`). */
  readonly name?: string;
  /** Vitest project. Default `testing`. */
  readonly project?: string;
}

/** The shell command that replays a run, from the repository root. */
export function replayCommand(target: ReplayTarget): string {
  const env = [`ATOLL_SEED=${String(target.seed)}`, ...(target.path ? [`ATOLL_PATH=${target.path}`] : []), 'ATOLL_RUNS=1'];
  const file = target.file.startsWith('packages/') ? target.file : `packages/${target.project ?? 'testing'}/${target.file}`;
  const name = target.name === undefined ? '' : ` -t ${shellQuote(target.name)}`;
  return `${env.join(' ')} npx vitest run --project ${target.project ?? 'testing'} ${file}${name}`;
}

function parseSeed(text: string): number {
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new ValidationError(`ATOLL_SEED must be an integer, got ${JSON.stringify(text)}`, 'ATOLL_SEED');
  return seed;
}

function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
