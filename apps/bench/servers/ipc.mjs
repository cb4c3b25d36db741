// The control channel every benchmark server speaks with the bench process (Node IPC):
// `ready` once it listens, `mem` answered after a full GC, `stop` to exit cleanly.
// Servers run with --expose-gc so memory figures are live objects, not garbage.

/** The small document every system seeds: the same shape everywhere. */
export function smallDoc(i) {
  return { title: `document ${i}`, n: i, done: i % 2 === 0 };
}

/** The key of the i-th seeded document. */
export const docName = (i) => `d${String(i).padStart(6, '0')}`;

export function memory() {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/**
 * Wires the IPC handlers. `handlers` maps a request type to an async function returning the
 * reply's fields; `stop` closes the server. The process exits by itself if the bench process
 * goes away (the IPC channel closes) or after `maxLifeMs`.
 */
export function serve(handlers, stop, maxLifeMs = 30 * 60_000) {
  const life = setTimeout(() => {
    console.error('benchmark server: lifetime exceeded, exiting');
    process.exit(3);
  }, maxLifeMs);
  life.unref();
  const exit = async () => {
    try {
      await stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('disconnect', () => void exit());
  process.on('message', (msg) => {
    const { id, type } = msg;
    const handler = type === 'mem' ? async () => memory() : type === 'stop' ? async () => ({}) : handlers[type];
    if (!handler) {
      process.send?.({ id, error: `unknown request ${type}` });
      return;
    }
    handler(msg).then(
      (reply) => {
        process.send?.({ id, ...reply }, () => {
          if (type === 'stop') void exit();
        });
      },
      (err) => process.send?.({ id, error: String(err?.stack ?? err) }),
    );
  });
}
