// The transport subsystem: the interface every connection implements, and the in-memory pair.
export { TransportClosedError, type CloseInfo, type Transport } from './transport.js';
export { createMemoryTransportPair, MemoryTransport, type MemoryTransportOptions } from './memory.js';
