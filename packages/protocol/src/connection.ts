import { InvariantError, assert, unreachable } from './errors.js';
import type { Message, MessageType } from './messages/message.js';
import { ProtocolError } from './protocol-error.js';

/**
 * Where a connection is in its life, as seen by one side. See "Connection state machine" in
 * docs/protocol.md for the diagram and the invariants.
 */
export const ConnectionPhase = {
  /** Dialer: the transport is open, `hello` not sent yet. */
  Connecting: 'connecting',
  /** Dialer: `hello` sent, waiting for `welcome` (or `error`). */
  AwaitingWelcome: 'awaiting-welcome',
  /** Listener: the transport is open, waiting for `hello`. */
  AwaitingHello: 'awaiting-hello',
  /** Listener: `hello` received, checking it; `welcome` or `error` comes next. */
  Authenticating: 'authenticating',
  /** Handshake done: replication messages flow both ways. */
  Open: 'open',
  /** Closed, or about to be after a fatal `error`: nothing more is processed. */
  Closed: 'closed',
} as const;
/** One of the {@link ConnectionPhase} values. */
export type ConnectionPhase = (typeof ConnectionPhase)[keyof typeof ConnectionPhase];

/** The state of one direction of log streaming. */
export const StreamState = {
  /** No `sync` yet in this direction: no log deliveries flow. */
  Idle: 'idle',
  /** `sync` done; deliveries of the log's past are flowing; no `caught-up` yet. */
  CatchingUp: 'catching-up',
  /** `caught-up` done; deliveries are live. */
  Live: 'live',
} as const;
/** One of the {@link StreamState} values. */
export type StreamState = (typeof StreamState)[keyof typeof StreamState];

/** Which side opened the connection: the dialer sends `hello`, the listener answers. */
export type ConnectionSide = 'dialer' | 'listener';

/**
 * One side's view of a connection. Immutable: {@link checkReceive} and {@link checkSend} return
 * the next state, so a caller can keep the old one when a check throws.
 */
export interface ConnectionState {
  readonly side: ConnectionSide;
  readonly phase: ConnectionPhase;
  /** The peer's log, streamed to this side (this side sent `sync`). */
  readonly inbound: StreamState;
  /** This side's log, streamed to the peer (the peer sent `sync`). */
  readonly outbound: StreamState;
  /** The last `pos` of a `log` delivery or `caught-up` received: the cursor candidate. */
  readonly inboundPos: number | undefined;
  /** The last `pos` of a `log` delivery or `caught-up` sent. */
  readonly outboundPos: number | undefined;
  /** Deliveries received on this connection. */
  readonly deliveriesReceived: number;
  /** The `deliveries` count of the last `ack` this side sent. */
  readonly deliveriesAcked: number;
  /** Deliveries sent on this connection. */
  readonly deliveriesSent: number;
  /** The `deliveries` count of the last `ack` received: `deliveriesSent - peerAcked` are in flight. */
  readonly peerAcked: number;
  /** `subscribe` messages sent on this connection. */
  readonly subscribesSent: number;
  /** `subscribe` messages received on this connection. */
  readonly subscribesReceived: number;
  /** The `subscribes` count of the last `caught-up` received. */
  readonly inboundSubscribes: number;
  /** The `subscribes` count of the last `caught-up` sent. */
  readonly outboundSubscribes: number;
}

/** The state of a connection whose transport just opened. */
export function initialConnectionState(side: ConnectionSide): ConnectionState {
  return {
    side,
    phase: side === 'dialer' ? ConnectionPhase.Connecting : ConnectionPhase.AwaitingHello,
    inbound: StreamState.Idle,
    outbound: StreamState.Idle,
    inboundPos: undefined,
    outboundPos: undefined,
    deliveriesReceived: 0,
    deliveriesAcked: 0,
    deliveriesSent: 0,
    peerAcked: 0,
    subscribesSent: 0,
    subscribesReceived: 0,
    inboundSubscribes: 0,
    outboundSubscribes: 0,
  };
}

/** A cell of the phase tables: the next phase, or what to do instead. */
type Cell = ConnectionPhase | 'reject' | 'ignore';
type PhaseTable = { readonly [P in ConnectionPhase]: { readonly [T in MessageType]: Cell } };

const R = 'reject';
const I = 'ignore';
const O = ConnectionPhase.Open;
const C = ConnectionPhase.Closed;

/**
 * Incoming messages by phase. A `reject` is the peer's fault (a `protocol` error); `ignore` drops
 * what arrives after the end. `error` during the handshake always ends the connection. Typed as
 * a complete table, so a new message type cannot compile until every phase decides about it.
 */
