// The workload generators: every benchmark draws its documents and edits from here, so each
// system gets the same work. Deterministic (seeded), so two runs do the same thing.

/** A seeded PRNG (mulberry32): the same seed gives the same sequence on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A small document: three fields, ~40 bytes of JSON. (servers/ipc.mjs seeds the same shape.) */
export interface SmallDoc {
  [key: string]: string | number | boolean;
  title: string;
  n: number;
  done: boolean;
}

export function smallDoc(i: number): SmallDoc {
  return { title: `document ${i}`, n: i, done: i % 2 === 0 };
}

/** The id of the i-th document (servers/ipc.mjs names seeded documents the same way). */
export const docName = (i: number): string => `d${String(i).padStart(6, '0')}`;

/**
 * The local commit workload: `count` transactions over a working set of `docs` documents, each
 * touching `perTx` documents (a random pick, seeded) and setting their `n` field.
 */
export function commitOps(count: number, docs: number, perTx: number, seed = 1): number[][] {
  const next = rng(seed);
  const ops: number[][] = [];
  for (let t = 0; t < count; t++) {
    const picked = new Set<number>();
    while (picked.size < perTx) picked.add(Math.floor(next() * docs));
    ops.push([...picked]);
  }
  return ops;
}

/** Which group (0..groups-1) a document belongs to, for the live-query workload. */
export const groupOf = (i: number, groups: number): number => i % groups;

/**
 * The typing workload: `clients` writers each making `ratePerSecond` edits per second for
 * `seconds`, with start offsets spread over one period so edits interleave. Returns each
 * edit's planned time (ms from the start) and writer, in time order.
 */
export function typingSchedule(clients: number, ratePerSecond: number, seconds: number, seed = 7): { at: number; writer: number; seq: number }[] {
  const next = rng(seed);
  const period = 1000 / ratePerSecond;
  const out: { at: number; writer: number; seq: number }[] = [];
  for (let w = 0; w < clients; w++) {
    const offset = next() * period;
    for (let seq = 0; offset + seq * period < seconds * 1000; seq++) out.push({ at: offset + seq * period, writer: w, seq });
  }
  return out.sort((a, b) => a.at - b.at);
}
