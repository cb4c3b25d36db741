import { BrowserUnsupportedError } from './errors.js';

/** The Web Locks manager of this tab or worker, or a clear error saying why there is none. */
export function webLocks(): LockManager {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (locks === undefined) {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    throw new BrowserUnsupportedError(
      secure === false
        ? 'Web Locks (navigator.locks) are only available in secure contexts: serve the app over https: or from localhost / 127.0.0.1'
        : 'this environment has no Web Locks (navigator.locks): @atoll/browser needs a browser tab or worker that supports them',
    );
  }
  return locks;
}

/** Checks for `BroadcastChannel`, which every tab uses to announce its commits. */
export function checkBroadcastChannel(): void {
  if (typeof globalThis.BroadcastChannel !== 'function') {
    throw new BrowserUnsupportedError('this environment has no BroadcastChannel: @atoll/browser needs it to tell the other tabs of a commit');
  }
}

/** Checks for IndexedDB, where the profile's data lives. */
export function checkIndexedDb(): void {
  if (typeof globalThis.indexedDB === 'undefined') {
    throw new BrowserUnsupportedError('this environment has no IndexedDB (some private browsing modes disable it): @atoll/browser keeps the profile’s data there');
  }
}

/** Whether the browser believes it is online (`navigator.onLine`; true where unknown). */
export function browserOnline(): boolean {
  return (globalThis.navigator as Navigator | undefined)?.onLine ?? true;
}

/** `addEventListener` on the global scope (window or worker), returning the remover; a no-op where there is none. */
export function onGlobal(type: string, listener: (event: Event) => void): () => void {
  const target = globalThis as Partial<EventTarget>;
  if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return () => {};
  target.addEventListener(type, listener);
  return () => target.removeEventListener?.(type, listener);
}

/** `addEventListener` on the document, where there is one (not in workers); returns the remover. */
export function onDocument(type: string, listener: (event: Event) => void): () => void {
  const doc = (globalThis as { document?: Document }).document;
  if (doc === undefined) return () => {};
  doc.addEventListener(type, listener);
  return () => doc.removeEventListener(type, listener);
}
