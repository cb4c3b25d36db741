import { afterEach, describe, expect, it, vi } from 'vitest';
import { TransportClosedError, type CloseInfo, type Transport } from '../transport/transport.js';

/** How the conformance suite gets connected transports for the implementation under test. */
export interface TransportHarness {
  /** Two fresh transports connected to each other, both open. */
  pair(): Promise<[Transport, Transport]>;
  /** Releases what `pair` created (listeners, servers). Called after each test, once its transports are closed. */
  cleanup?(): Promise<void>;
}

/** Longest the suite waits for any one expected event; a bound so that a broken transport fails instead of hanging. */
const WAIT_MS = 20_000;

type Event = { readonly kind: 'message'; readonly bytes: Uint8Array } | { readonly kind: 'close'; readonly info: CloseInfo };

/** Records everything a transport delivers, and resolves waits when a condition becomes true. */
class Recorder {
  readonly events: Event[] = [];
  readonly messages: Uint8Array[] = [];
  readonly closes: CloseInfo[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(readonly transport: Transport) {
    transport.onMessage((bytes) => this.#record({ kind: 'message', bytes }));
    transport.onClose((info) => this.#record({ kind: 'close', info }));
  }

  #record(event: Event): void {
    this.events.push(event);
    if (event.kind === 'message') this.messages.push(event.bytes);
    else this.closes.push(event.info);
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Resolves once `condition()` holds; rejects, saying `what`, after {@link WAIT_MS} — or as
   * soon as the transport closed, when `closeEnds` (nothing arrives after a close).
   */
  until(condition: () => boolean, what: string, closeEnds = true): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (condition()) done();
        else if (closeEnds && this.closes.length > 0) {
          done(new Error(`closed (${JSON.stringify(this.closes[0])}) while waiting for ${what}; got ${this.messages.length} messages`));
        }
      };
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}; got ${this.messages.length} messages`)), WAIT_MS);
      this.#waiters.add(check);
      check();
    });
  }

  untilMessages(count: number): Promise<void> {
    return this.until(() => this.messages.length >= count, `${count} messages`);
  }

  untilClosed(): Promise<CloseInfo> {
    return this.until(() => this.closes.length > 0, 'the close', false).then(() => this.closes[0] as CloseInfo);
  }
}

/** Index of the first differing byte, or -1 (toEqual is far too slow on megabytes). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function expectSameBytes(actual: Uint8Array | undefined, expected: Uint8Array, label: string): void {
  expect(actual, label).toBeInstanceOf(Uint8Array);
  const got = actual as Uint8Array;
  expect(got.byteLength, `${label}: length`).toBe(expected.byteLength);
  expect(firstDifference(got, expected), `${label}: first differing byte`).toBe(-1);
}

/** A message of `size` bytes whose content depends on `seed` and on each position, so a reordered or shifted chunk shows. */
function patterned(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >>> 8) * 7 + seed) & 0xff;
  return bytes;
}

/** A message that starts with its index as 4 bytes, padded to `size` (>= 4). */
function numbered(index: number, size: number): Uint8Array {
  const bytes = patterned(size, index);
  new DataView(bytes.buffer).setUint32(0, index);
  return bytes;
}

const indexOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);

/** Lets a few turns of the event loop pass, so that an event that should not happen gets its chance to. */
async function letStrayEventsSurface(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

async function waitForBufferedAmountZero(t: Transport): Promise<void> {
  await vi.waitFor(() => expect(t.bufferedAmount).toBe(0), { timeout: WAIT_MS, interval: 5 });
}

/**
 * The behaviour every {@link Transport} must have. Call it from a test file of the
 * transport's package; `harness.pair()` returns two connected, open ends.
 *
 * @example
 * runTransportTests('websocket', {
 *   pair: async () => connectedPair(),        // [client, server]
 *   cleanup: async () => listener?.close(),
 * });
 */
export function runTransportTests(name: string, harness: TransportHarness): void {
  describe(`Transport conformance: ${name}`, () => {
    let open: Transport[] = [];
    const pair = async (): Promise<[Transport, Transport]> => {
      const ends = await harness.pair();
      open.push(...ends);
      expect(ends[0].closed).toBe(false);
      expect(ends[1].closed).toBe(false);
      return ends;
    };
    afterEach(async () => {
      for (const t of open) t.close();
      open = [];
      await harness.cleanup?.();
    });

    it('delivers messages whole, unchanged and in order, both ways: empty, every byte value, 4 MiB', async () => {
      const [a, b] = await pair();
      const ra = new Recorder(a);
      const rb = new Recorder(b);
      const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
      const messages = [new Uint8Array(0), new Uint8Array([0]), everyByte, patterned(65_537, 1), patterned(4 * 1024 * 1024, 2), new Uint8Array(0), new Uint8Array([255])];
      for (const m of messages) {
        a.send(m);
        b.send(m.slice().reverse());
      }
      await Promise.all([rb.untilMessages(messages.length), ra.untilMessages(messages.length)]);
      messages.forEach((m, i) => {
        expectSameBytes(rb.messages[i], m, `a→b message ${i}`);
        expectSameBytes(ra.messages[i], m.slice().reverse(), `b→a message ${i}`);
      });
      expect(rb.messages).toHaveLength(messages.length);
      expect(ra.messages).toHaveLength(messages.length);
    });

    it('delivers plain Uint8Arrays that share no memory with the sent buffer', async () => {
      const [a, b] = await pair();
      const rb = new Recorder(b);
      const backing = patterned(64, 3);
      const view = backing.subarray(10, 20); // only the view's bytes go on the wire
      a.send(view);
      await rb.untilMessages(1);
      const [got] = rb.messages;
      expectSameBytes(got, backing.slice(10, 20), 'a subarray');
      expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype); // not a Buffer, whose slice() shares memory
      backing.fill(0);
      expectSameBytes(got, patterned(64, 3).slice(10, 20), 'after the sender reuses its buffer');
    });

    it('keeps messages that arrive before a handler is set', async () => {
      const [a, b] = await pair();
      const early = [numbered(0, 4), numbered(1, 100), numbered(2, 5000)];
      for (const m of early) a.send(m);
      await letStrayEventsSurface(); // they reach b's end while nobody listens there
      const rb = new Recorder(b);
      a.send(numbered(3, 4));
      await rb.untilMessages(4);
      expect(rb.messages.map(indexOf)).toEqual([0, 1, 2, 3]);
    });

    it('a later onMessage replaces the handler', async () => {
      const [a, b] = await pair();
      const first: Uint8Array[] = [];
      b.onMessage((m) => first.push(m));
      a.send(numbered(1, 4));
      await vi.waitFor(() => expect(first).toHaveLength(1), { timeout: WAIT_MS, interval: 5 });
      const rb = new Recorder(b);
      a.send(numbered(2, 4));
      await rb.untilMessages(1);
      expect(first.map(indexOf)).toEqual([1]);
      expect(rb.messages.map(indexOf)).toEqual([2]);
    });

    it('carries a burst of 2 000 messages each way, in order', async () => {
      const [a, b] = await pair();
      const ra = new Recorder(a);
      const rb = new Recorder(b);
      const count = 2000;
      const size = (i: number) => 4 + ((i * 131) % 997);
      for (let i = 0; i < count; i++) {
        a.send(numbered(i, size(i)));
        b.send(numbered(count - i, size(count - i)));
      }
      await Promise.all([rb.untilMessages(count), ra.untilMessages(count)]);
      expect(rb.messages.map(indexOf)).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(ra.messages.map(indexOf)).toEqual(Array.from({ length: count }, (_, i) => count - i));
      for (const [i, m] of rb.messages.entries()) {
        if (firstDifference(m, numbered(i, size(i))) !== -1) expectSameBytes(m, numbered(i, size(i)), `burst message ${i}`);
      }
    });

    it('close(code, reason): the other side sees it with local=false, the closer with local=true, each once', async () => {
      const [a, b] = await pair();
      const ra = new Recorder(a);
      const rb = new Recorder(b);
      a.close(4001, 'bye now');
      expect(a.closed).toBe(true);
      const [infoA, infoB] = await Promise.all([ra.untilClosed(), rb.untilClosed()]);
      expect(infoB).toEqual({ code: 4001, reason: 'bye now', local: false });
      expect(infoA).toEqual({ code: 4001, reason: 'bye now', local: true });
      expect(b.closed).toBe(true);
      await letStrayEventsSurface();
      expect(ra.closes).toHaveLength(1);
      expect(rb.closes).toHaveLength(1);
    });

    it('close() without arguments is code 1000 with an empty reason', async () => {
      const [a, b] = await pair();
      const ra = new Recorder(a);
      const rb = new Recorder(b);
      b.close();
      expect(await ra.untilClosed()).toEqual({ code: 1000, reason: '', local: false });
      expect(await rb.untilClosed()).toEqual({ code: 1000, reason: '', local: true });
    });

    it('delivers what was sent before the close, then the close', async () => {
      const [a, b] = await pair();
      const rb = new Recorder(b);
      for (let i = 0; i < 20; i++) a.send(numbered(i, 4 + i * 100));
      a.close(4002, 'after twenty');
      await rb.untilClosed();
      expect(rb.events.map((e) => (e.kind === 'message' ? indexOf(e.bytes) : e.info.code))).toEqual([
        ...Array.from({ length: 20 }, (_, i) => i),
        4002,
      ]);
    });

    it('delivers nothing to the closer once close() has returned', async () => {
      const [a, b] = await pair();
      let afterClose = 0;
      let closedAt = -1;
      let seen = 0;
      a.onMessage(() => {
        seen++;
        if (a.closed) afterClose++;
        else if (seen === 3) {
          a.close(4003, 'enough');
          closedAt = seen;
        }
      });
      const ra = { closes: [] as CloseInfo[] };
      a.onClose((info) => ra.closes.push(info));
      const rb = new Recorder(b);
      for (let i = 0; i < 200; i++) b.send(numbered(i, 64));
      await rb.untilClosed();
      await vi.waitFor(() => expect(ra.closes).toHaveLength(1), { timeout: WAIT_MS, interval: 5 });
      await letStrayEventsSurface();
      expect(closedAt).toBe(3);
      expect(afterClose).toBe(0);
      expect(seen).toBe(3);
      expect(ra.closes).toEqual([{ code: 4003, reason: 'enough', local: true }]);
    });

    it('send after close throws TransportClosedError, on both sides', async () => {
      const [a, b] = await pair();
      const rb = new Recorder(b);
      a.close(4004, 'done');
      expect(() => a.send(new Uint8Array([1]))).toThrow(TransportClosedError);
      await rb.untilClosed();
      expect(b.closed).toBe(true);
      expect(() => b.send(new Uint8Array([1]))).toThrow(TransportClosedError);
      expect(rb.messages).toHaveLength(0);
    });

    it('close is idempotent, and a no-op after the other side closed', async () => {
      const [a, b] = await pair();
      const ra = new Recorder(a);
      const rb = new Recorder(b);
      a.close(4005, 'first');
      a.close(4006, 'second');
      a.close();
      const infoB = await rb.untilClosed();
      b.close(4007, 'too late');
      b.close();
      const infoA = await ra.untilClosed();
      await letStrayEventsSurface();
      expect(infoA).toEqual({ code: 4005, reason: 'first', local: true });
      expect(infoB).toEqual({ code: 4005, reason: 'first', local: false });
      expect(ra.closes).toHaveLength(1);
      expect(rb.closes).toHaveLength(1);
    });

    it('an onClose handler set after the transport closed is still called, once', async () => {
      const [a, b] = await pair();
      b.onMessage(() => {});
      a.close(4008, 'before you listened');
      await vi.waitFor(() => expect(b.closed).toBe(true), { timeout: WAIT_MS, interval: 5 });
      const late = new Recorder(b);
      const infoB = await late.untilClosed();
      expect(infoB).toEqual({ code: 4008, reason: 'before you listened', local: false });
      const lateA = new Recorder(a);
      expect(await lateA.untilClosed()).toEqual({ code: 4008, reason: 'before you listened', local: true });
      await letStrayEventsSurface();
      expect(late.closes).toHaveLength(1);
      expect(lateA.closes).toHaveLength(1);
    });

    it('bufferedAmount is a number >= 0 and returns to 0 once everything is delivered', async () => {
      const [a, b] = await pair();
      const rb = new Recorder(b);
      expect(typeof a.bufferedAmount).toBe('number');
      expect(a.bufferedAmount).toBe(0);
      a.send(patterned(4 * 1024 * 1024, 5));
      for (let i = 0; i < 100; i++) a.send(numbered(i, 64 * 1024));
      expect(a.bufferedAmount).toBeGreaterThanOrEqual(0);
      expect(a.bufferedAmount).toBeLessThanOrEqual(4 * 1024 * 1024 + 100 * 64 * 1024 + 1024 * 1024); // payload plus framing slack
      await rb.untilMessages(101);
      await waitForBufferedAmountZero(a);
      expect(b.bufferedAmount).toBe(0);
    });
  });
}
