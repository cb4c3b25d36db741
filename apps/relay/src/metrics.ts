import { ERROR_KINDS } from '@atoll/protocol';
import type { Store } from '@atoll/store';
import type { SyncPeer } from '@atoll/sync';

type Labels = Readonly<Record<string, string>>;

/** Escapes a label value for the Prometheus text format. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  lines(): string[];
}

/** A counter family: one monotonically increasing value per label set. */
class Counter implements Family {
  readonly type = 'counter';
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    // Several increments per frame: a plain key here, the escaped text only when scraped.
    let key = '';
    for (const name in labels) key += `${name}\u0001${labels[name] as string}\u0000`;
    const slot = this.#values.get(key);
    if (slot) slot.value += by;
    else this.#values.set(key, { labels, value: by });
  }

  lines(): string[] {
    return [...this.#values.values()].map(({ labels, value }) => `${this.name}${formatLabels(labels)} ${formatNumber(value)}`);
  }
}

/** A gauge family whose values are read when scraped. */
class Gauge implements Family {
  readonly type = 'gauge';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => readonly (readonly [Labels, number])[],
  ) {}

  lines(): string[] {
    return this.read().map(([labels, value]) => `${this.name}${formatLabels(labels)} ${formatNumber(value)}`);
  }
}

/** A histogram without labels, with cumulative buckets, as Prometheus expects. */
class Histogram implements Family {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
  ) {
    this.#bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    const i = this.#bounds.findIndex((b) => value <= b);
    if (i >= 0) this.#counts[i] = (this.#counts[i] ?? 0) + 1;
  }

  lines(): string[] {
    const out: string[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += this.#counts[i] ?? 0;
      out.push(`${this.name}_bucket{le="${formatNumber(bound)}"} ${cumulative}`);
    });
    out.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`);
    out.push(`${this.name}_sum ${formatNumber(this.#sum)}`);
    out.push(`${this.name}_count ${this.#count}`);
    return out;
  }
}

/** Bounds of the apply-latency histogram, in seconds: 0.5 ms to 10 s. */
export const APPLY_SECONDS_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The relay's metrics, rendered in the Prometheus text exposition format (version 0.0.4) at
 * `GET /metrics`. Counters come from the sync peer's events and from the transports'
 * byte counts; gauges are read at scrape time. Every metric is listed in docs/relay.md.
 */
export class RelayMetrics {
  readonly #families: Family[] = [];
  readonly #accepted: Counter;
  readonly #closed: Counter;
  readonly #messages: Counter;
  readonly #bytes: Counter;
  readonly #frames: Counter;
  readonly #deliveriesSent: Counter;
  readonly #deliveriesReceived: Counter;
  readonly #errors: Counter;
  readonly #apply: Histogram;
  readonly #stop: (() => void)[] = [];

  constructor(peer: SyncPeer, store: Store, info: { readonly version: string; readonly startedAt: number }) {
    const family = <F extends Family>(f: F): F => {
      this.#families.push(f);
      return f;
    };
    family(new Gauge('atoll_relay_info', 'Constant 1, labelled with the relay’s peer id and version.', () => [[{ peer_id: store.peerId, version: info.version }, 1]]));
    family(new Gauge('atoll_relay_start_time_seconds', 'When the relay started, in seconds since the Unix epoch.', () => [[{}, info.startedAt / 1000]]));
    family(
      new Gauge('atoll_relay_connections', 'Sync connections now, by state: handshaking (waiting for hello or authenticating) or open.', () => {
        let open = 0;
        let handshaking = 0;
        for (const c of peer.connections) {
          if (c.isOpen) open++;
          else handshaking++;
        }
        return [
          [{ state: 'open' }, open],
          [{ state: 'handshaking' }, handshaking],
        ];
      }),
    );
    this.#accepted = family(new Counter('atoll_relay_connections_accepted_total', 'Sync WebSocket connections accepted.'));
    this.#closed = family(new Counter('atoll_relay_connections_closed_total', 'Sync connections closed, by WebSocket close code (1000 normal, 1001 going away, 1006 lost, 1009 too big, 4401 auth, 4429 rate-limited …).'));
    this.#frames = family(new Counter('atoll_relay_frames_total', 'WebSocket frames on sync connections, by direction (received counts every frame, valid or not).'));
    this.#bytes = family(new Counter('atoll_relay_bytes_total', 'Bytes of WebSocket frames on sync connections, by direction.'));
    this.#messages = family(new Counter('atoll_relay_messages_total', 'Valid protocol messages, by direction and message type.'));
    this.#deliveriesSent = family(new Counter('atoll_relay_deliveries_sent_total', 'Deliveries (changesets) shipped to peers.'));
    this.#deliveriesReceived = family(
      new Counter('atoll_relay_deliveries_received_total', 'Deliveries received from peers, by outcome: applied, partial, held, duplicate, empty (manifest only), forbidden, invalid.'),
    );
    this.#errors = family(new Counter('atoll_relay_errors_total', 'Protocol errors, by kind and direction: sent = reported by the relay to a peer, received = reported by a peer.'));
    this.#apply = family(new Histogram('atoll_relay_apply_duration_seconds', 'Time from receiving a delivery to having it durably applied (or rejected), in seconds.', APPLY_SECONDS_BUCKETS));
    family(new Gauge('atoll_relay_log_position', 'Position of the last entry in the relay’s log.', () => [[{}, store.position]]));

    for (const direction of ['sent', 'received']) {
      this.#frames.inc({ direction }, 0);
      this.#bytes.inc({ direction }, 0);
      for (const kind of ERROR_KINDS) this.#errors.inc({ kind, direction }, 0);
    }
    this.#deliveriesSent.inc({}, 0);
    this.#accepted.inc({}, 0);

    const { events } = peer;
    this.#stop.push(
      events.on('message-sent', ({ type }) => this.#messages.inc({ direction: 'sent', type })),
      events.on('message-received', ({ type }) => this.#messages.inc({ direction: 'received', type })),
      events.on('delivery-sent', () => {
        this.#messages.inc({ direction: 'sent', type: 'delivery' });
        this.#deliveriesSent.inc();
      }),
      events.on('delivery-received', ({ status, applyMs }) => {
        this.#deliveriesReceived.inc({ status });
        this.#apply.observe(applyMs / 1000);
      }),
      events.on('error', ({ kind, direction }) => this.#errors.inc({ kind, direction })),
      events.on('close', ({ info }) => this.#closed.inc({ code: String(info.code) })),
    );
  }

  /** A sync connection was accepted. */
  connectionAccepted(): void {
    this.#accepted.inc();
  }

  /** A frame went by on a sync connection. */
  frame(direction: 'sent' | 'received', bytes: number): void {
    this.#frames.inc({ direction });
    this.#bytes.inc({ direction }, bytes);
  }

  /** The relay reported an error that the sync peer does not know of (the rate limit's). */
  errorSent(kind: string): void {
    this.#errors.inc({ kind, direction: 'sent' });
  }

  /** The exposition text. */
  render(): string {
    const out: string[] = [];
    for (const f of this.#families) {
      out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`, ...f.lines());
    }
    return `${out.join('\n')}\n`;
  }

  /** Stops listening to the sync peer. */
  dispose(): void {
    for (const stop of this.#stop.splice(0)) stop();
  }
}
