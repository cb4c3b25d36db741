import { describe, expect, it } from 'vitest';
import {
  InvariantError,
  ProtocolError,
  checkReceive,
  checkSend,
  closedState,
  initialConnectionState,
  type ConnectionState,
  type Message,
  type MessageOf,
} from '../src/index.js';
import { SAMPLES } from './samples.js';

const delivery = (via: MessageOf<'delivery'>['via'], pos: number): MessageOf<'delivery'> => ({ ...SAMPLES.delivery, via, pos });

function receiveAll(state: ConnectionState, msgs: readonly Message[]): ConnectionState {
  return msgs.reduce(checkReceive, state);
}

function sendAll(state: ConnectionState, msgs: readonly Message[]): ConnectionState {
  return msgs.reduce(checkSend, state);
}

function protocolViolation(state: ConnectionState, msg: Message): ProtocolError {
  try {
    checkReceive(state, msg);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ kind: 'protocol', fatal: true });
    return error as ProtocolError;
  }
  throw new Error(`${msg.type} was accepted in phase ${state.phase}`);
}

/** A listener whose handshake completed. */
const openListener = (): ConnectionState => checkSend(checkReceive(initialConnectionState('listener'), SAMPLES.hello), SAMPLES.welcome);
/** A dialer whose handshake completed. */
const openDialer = (): ConnectionState => checkReceive(checkSend(initialConnectionState('dialer'), SAMPLES.hello), SAMPLES.welcome);

describe('handshake', () => {
  it('dialer: connecting → hello → awaiting-welcome → welcome → open', () => {
    let s = initialConnectionState('dialer');
    expect(s.phase).toBe('connecting');
    s = checkSend(s, SAMPLES.hello);
    expect(s.phase).toBe('awaiting-welcome');
    s = checkReceive(s, SAMPLES.welcome);
    expect(s.phase).toBe('open');
  });

  it('listener: awaiting-hello → hello → authenticating → welcome → open, or error → closed', () => {
    let s = initialConnectionState('listener');
    expect(s.phase).toBe('awaiting-hello');
    s = checkReceive(s, SAMPLES.hello);
    expect(s.phase).toBe('authenticating');
    expect(checkSend(s, SAMPLES.welcome).phase).toBe('open');
    expect(checkSend(s, { type: 'error', kind: 'auth', message: 'bad token', fatal: true }).phase).toBe('closed');
  });

  it('I1: nothing but hello is accepted before the handshake (the relay answers with protocol)', () => {
    const listener = initialConnectionState('listener');
    for (const msg of Object.values(SAMPLES)) {
      if (msg.type === 'hello' || msg.type === 'error') continue;
      expect(protocolViolation(listener, msg).message).toMatch(`${msg.type} is not valid while the connection is awaiting-hello`);
    }
    // Pipelining after hello, before welcome, is refused too: the dialer does not know the version yet.
    const authenticating = checkReceive(listener, SAMPLES.hello);
    protocolViolation(authenticating, SAMPLES.subscribe);
    protocolViolation(authenticating, SAMPLES.hello);
  });

  it('I2: hello and welcome are refused once open', () => {
    protocolViolation(openListener(), SAMPLES.hello);
    protocolViolation(openDialer(), SAMPLES.welcome);
  });

  it('an error during the handshake closes the connection even if not marked fatal', () => {
    const s = checkSend(initialConnectionState('dialer'), SAMPLES.hello);
    expect(checkReceive(s, { ...SAMPLES.error, fatal: false }).phase).toBe('closed');
  });

  it('a fatal error closes an open connection; a non-fatal one does not', () => {
    expect(checkReceive(openDialer(), { ...SAMPLES.error, fatal: true }).phase).toBe('closed');
    expect(checkReceive(openDialer(), { ...SAMPLES.error, fatal: false }).phase).toBe('open');
    expect(checkSend(openDialer(), { ...SAMPLES.error, fatal: true }).phase).toBe('closed');
  });

  it('after close, incoming messages are ignored and sending is a bug', () => {
    const closed = closedState(openDialer());
    expect(checkReceive(closed, SAMPLES.delivery)).toBe(closed);
    expect(() => checkSend(closed, SAMPLES.ping)).toThrow(InvariantError);
  });

  it('sending out of turn is an InvariantError, not a ProtocolError', () => {
    expect(() => checkSend(initialConnectionState('dialer'), SAMPLES.subscribe)).toThrow(InvariantError);
    expect(() => checkSend(initialConnectionState('listener'), SAMPLES.welcome)).toThrow(InvariantError);
    expect(() => checkSend(openDialer(), SAMPLES.hello)).toThrow(InvariantError);
  });
});

