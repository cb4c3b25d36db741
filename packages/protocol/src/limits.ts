/**
 * Hard bounds on what one message may hold. They are part of the protocol (the schemas enforce
 * them, and the schema hash covers them), so validation of an incoming message also bounds the
 * memory and CPU a peer can make the receiver spend on it. Raising one is a protocol change.
 */
export const LIMITS = {
  /** Protocol versions a `hello` may offer. */
  versions: 32,
  /** Characters in an authentication token. */
  tokenLength: 4096,
  /** Characters in a subscription id. */
  subscriptionIdLength: 128,
  /** Subscriptions in one `subscribe` (a relay subscribes with a handful; apps with tens). */
  subscriptions: 1024,
  /** Nodes (objects, arrays, keys and values) in one subscription filter: evaluated per document, so bounded. */
  filterNodes: 1024,
  /** Characters in one string (a path or a value) inside a filter. */
  filterStringLength: 4096,
  /** Document keys in a manifest, a `want`, an `unavailable`, and parts or omitted entries in a delivery. */
  keysPerTransaction: 10_000,
  /** Automerge changes in one part. */
  changesPerPart: 10_000,
  /** Bytes in one Automerge change (or a saved document shipped as one). */
  changeBytes: 16 * 1024 * 1024,
  /** Characters in an error message's text. */
  errorMessageLength: 1024,
  /** Nesting depth of a frame's msgpack structure: generous for a 32-deep filter, far below stack limits. */
  msgpackDepth: 100,
  /** Smallest frame limit a peer may advertise in `hello`/`welcome`. */
  minMessageBytes: 64 * 1024,
  /** Largest frame limit a peer may advertise in `hello`/`welcome`. */
  maxMessageBytes: 1024 * 1024 * 1024,
} as const;

/**
 * Recommended settings, not part of the wire format: each peer may choose its own values, and
 * advertises its frame limit in `hello`/`welcome`. See docs/protocol.md for what each governs.
 */
export const DEFAULTS = {
  /** Largest frame this peer accepts (advertised as `maxBytes`). */
  maxMessageBytes: 16 * 1024 * 1024,
  /**
   * Most msgpack values (of any kind) one frame may decode into. A 1-byte empty map decodes to a
   * JS object of tens of bytes, so this bounds the memory amplification of a hostile frame.
   */
  maxMessageItems: 1_000_000,
  /** Encoded delivery bytes a sender keeps unacknowledged before it stops sending deliveries. */
  windowBytes: 4 * 1024 * 1024,
  /** Send a `ping` after this long without receiving anything. */
  keepAliveMs: 15_000,
  /** Close the connection after this long without receiving anything. */
  idleTimeoutMs: 45_000,
  /** Close a connection whose handshake has not completed after this long. */
  handshakeTimeoutMs: 10_000,
} as const;
