import { AtollError } from '@atoll/protocol';

/** The root of the errors `@atoll/browser` throws itself (store and sync errors keep their own classes). */
export class BrowserPeerError extends AtollError {}

/**
 * The environment lacks something a browser peer cannot work without: Web Locks
 * (`navigator.locks`), `BroadcastChannel` or IndexedDB. Web Locks exist only in secure contexts:
 * serve the app over `https:` or from `localhost` / `127.0.0.1`.
 */
export class BrowserUnsupportedError extends BrowserPeerError {}
