// One valid message of every type, typed as a complete record so a new message type cannot
// be added without a sample (and so without the round-trip and hash tests covering it).
import { docKey, txId, type DocKey, type LogId, type MessageOf, type MessageType, type PeerId } from '../src/index.js';

export const peerA = 'peer-a' as PeerId;
export const peerB = 'peer-b' as PeerId;
export const logA = 'log-a' as LogId;
export const logB = 'log-b' as LogId;
export const tx1 = txId(peerA, 1);
export const kAnn: DocKey = docKey('people', 'ann');
export const kBob: DocKey = docKey('people', 'bob');
export const kSecret: DocKey = docKey('secrets', 's1');
export const kBig: DocKey = docKey('blobs', 'b/with/slashes');

export const SAMPLES: { readonly [T in MessageType]: MessageOf<T> } = {
  hello: { type: 'hello', versions: [1], peerId: peerA, token: 's3cret', role: 'client', logId: logA, maxBytes: 16 * 1024 * 1024 },
  welcome: { type: 'welcome', version: 1, peerId: peerB, role: 'relay', logId: logB, maxBytes: 8 * 1024 * 1024 },
  error: { type: 'error', kind: 'forbidden', message: 'people/ann is outside your write scope', fatal: false, txId: tx1 },
  subscribe: {
    type: 'subscribe',
    subs: [
      { id: 'all-people', collection: 'people' },
      { id: 'rich', collection: 'accounts', where: { balance: { $gte: 1000 }, $or: [{ owner: 'ann' }, { 'tags.0': 'vip' }] } },
      { id: 'everything', collection: '*' },
    ],
  },
  sync: { type: 'sync', since: 41 },
  'caught-up': { type: 'caught-up', pos: 57, subscribes: 1 },
  delivery: {
    type: 'delivery',
    via: 'log',
    pos: 42,
    tx: { id: tx1, origin: peerA, seq: 1, time: 1_700_000_000_123, hint: 'transfer' },
    manifest: [kAnn, kBob, kBig],
    redacted: 1,
    parts: [
      { key: kAnn, changes: [new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]), new Uint8Array(300).fill(7)] },
      { key: kBob, changes: [new Uint8Array([9])], deleted: true },
    ],
    omitted: [{ key: kBig, reason: 'not-held' }],
  },
  ack: { type: 'ack', pos: 42, deliveries: 3 },
  want: { type: 'want', txId: tx1, keys: [kBig] },
  unavailable: { type: 'unavailable', txId: tx1, keys: [kBig] },
  ping: { type: 'ping', nonce: 0xffff_ffff },
  pong: { type: 'pong', nonce: 0 },
};
