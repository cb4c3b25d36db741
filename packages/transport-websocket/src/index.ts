/**
 * `@atoll/transport-websocket`: Atoll's `Transport` (from `@atoll/sync`) over WebSockets — a server and a
 * client for Node on `ws`, and (also at `@atoll/transport-websocket/browser`, which never
 * imports `ws`) a client on the browser's native `WebSocket`.
 *
 * @packageDocumentation
 */
export { listenWebSocket, WebSocketListener, type WebSocketListenerAddress, type WebSocketListenerOptions } from './listener.js';
export { connectWebSocket, type ConnectWebSocketOptions } from './client.js';
export { connectBrowserWebSocket, type BrowserWebSocketOptions, type WebSocketConstructor, type WebSocketLike } from './browser.js';
export { WebSocketConnectError, WebSocketListenError } from './errors.js';
