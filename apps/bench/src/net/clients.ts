// One client interface over the four systems, so every network benchmark runs the same code
// against Atoll (SyncPeer over @atoll/transport-websocket, in-memory store), automerge-repo
// (Repo + WebSocket client adapter, no storage), Yjs (WebsocketProvider) and the bare echo relay.
// A "document" is one small record with a numeric field `v` that writers set.
import { Repo, type AutomergeUrl, type DocHandle } from '@automerge/automerge-repo';
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket';
import { parseDocKey, type Filter } from '@atoll/protocol';
import { Store } from '@atoll/store';
import { SyncPeer, type Dialer } from '@atoll/sync';
import { connectWebSocket } from '@atoll/transport-websocket';
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import type { SystemName } from '../catalog.js';
import { quietLogger, sleep, until } from '../context.js';

export interface EditClient {
  readonly system: SystemName;
  /** Sets `v` of document `doc` (creating it on first write). */
  write(doc: string, v: number): void;
  /** Starts following `doc`, which some client has written; resolves once this client has it. */
  follow(doc: string): Promise<void>;
  /** Called for every change from elsewhere this client applies, with the document's `v` now. */
  onRemote: ((doc: string, v: number) => void) | undefined;
  close(): Promise<void>;
}

/** Makes clients of one system, all talking to one server through `url`. */
export interface ClientFactory {
  readonly system: SystemName;
  connect(): Promise<EditClient>;
}

const CONNECT_MS = 15_000;

// ---- Atoll ----------------------------------------------------------------------------------

class AtollClient implements EditClient {
  readonly system = 'atoll' as const;
  onRemote: ((doc: string, v: number) => void) | undefined;
  readonly store: Store;
  peer: SyncPeer;
  dialer: Dialer;
  readonly #collection: string;

  constructor(store: Store, peer: SyncPeer, dialer: Dialer, collection: string) {
    this.store = store;
    this.peer = peer;
    this.dialer = dialer;
    this.#collection = collection;
    store.onCommit((event) => {
      if (event.source !== 'remote' || !this.onRemote) return;
      for (const key of event.keys) {
        const { collection, id } = parseDocKey(key);
        const value = store.selectionValue(collection, id);
        if (value) this.onRemote(id, value['v'] as number);
      }
    });
  }

  static async connect(url: string, collection: string): Promise<AtollClient> {
    const store = await Store.open({ logger: quietLogger });
    const { peer, dialer } = await AtollClient.dial(store, url, collection);
    return new AtollClient(store, peer, dialer, collection);
  }

  /** A sync peer on `store` subscribed to `collection`, dialed and caught up. */
  static dial(store: Store, url: string, collection: string, timeoutMs = CONNECT_MS): Promise<{ peer: SyncPeer; dialer: Dialer }> {
    return AtollClient.dialWhere(store, url, collection, undefined, timeoutMs);
  }

  /** The same with a filter on the subscription. */
  static async dialWhere(store: Store, url: string, collection: string, where: Filter | undefined, timeoutMs = CONNECT_MS): Promise<{ peer: SyncPeer; dialer: Dialer }> {
    const { peer, dialer, caughtUp } = AtollClient.start(store, url, collection, where);
    const ok = await until(caughtUp, timeoutMs, 2);
    if (!ok) {
      await peer.close();
      throw new Error(`atoll client: not caught up with ${url} within ${timeoutMs} ms (${dialer.status}${dialer.lastError ? `: ${dialer.lastError.message}` : ''})`);
    }
    return { peer, dialer };
  }

  /** A sync peer on `store`, dialing `url`; `caughtUp()` says whether the first catch-up is done. */
  static start(store: Store, url: string, collection: string, where?: Filter): { peer: SyncPeer; dialer: Dialer; caughtUp: () => boolean } {
    const peer = new SyncPeer({ store, subscriptions: [where ? { id: 'bench', collection, where } : { id: 'bench', collection }], logger: quietLogger });
    let caughtUp = false;
    const off = peer.events.on('caught-up', () => {
      caughtUp = true;
      off();
    });
    const dialer = peer.dial(() => connectWebSocket(url));
    return { peer, dialer, caughtUp: () => caughtUp };
  }

