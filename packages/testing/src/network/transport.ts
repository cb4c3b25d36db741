import { TransportClosedError, type CloseInfo, type Transport } from '@atoll/sync';
import { Random } from '../random.js';
import { Scheduler, type ScheduledEvent } from './scheduler.js';

/** What a simulated connection needs from the network that carries it. */
export interface SimWire {
  readonly scheduler: Scheduler;
  /** Called after anything was scheduled (a free-running wire pumps itself from here). */
  scheduled?(): void;
  /** A message handler threw: the network records it. */
  handlerFailed?(error: unknown, where: string): void;
}

type Item = { readonly kind: 'message'; readonly bytes: Uint8Array } | { readonly kind: 'close'; readonly info: CloseInfo };

/**
 * One direction of a simulated connection: a FIFO of messages, each due at a virtual time that
 * never goes backwards (so the order within a connection is kept, as TCP keeps it). Only the
 * head is on the network's schedule; when it is delivered, the next one is scheduled.
 */
class Direction {
  readonly #queue: { item: Item; at: number }[] = [];
  #head: ScheduledEvent | undefined;
  #lastAt = 0;
  bytes = 0;

  constructor(
    readonly wire: SimWire,
    readonly label: string,
    readonly delay: () => number,
    readonly deliver: (item: Item) => void,
  ) {}

  push(item: Item): void {
    const at = Math.max(this.#lastAt, this.wire.scheduler.now + this.delay());
    this.#lastAt = at;
    this.#queue.push({ item, at });
    if (item.kind === 'message') this.bytes += item.bytes.byteLength;
    if (!this.#head) this.#scheduleHead();
  }

  /** Drops everything in flight (the connection was lost). */
  clear(): void {
    this.#queue.length = 0;
    this.bytes = 0;
    this.wire.scheduler.cancel(this.#head);
    this.#head = undefined;
  }

  get length(): number {
    return this.#queue.length;
  }

  #scheduleHead(): void {
    const first = this.#queue[0];
    if (!first) return;
    this.#head = this.wire.scheduler.schedule(first.at, this.label, () => {
      this.#head = undefined;
      const next = this.#queue.shift();
      if (next) {
        if (next.item.kind === 'message') this.bytes -= next.item.bytes.byteLength;
        this.deliver(next.item);
      }
      this.#scheduleHead();
    });
    this.wire.scheduled?.();
  }
}

/**
 * One end of a simulated connection: a {@link Transport} whose sends go into the simulated
 * network's queue and are delivered when the network runs that event — not on a timer and not
 * on a microtask. It keeps the transport contract (ordered, reliable, framed, for the life of
 * the connection); faults are whole-connection events: {@link SimConnection.abort} loses what
 * is in flight and closes both ends with 1006, as a crash or a lost network does.
 */
export class SimTransport implements Transport {
  /** The connection this end belongs to. */
  readonly connection: SimConnection;
  readonly #out: Direction;
  #closeInfo: CloseInfo | undefined;
  #closeDelivered = false;
  #messageHandler: ((message: Uint8Array) => void) | undefined;
  #closeHandler: ((info: CloseInfo) => void) | undefined;
  /** Messages that arrived before a handler was set. */
  readonly #inbox: Uint8Array[] = [];

  /** @internal Created by {@link SimConnection}. */
  constructor(connection: SimConnection, out: Direction) {
    this.connection = connection;
    this.#out = out;
  }

  get bufferedAmount(): number {
    return this.#out.bytes;
  }

  get closed(): boolean {
    return this.#closeInfo !== undefined;
  }

  send(message: Uint8Array): void {
    if (this.closed) throw new TransportClosedError();
    this.#out.push({ kind: 'message', bytes: new Uint8Array(message) });
  }