const RECEIVE: PhaseTable = {
  connecting: { hello: R, welcome: R, error: C, subscribe: R, sync: R, 'caught-up': R, delivery: R, ack: R, want: R, unavailable: R, ping: R, pong: R },
  'awaiting-welcome': { hello: R, welcome: O, error: C, subscribe: R, sync: R, 'caught-up': R, delivery: R, ack: R, want: R, unavailable: R, ping: R, pong: R },
  'awaiting-hello': { hello: 'authenticating', welcome: R, error: C, subscribe: R, sync: R, 'caught-up': R, delivery: R, ack: R, want: R, unavailable: R, ping: R, pong: R },
  authenticating: { hello: R, welcome: R, error: C, subscribe: R, sync: R, 'caught-up': R, delivery: R, ack: R, want: R, unavailable: R, ping: R, pong: R },
  open: { hello: R, welcome: R, error: O, subscribe: O, sync: O, 'caught-up': O, delivery: O, ack: O, want: O, unavailable: O, ping: O, pong: O },
  closed: { hello: I, welcome: I, error: I, subscribe: I, sync: I, 'caught-up': I, delivery: I, ack: I, want: I, unavailable: I, ping: I, pong: I },
};

/** Outgoing messages by phase. A `reject` here is a bug in the caller, not the peer's fault. */
const SEND: PhaseTable = {
  connecting: { hello: 'awaiting-welcome', welcome: R, error: C, subscribe: R, sync: R, 'caught-up': R, delivery: R, ack: R, want: R, unavailable: R, ping: R, pong: R },
  'awaiting-welcome': { hello: R, welcome: R, error: C, subscribe: R, sync: R, 'caught-up': R, delivery: R, ack: R, want: R, unavailable: R, ping: R, pong: R },
  'awaiting-hello': { hello: R, welcome: R, error: C, subscribe: R, sync: R, 'caught-up': R, delivery: R, ack: R, want: R, unavailable: R, ping: R, pong: R },
  authenticating: { hello: R, welcome: O, error: C, subscribe: R, sync: R, 'caught-up': R, delivery: R, ack: R, want: R, unavailable: R, ping: R, pong: R },
  open: { hello: R, welcome: R, error: O, subscribe: O, sync: O, 'caught-up': O, delivery: O, ack: O, want: O, unavailable: O, ping: O, pong: O },
  closed: { hello: R, welcome: R, error: R, subscribe: R, sync: R, 'caught-up': R, delivery: R, ack: R, want: R, unavailable: R, ping: R, pong: R },
};

/**
 * Checks a message received in `state` and returns the next state. Call it on every decoded
 * message before acting on it.
 *
 * @throws {ProtocolError} of kind `protocol` (fatal) when the message is not valid now:
 *   anything but `hello` before the handshake, a second `sync`, a `log` delivery whose `pos`
 *   does not increase, an `ack` for deliveries never sent …
 * @example
 * state = checkReceive(state, msg); // throws before the message is used
 */
export function checkReceive(state: ConnectionState, msg: Message): ConnectionState {
  const cell = RECEIVE[state.phase][msg.type];
  if (cell === 'ignore') return state;
  if (cell === 'reject') throw violation(`${msg.type} is not valid while the connection is ${state.phase}`);
  if (msg.type === 'error') return { ...state, phase: cell === ConnectionPhase.Open && !msg.fatal ? cell : ConnectionPhase.Closed };
  if (cell !== ConnectionPhase.Open || state.phase !== ConnectionPhase.Open) return { ...state, phase: cell };
  switch (msg.type) {
    case 'sync':
      if (state.outbound !== StreamState.Idle) throw violation('sync may be sent once per connection; reconnect to start over');
      return { ...state, outbound: StreamState.CatchingUp };
    case 'caught-up':
      if (state.inbound === StreamState.Idle) throw violation('caught-up before this side sent sync');
      if (state.inboundPos !== undefined && msg.pos < state.inboundPos) {
        throw violation(`caught-up at ${msg.pos} after position ${state.inboundPos}: positions never go back on a connection`);
      }
      if (msg.subscribes > state.subscribesSent) {
        throw violation(`caught-up covers ${msg.subscribes} subscribe messages, but only ${state.subscribesSent} were sent`);
      }
      if (msg.subscribes < state.inboundSubscribes) {
        throw violation(`caught-up covers ${msg.subscribes} subscribe messages after one that covered ${state.inboundSubscribes}`);
      }
      return { ...state, inbound: StreamState.Live, inboundPos: msg.pos, inboundSubscribes: msg.subscribes };
    case 'delivery': {
      const next = { ...state, deliveriesReceived: state.deliveriesReceived + 1 };
      switch (msg.via) {
        case 'log':
          if (state.inbound === StreamState.Idle) throw violation('log delivery before this side sent sync');
          if (state.inboundPos !== undefined && msg.pos <= state.inboundPos) {
            throw violation(`log delivery at ${msg.pos} after position ${state.inboundPos}: log positions increase on a connection`);
          }
          return { ...next, inboundPos: msg.pos };
        case 'backfill':
          if (state.inbound === StreamState.Idle) throw violation('backfill delivery before this side sent sync');
          return next;
        case 'want':
          return next;
        default:
          return unreachable(msg.via);
      }
    }
    case 'ack':
      if (msg.deliveries > state.deliveriesSent) {
        throw violation(`ack for ${msg.deliveries} deliveries, but only ${state.deliveriesSent} were sent`);
      }
      if (msg.deliveries < state.peerAcked) throw violation(`ack for ${msg.deliveries} deliveries after an ack for ${state.peerAcked}`);
      return { ...state, peerAcked: msg.deliveries };
    case 'subscribe':
      return { ...state, subscribesReceived: state.subscribesReceived + 1 };
    case 'want':
    case 'unavailable':
    case 'ping':
    case 'pong':
      return state;
    case 'hello':
    case 'welcome':
      // The table rejects both once open; reaching here means the table and this switch disagree.
      throw violation(`${msg.type} is not valid while the connection is ${state.phase}`);
    default:
      return unreachable(msg);
  }
}