  write(doc: string, v: number): void {
    this.store.upsert(this.#collection, { _id: doc, v }).catch((err: unknown) => console.error('atoll write failed', err));
  }

  async follow(doc: string): Promise<void> {
    if (!(await until(() => this.store.has(this.#collection, doc), CONNECT_MS))) throw new Error(`atoll client never received ${doc}`);
  }

  async close(): Promise<void> {
    await this.peer.close();
    await this.store.close();
  }
}

// ---- automerge-repo ---------------------------------------------------------------------------

type VDoc = { v: number };

class AutomergeClient implements EditClient {
  readonly system = 'automerge-repo' as const;
  onRemote: ((doc: string, v: number) => void) | undefined;
  readonly repo: Repo;
  readonly #urls: Map<string, AutomergeUrl>;
  readonly #handles = new Map<string, DocHandle<VDoc>>();
  readonly #serverUrl: string;

  constructor(repo: Repo, urls: Map<string, AutomergeUrl>, serverUrl: string) {
    this.repo = repo;
    this.#urls = urls;
    this.#serverUrl = serverUrl;
  }

  static async connect(url: string, urls: Map<string, AutomergeUrl>): Promise<AutomergeClient> {
    const repo = new Repo({ network: [new WebSocketClientAdapter(url)] });
    if (!(await until(() => repo.peers.length > 0, CONNECT_MS))) {
      await shutdownRepo(repo);
      throw new Error(`automerge-repo client: no peer at ${url} within ${CONNECT_MS} ms`);
    }
    return new AutomergeClient(repo, urls, url);
  }

  write(doc: string, v: number): void {
    let handle = this.#handles.get(doc);
    if (!handle) {
      handle = this.repo.create<VDoc>({ v });
      this.#handles.set(doc, handle);
      this.#urls.set(doc, handle.url);
      return;
    }
    handle.change((d) => void (d.v = v));
  }

  /**
   * Makes sure the server holds a document just created here: a probe repo finds it through
   * the server (the server does not announce, so a find before it has the document fails).
   */
  async published(doc: string): Promise<void> {
    const url = this.#urls.get(doc);
    if (!url) throw new Error(`automerge-repo: ${doc} was never created`);
    for (let attempt = 0; attempt < 100; attempt++) {
      const probe = new Repo({ network: [new WebSocketClientAdapter(this.#serverUrl)] });
      try {
        await until(() => probe.peers.length > 0, CONNECT_MS);
        await probe.find(url, { signal: AbortSignal.timeout(2000) });
        return;
      } catch {
        await sleep(50);
      } finally {
        await shutdownRepo(probe);
      }
    }
    throw new Error(`automerge-repo: the server never had ${doc}`);
  }

  async follow(doc: string): Promise<void> {
    if (!(await until(() => this.#urls.has(doc), CONNECT_MS))) throw new Error(`automerge-repo: nobody created ${doc}`);
    const handle = await this.repo.find<VDoc>(this.#urls.get(doc) as AutomergeUrl, { signal: AbortSignal.timeout(CONNECT_MS) });
    this.#handles.set(doc, handle);
    handle.on('change', ({ doc: value }) => this.onRemote?.(doc, value.v));
  }

  async close(): Promise<void> {
    await shutdownRepo(this.repo);
  }
}

// ---- Yjs ------------------------------------------------------------------------------------

class YjsClient implements EditClient {
  readonly system = 'yjs' as const;
  onRemote: ((doc: string, v: number) => void) | undefined;
  readonly doc: Y.Doc;
  readonly provider: WebsocketProvider;
  readonly root: Y.Map<Y.Map<number>>;

  constructor(doc: Y.Doc, provider: WebsocketProvider) {
    this.doc = doc;
    this.provider = provider;
    this.root = doc.getMap<Y.Map<number>>('docs');
    this.root.observeDeep((events, tr) => {
      if (tr.local || !this.onRemote) return;
      const names = new Set<string>();
      for (const e of events) {
        if (e.target === this.root) for (const k of e.keys.keys()) names.add(k);
        else if (typeof e.path[0] === 'string') names.add(e.path[0]);
      }
      for (const name of names) {
        const v = this.root.get(name)?.get('v');
        if (v !== undefined) this.onRemote(name, v);
      }
    });
  }

  static async connect(url: string, room: string): Promise<YjsClient> {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true });
    if (!(await until(() => provider.synced, CONNECT_MS))) {
      provider.destroy();
      throw new Error(`yjs client: not synced with ${url}/${room} within ${CONNECT_MS} ms`);
    }
    return new YjsClient(doc, provider);
  }

  write(name: string, v: number): void {
    this.doc.transact(() => {
      let m = this.root.get(name);
      if (!m) {
        m = new Y.Map<number>();
        this.root.set(name, m);
      }
      m.set('v', v);
    });
  }

  async follow(name: string): Promise<void> {
    if (!(await until(() => this.root.has(name), CONNECT_MS))) throw new Error(`yjs client never received ${name}`);
  }

  async close(): Promise<void> {
    this.provider.destroy();
    this.doc.destroy();
  }
}

// ---- the bare echo relay --------------------------------------------------------------------

class RawClient implements EditClient {
  readonly system = 'raw' as const;
  onRemote: ((doc: string, v: number) => void) | undefined;
  readonly ws: WebSocket;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { d: string; v: number };
      this.onRemote?.(msg.d, msg.v);
    });
  }

  static async connect(url: string): Promise<RawClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawClient(ws);
  }

  write(doc: string, v: number): void {
    this.ws.send(Buffer.from(JSON.stringify({ d: doc, v })));
  }

  async follow(): Promise<void> {}

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close();
    await Promise.race([closed, sleep(2000)]);
    this.ws.terminate();
  }
}

export { AtollClient, AutomergeClient, YjsClient, RawClient };

/**
 * Shuts an automerge-repo `Repo` down. Its WebSocket adapter throws from `shutdown` when its
 * socket is still connecting (a reconnect in progress): the measurement is over by then, so that
 * error must not end the whole run.
 */
export async function shutdownRepo(repo: Repo): Promise<void> {
  try {
    await repo.shutdown();
  } catch (err) {
    if (!(err instanceof Error && /closed before the connection was established/.test(err.message))) throw err;
  }
}

const directories = new Map<string, Map<string, AutomergeUrl>>();

/** A client factory for `system`, talking to the server at `url`; `space` keeps tests apart. */
export function clientFactory(system: SystemName, url: string, space: string): ClientFactory & { automergeUrls?: Map<string, AutomergeUrl> } {
  switch (system) {
    case 'atoll':
      return { system, connect: () => AtollClient.connect(url, space) };
    case 'automerge-repo': {
      // Every client of one server shares the names → URLs directory (documents have URLs, not names).
      let urls = directories.get(url);
      if (!urls) directories.set(url, (urls = new Map()));
      const shared = urls;
      return { system, automergeUrls: shared, connect: () => AutomergeClient.connect(url, shared) };
    }
    case 'yjs':
      return { system, connect: () => YjsClient.connect(url, space) };
    case 'raw':
      return { system, connect: () => RawClient.connect(url) };
  }
}

/**
 * Creates document `doc` from `writer` and has every client in `followers` follow it: the
 * common set-up of the network tests.
 */
export async function share(writer: EditClient, followers: readonly EditClient[], doc: string): Promise<void> {
  writer.write(doc, 0);
  if (writer instanceof AutomergeClient) await writer.published(doc);
  await Promise.all(followers.map((f) => f.follow(doc)));
}