  onMessage(handler: (message: Uint8Array) => void): void {
    this.#messageHandler = handler;
    if (this.#inbox.length > 0) queueMicrotask(() => this.#flushInbox());
  }

  onClose(handler: (info: CloseInfo) => void): void {
    this.#closeHandler = handler;
    if (this.#closeInfo && !this.#closeDelivered) queueMicrotask(() => this.#fireClose());
  }

  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    this.#closeInfo = { code, reason, local: true };
    this.#inbox.length = 0;
    this.#out.push({ kind: 'close', info: { code, reason, local: false } });
    queueMicrotask(() => this.#fireClose());
  }

  /** @internal The network delivers an item sent by the other end. */
  receive(item: Item): void {
    if (this.closed) return; // this end closed: what was still on its way is lost, as on a socket
    if (item.kind === 'close') {
      this.#closeInfo = item.info;
      this.#inbox.length = 0;
      this.#fireClose();
      return;
    }
    if (!this.#messageHandler || this.#inbox.length > 0) {
      this.#inbox.push(item.bytes);
      if (this.#messageHandler) this.#flushInbox();
      return;
    }
    this.#call(item.bytes);
  }

  /** @internal The connection was lost: closed at once, the handler told on the network's schedule. */
  lose(): void {
    if (this.closed) return;
    this.#closeInfo = { code: 1006, reason: '', local: false };
    this.#inbox.length = 0;
  }

  /** @internal Fires the close handler if it is due and set. */
  fireClose(): void {
    this.#fireClose();
  }

  #flushInbox(): void {
    while (this.#inbox.length > 0 && this.#messageHandler && !this.closed) this.#call(this.#inbox.shift() as Uint8Array);
  }

  #call(bytes: Uint8Array): void {
    try {
      this.#messageHandler?.(bytes);
    } catch (err) {
      this.connection.wire.handlerFailed?.(err, `message handler of ${this.connection.label}`);
    }
  }

  #fireClose(): void {
    const info = this.#closeInfo;
    const handler = this.#closeHandler;
    if (!info || !handler || this.#closeDelivered) return;
    this.#closeDelivered = true;
    try {
      handler(info);
    } catch (err) {
      this.connection.wire.handlerFailed?.(err, `close handler of ${this.connection.label}`);
    }
  }
}

/** Options of a {@link SimConnection}. */
export interface SimConnectionOptions {
  /** For diagnostics: `a→b`. */
  readonly label: string;
  /** Draws the virtual delay of one message from the dialing end to the listening end. */
  readonly delayForward: () => number;
  /** … and back. */
  readonly delayBackward: () => number;
}

/** A connection over a simulated link: two {@link SimTransport} ends and the two directions between them. */
export class SimConnection {
  readonly label: string;
  readonly wire: SimWire;
  /** The end of the side that dialed. */
  readonly dialerEnd: SimTransport;
  /** The end of the side that accepted. */
  readonly listenerEnd: SimTransport;
  readonly #forward: Direction;
  readonly #backward: Direction;

  constructor(wire: SimWire, options: SimConnectionOptions) {
    this.wire = wire;
    this.label = options.label;
    this.#forward = new Direction(wire, `deliver ${options.label}`, options.delayForward, (item) => this.listenerEnd.receive(item));
    const [from, to] = options.label.split('→');
    this.#backward = new Direction(wire, `deliver ${to ?? '?'}→${from ?? '?'}`, options.delayBackward, (item) => this.dialerEnd.receive(item));
    this.dialerEnd = new SimTransport(this, this.#forward);
    this.listenerEnd = new SimTransport(this, this.#backward);
  }

  /** Messages and closes still in flight, both ways. */
  get inFlight(): number {
    return this.#forward.length + this.#backward.length;
  }

  /** Whether both ends have closed. */
  get closed(): boolean {
    return this.dialerEnd.closed && this.listenerEnd.closed;
  }

  /**
   * Loses the connection: what is in flight either way is dropped, both ends close with 1006
   * (`local: false`) at once, and each end's close handler runs as its own network event.
   */
  abort(): void {
    const ends = [this.dialerEnd, this.listenerEnd].filter((end) => !end.closed);
    this.#forward.clear();
    this.#backward.clear();
    for (const end of ends) {
      end.lose();
      this.wire.scheduler.schedule(this.wire.scheduler.now, `close ${this.label}`, () => end.fireClose());
    }
    this.wire.scheduled?.();
  }
}

/** Options of {@link createSimTransportPair}. */
export interface SimTransportPairOptions {
  /** Seed of the random delays and tie-breaks. Default 0. */
  readonly seed?: number | string;
  /** Virtual delay per message, or a [min, max] range drawn per message. Default 0. */
  readonly latency?: number | readonly [number, number];
}

/**
 * Two connected simulated transports on a free-running scheduler of their own: events are run
 * on `setImmediate` turns in virtual-time order, so the pair works on its own, outside a
 * network (the transport conformance suite uses it). Inside a network, use `Network.link`.
 *
 * @example
 * const [a, b] = createSimTransportPair({ latency: [1, 5] });
 * b.onMessage((m) => console.log(m));
 * a.send(new Uint8Array([1, 2, 3]));
 */
export function createSimTransportPair(options: SimTransportPairOptions = {}): [SimTransport, SimTransport] {
  const rng = new Random(options.seed ?? 0);
  const scheduler = new Scheduler(rng.fork('ties'));
  let pumping = false;
  const wire: SimWire = {
    scheduler,
    scheduled() {
      if (pumping) return;
      pumping = true;
      setImmediate(function pump() {
        const next = scheduler.pop();
        if (!next) {
          pumping = false;
          return;
        }
        next.run();
        setImmediate(pump);
      });
    },
  };
  const latency = options.latency ?? 0;
  const delays = rng.fork('latency');
  const delay = () => (typeof latency === 'number' ? latency : delays.float(latency[0], latency[1]));
  const connection = new SimConnection(wire, { label: 'a→b', delayForward: delay, delayBackward: delay });
  return [connection.dialerEnd, connection.listenerEnd];
}