/**
 * Checks a message this side is about to send and returns the next state. A refusal is a bug
 * in the caller (the peer would answer it with a `protocol` error), so it throws
 * `InvariantError`, not a {@link ProtocolError}.
 */
export function checkSend(state: ConnectionState, msg: Message): ConnectionState {
  const cell = SEND[state.phase][msg.type];
  assert(cell !== 'reject' && cell !== 'ignore', () => `cannot send ${msg.type} while the connection is ${state.phase}`);
  if (msg.type === 'error') return { ...state, phase: cell === ConnectionPhase.Open && !msg.fatal ? cell : ConnectionPhase.Closed };
  if (cell !== ConnectionPhase.Open || state.phase !== ConnectionPhase.Open) return { ...state, phase: cell };
  switch (msg.type) {
    case 'sync':
      assert(state.inbound === StreamState.Idle, () => 'sync was already sent on this connection');
      return { ...state, inbound: StreamState.CatchingUp };
    case 'caught-up': {
      assert(state.outbound !== StreamState.Idle, () => 'caught-up sent before the peer asked with sync');
      const last = state.outboundPos;
      assert(last === undefined || msg.pos >= last, () => `caught-up at ${msg.pos} after position ${last}`);
      const { subscribes } = msg;
      assert(subscribes <= state.subscribesReceived, () => `caught-up covers ${subscribes} subscribe messages, ${state.subscribesReceived} received`);
      assert(subscribes >= state.outboundSubscribes, () => `caught-up covers ${subscribes} subscribe messages after ${state.outboundSubscribes}`);
      return { ...state, outbound: StreamState.Live, outboundPos: msg.pos, outboundSubscribes: subscribes };
    }
    case 'delivery': {
      const next = { ...state, deliveriesSent: state.deliveriesSent + 1 };
      switch (msg.via) {
        case 'log': {
          assert(state.outbound !== StreamState.Idle, () => 'log delivery sent before the peer asked with sync');
          const last = state.outboundPos;
          assert(last === undefined || msg.pos > last, () => `log delivery at ${msg.pos} after position ${last}`);
          return { ...next, outboundPos: msg.pos };
        }
        case 'backfill':
          assert(state.outbound !== StreamState.Idle, () => 'backfill delivery sent before the peer asked with sync');
          return next;
        case 'want':
          return next;
        default:
          return unreachable(msg.via);
      }
    }
    case 'ack': {
      const { deliveries } = msg;
      assert(deliveries <= state.deliveriesReceived, () => `ack for ${deliveries} deliveries, only ${state.deliveriesReceived} received`);
      assert(deliveries >= state.deliveriesAcked, () => `ack for ${deliveries} deliveries after an ack for ${state.deliveriesAcked}`);
      return { ...state, deliveriesAcked: deliveries };
    }
    case 'subscribe':
      return { ...state, subscribesSent: state.subscribesSent + 1 };
    case 'want':
    case 'unavailable':
    case 'ping':
    case 'pong':
      return state;
    case 'hello':
    case 'welcome':
      // The table refuses both once open; reaching here means the table and this switch disagree.
      throw new InvariantError(`cannot send ${msg.type} while the connection is ${state.phase}`);
    default:
      return unreachable(msg);
  }
}

/** The state after the transport closed, for whatever reason. */
export function closedState(state: ConnectionState): ConnectionState {
  return { ...state, phase: ConnectionPhase.Closed };
}

function violation(message: string): ProtocolError {
  return new ProtocolError('protocol', message);
}
