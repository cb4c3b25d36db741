import { ValidationError } from '@atoll/protocol';

/** A run's seed: an integer, or any string (hashed). The same seed takes the same path. */
export type Seed = number | string;

/**
 * A small, fast, seeded pseudo-random generator (sfc32, seeded through splitmix32). Every random
 * choice the harness makes — latencies, tie-breaks between simultaneous events, interleavings,
 * reconnection delays, workload operations — comes from one of these, so a seed replays.
 *
 * Streams are split by purpose with {@link Random.fork}: the network, each workload and each
 * peer draw from their own stream, so adding a draw in one place does not shift every other
 * choice of the run.
 *
 * @example
 * const rng = new Random(42);
 * rng.int(1, 6);            // a die roll, the same for seed 42 every time
 * rng.pick(['a', 'b']);     // one of them
 * const net = rng.fork('network'); // an independent stream, also determined by 42
 */
export class Random {
  readonly seed: Seed;
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: Seed) {
    this.seed = seed;
    let h = hashSeed(seed);
    const next = () => {
      h = (h + 0x9e3779b9) | 0;
      let z = h;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next() | 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A float in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    if (!(Number.isSafeInteger(min) && Number.isSafeInteger(max) && min <= max)) throw new ValidationError(`bad range [${min}, ${max}]`, 'range');
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A float in [min, max). */
  float(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new ValidationError('cannot pick from an empty list', 'items');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  /** `count` distinct elements, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    return this.shuffle(items).slice(0, Math.max(0, Math.min(count, items.length)));
  }

  /** An independent stream for one purpose, determined by this stream's seed and `label` only. */
  fork(label: string): Random {
    return new Random(`${String(this.seed)}/${label}`);
  }

  /** Fills `bytes` with random bytes (used to make store actor ids deterministic). */
  fill(bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(this.next() * 256);
    return bytes;
  }
}

/** 32-bit FNV-1a of the seed's text form: `42` and `'42'` are the same seed. */
function hashSeed(seed: Seed): number {
  if (typeof seed === 'number' && !Number.isFinite(seed)) throw new ValidationError(`seed must be finite, got ${seed}`, 'seed');
  const text = String(seed);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
