export { runTransportTests, type TransportHarness } from './transport-conformance.js';
