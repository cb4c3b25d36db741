/**
 * What `@automerge/automerge` resolves to in the demo's bundle (see vite.config.ts).
 *
 * Automerge's browser build imports its WebAssembly as an ES module, which Vite cannot load,
 * and its base64 build inlines the 3.6 MB module as a 4.9 MB string inside the JavaScript.
 * Instead, the slim build is initialised from the .wasm file itself: served as its own asset,
 * compiled while it streams in, cached by the browser, and shared by both pages. Top-level
 * await keeps every importer (the store) waiting until it is ready.
 */
import { initializeWasm } from '@automerge/automerge/slim';
import wasmUrl from '@automerge/automerge/automerge.wasm?url';

await initializeWasm(wasmUrl);

export * from '@automerge/automerge/slim';
