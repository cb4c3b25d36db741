export { SyncPeer, type SyncPeerEvents, type SyncPeerOptions } from './peer.js';
export { Connection, OPEN_POLICY, type PeerPolicy, type RemotePeer } from './connection.js';
export { Dialer, type DialOptions, type DialerStatus } from './dialer.js';
export { selects, newlySelected, subscriptionsKey } from './subscriptions.js';
export { createMemoryTransportPair, MemoryTransport, TransportClosedError, type CloseInfo, type MemoryTransportOptions, type Transport } from './transport/index.js';
export type { Atomicity, MissingReason, PendingTransaction, TornTransaction } from './atomicity.js';
