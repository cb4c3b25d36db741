import type { Random } from '../random.js';

/** Something the simulation will do at a virtual time. */
export interface ScheduledEvent {
  /** Virtual time, in milliseconds since the network was created. */
  readonly time: number;
  /** What it is, for diagnostics ("deliver p1→p2", "reconnect p1→relay"). */
  readonly label: string;
  /** Whether {@link Scheduler.cancel} was called: a cancelled event is skipped. */
  cancelled: boolean;
}

interface Entry extends ScheduledEvent {
  readonly tie: number;
  readonly seq: number;
  readonly run: () => void;
}

/**
 * The discrete-event queue of a simulated network: a binary heap ordered by virtual time,
 * then by a random tie-break drawn when the event is scheduled. Events at the same virtual
 * time therefore run in a seeded random order — how a real network interleaves messages on
 * different links that arrive "at once" — and the order replays with the seed.
 */
export class Scheduler {
  #now = 0;
  #seq = 0;
  readonly #heap: Entry[] = [];
  readonly #rng: Random;

  constructor(rng: Random) {
    this.#rng = rng;
  }

  /** The current virtual time (ms). */
  get now(): number {
    return this.#now;
  }

  /** Events waiting (cancelled ones included until they reach the top). */
  get size(): number {
    return this.#heap.length;
  }

  /** Whether a live (not cancelled) event is waiting. */
  get pending(): boolean {
    this.#dropCancelled();
    return this.#heap.length > 0;
  }

  /** Schedules `run` at virtual time `time` (never earlier than now). */
  schedule(time: number, label: string, run: () => void): ScheduledEvent {
    const entry: Entry = { time: Math.max(time, this.#now), label, cancelled: false, tie: this.#rng.next(), seq: this.#seq++, run };
    this.#heap.push(entry);
    this.#up(this.#heap.length - 1);
    return entry;
  }

  cancel(event: ScheduledEvent | undefined): void {
    if (event) event.cancelled = true;
  }

  /** The next live event, without running it. */
  peek(): ScheduledEvent | undefined {
    this.#dropCancelled();
    return this.#heap[0];
  }

  /** Takes the next live event, advances the clock to its time, and returns its action. */
  pop(): { event: ScheduledEvent; run: () => void } | undefined {
    this.#dropCancelled();
    const top = this.#take();
    if (!top) return undefined;
    this.#now = Math.max(this.#now, top.time);
    return { event: top, run: top.run };
  }

  /** Moves the clock forward to `time` with nothing happening (no event may be earlier). */
  advanceTo(time: number): void {
    this.#now = Math.max(this.#now, time);
  }

  /** Labels of the next few events, for error messages. */
  describe(max = 8): string[] {
    return [...this.#heap]
      .filter((e) => !e.cancelled)
      .sort(compare)
      .slice(0, max)
      .map((e) => `${e.time.toFixed(1)}ms ${e.label}`);
  }

  #dropCancelled(): void {
    while (this.#heap[0]?.cancelled) this.#take();
  }

  #take(): Entry | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top && last && heap.length > 0) {
      heap[0] = last;
      this.#down(0);
    }
    return top;
  }

  #up(i: number): void {
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compare(heap[i] as Entry, heap[parent] as Entry) >= 0) return;
      [heap[i], heap[parent]] = [heap[parent] as Entry, heap[i] as Entry];
      i = parent;
    }
  }

  #down(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && compare(heap[l] as Entry, heap[m] as Entry) < 0) m = l;
      if (r < heap.length && compare(heap[r] as Entry, heap[m] as Entry) < 0) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m] as Entry, heap[i] as Entry];
      i = m;
    }
  }
}

function compare(a: Entry, b: Entry): number {
  return a.time - b.time || a.tie - b.tie || a.seq - b.seq;
}