describe('streams', () => {
  it('I3: sync is accepted once per connection', () => {
    const s = checkReceive(openListener(), SAMPLES.sync);
    expect(s.outbound).toBe('catching-up');
    expect(protocolViolation(s, SAMPLES.sync).message).toMatch(/once per connection/);
    expect(() => checkSend(checkSend(openDialer(), SAMPLES.sync), SAMPLES.sync)).toThrow(InvariantError);
  });

  it('I4: no log or backfill delivery, and no caught-up, before this side sent sync; want answers always', () => {
    const s = openDialer();
    protocolViolation(s, delivery('log', 1));
    protocolViolation(s, delivery('backfill', 1));
    protocolViolation(s, SAMPLES['caught-up']);
    expect(checkReceive(s, delivery('want', 9)).deliveriesReceived).toBe(1);
  });

  it('I5: log positions strictly increase on a connection; caught-up never goes back', () => {
    let s = checkSend(openDialer(), SAMPLES.sync);
    expect(s.inbound).toBe('catching-up');
    s = receiveAll(s, [delivery('log', 3), delivery('log', 5)]);
    expect(s.inboundPos).toBe(5);
    protocolViolation(s, delivery('log', 5));
    protocolViolation(s, delivery('log', 4));
    protocolViolation(s, { type: 'caught-up', pos: 4, subscribes: 0 });
    s = checkReceive(s, { type: 'caught-up', pos: 9, subscribes: 0 });
    expect(s).toMatchObject({ inbound: 'live', inboundPos: 9 });
    // Backfill and want answers carry older positions without moving the cursor.
    s = receiveAll(s, [delivery('backfill', 2), delivery('want', 1)]);
    expect(s.inboundPos).toBe(9);
    // A repeated caught-up while live advances the cursor over entries that selected nothing.
    s = checkReceive(s, { type: 'caught-up', pos: 12, subscribes: 0 });
    expect(s.inboundPos).toBe(12);
    s = checkReceive(s, delivery('log', 13));
    expect(s.deliveriesReceived).toBe(5);
  });

  it('the first log delivery may be at or below since: a sender whose log was rolled back starts over', () => {
    const s = checkSend(openDialer(), { type: 'sync', since: 100 });
    expect(checkReceive(s, delivery('log', 1)).inboundPos).toBe(1);
  });

  it('the shipping side keeps the same rules for what it sends', () => {
    let s = openListener();
    expect(() => checkSend(s, delivery('log', 1))).toThrow(InvariantError);
    expect(() => checkSend(s, SAMPLES['caught-up'])).toThrow(InvariantError);
    s = sendAll(checkReceive(s, SAMPLES.sync), [delivery('log', 1), delivery('log', 2), { type: 'caught-up', pos: 4, subscribes: 0 }]);
    expect(s).toMatchObject({ outbound: 'live', outboundPos: 4, deliveriesSent: 2 });
    expect(() => checkSend(s, delivery('log', 4))).toThrow(InvariantError);
    expect(checkSend(s, delivery('backfill', 1)).deliveriesSent).toBe(3);
  });

  it('I6: an ack covers only deliveries that were sent, and never goes back', () => {
    let s = sendAll(checkReceive(openListener(), SAMPLES.sync), [delivery('log', 1), delivery('log', 2)]);
    protocolViolation(s, { type: 'ack', pos: 2, deliveries: 3 });
    s = checkReceive(s, { type: 'ack', pos: 1, deliveries: 1 });
    expect(s.peerAcked).toBe(1);
    protocolViolation(s, { type: 'ack', pos: 1, deliveries: 0 });
    s = checkReceive(s, { type: 'ack', pos: 2, deliveries: 2 });
    expect(s.deliveriesSent - s.peerAcked).toBe(0);
  });

  it('this side acks only deliveries it received, never going back', () => {
    let s = receiveAll(checkSend(openDialer(), SAMPLES.sync), [delivery('log', 1)]);
    expect(() => checkSend(s, { type: 'ack', pos: 1, deliveries: 2 })).toThrow(InvariantError);
    s = checkSend(s, { type: 'ack', pos: 1, deliveries: 1 });
    expect(() => checkSend(s, { type: 'ack', pos: 1, deliveries: 0 })).toThrow(InvariantError);
  });

  it('I7: caught-up covers only subscribe messages that were sent, and never fewer than before', () => {
    // subscribe(the set the cursor was earned under), sync, subscribe(the current, wider set).
    let s = sendAll(openDialer(), [SAMPLES.subscribe, SAMPLES.sync, SAMPLES.subscribe]);
    expect(s.subscribesSent).toBe(2);
    protocolViolation(s, { type: 'caught-up', pos: 1, subscribes: 3 });
    s = checkReceive(s, { type: 'caught-up', pos: 1, subscribes: 1 });
    expect(s.inboundSubscribes).toBe(1);
    protocolViolation(s, { type: 'caught-up', pos: 2, subscribes: 0 });
    expect(checkReceive(s, { type: 'caught-up', pos: 2, subscribes: 2 }).inboundSubscribes).toBe(2);
    // The shipping side may claim only subscribes it received.
    const shipper = receiveAll(openListener(), [SAMPLES.subscribe, SAMPLES.sync]);
    expect(() => checkSend(shipper, { type: 'caught-up', pos: 1, subscribes: 2 })).toThrow(InvariantError);
    expect(checkSend(shipper, { type: 'caught-up', pos: 1, subscribes: 1 }).outboundSubscribes).toBe(1);
  });

  it('want, unavailable, ping and pong are valid at any time once open, and subscribe is counted', () => {
    for (const s of [openDialer(), openListener()]) {
      expect(receiveAll(s, [SAMPLES.want, SAMPLES.unavailable, SAMPLES.ping, SAMPLES.pong])).toEqual(s);
      expect(sendAll(s, [SAMPLES.want, SAMPLES.unavailable, SAMPLES.ping, SAMPLES.pong])).toEqual(s);
      expect(checkReceive(s, SAMPLES.subscribe).subscribesReceived).toBe(1);
      expect(checkSend(s, SAMPLES.subscribe).subscribesSent).toBe(1);
    }
  });
});
