/**
 * `@atoll/browser`: what a web app calls to get a persistent, multi-tab, syncing Atoll peer —
 * a store on IndexedDB shared by every tab of the profile, writers serialized through a Web
 * Lock, commits announced on a BroadcastChannel, and one elected tab holding the relay
 * connection. The guide is `docs/browser.md`.
 *
 * @packageDocumentation
 */
export { BrowserPeer, openBrowserPeer, relaySyncUrl, type BrowserPeerOptions, type StatusListener } from './peer.js';
export type { BrowserPeerStatus, ConnectionStatus } from './status.js';
export type { TabRole } from './leader.js';
export { webLockWriterLock, type WebLockWriterLockOptions } from './writer-lock.js';
export { BrowserPeerError, BrowserUnsupportedError } from './errors.js';
