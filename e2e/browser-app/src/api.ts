// What the fixture page puts on `window.atoll` for the Playwright tests. Type-only, so the
// tests can import it without pulling the page's code into Node.
import type { BrowserPeer, BrowserPeerStatus } from '@atoll/browser';
import type { Doc } from '@atoll/store';

/** The fixture's API, available once the peer is open. */
export interface FixtureApi {
  readonly peer: BrowserPeer;
  /** Upserts `items/<id>` with `fields`. */
  put(id: string, fields: Record<string, unknown>): Promise<void>;
  /** Sets `fields` on the existing `items/<id>`, keeping its other fields (a field-level change). */
  update(id: string, fields: Record<string, unknown>): Promise<void>;
  /** Adds 1 to `items/<id>.n`, `times` times, all started at once (each its own transaction). */
  increment(id: string, times: number): Promise<void>;
  /** `items/<id>` as this tab's store holds it now. */
  get(id: string): Promise<Doc | undefined>;
  /** What the tab's live query on `items` last emitted. */
  readonly seen: readonly Doc[];
  /** How many times that live query has fired. */
  readonly emissions: number;
  /** Deliveries this tab's sync peer has received from the relay. */
  readonly deliveries: number;
  status(): BrowserPeerStatus;
  close(): Promise<void>;
}

declare global {
  interface Window {
    /** Set by the fixture page once its peer is open. */
    atoll?: FixtureApi;
  }
}
