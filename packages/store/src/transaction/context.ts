/**
 * Which read-write transaction the running code belongs to, where the runtime can tell
 * (AsyncLocalStorage in Node, Deno and Bun). It lets the store refuse, with a clear error, a
 * store write started inside a read-write block without its `tx` — a call that would
 * otherwise wait for the block forever. Where there is no async context (browsers), the
 * writer queue's watchdog reports the stall instead.
 */
export interface TxContext {
  readonly store: object;
  readonly hint: string | undefined;
}

interface AsyncLocalStorageLike<T> {
  getStore(): T | undefined;
  run<R>(store: T, fn: () => R): R;
}

type AlsConstructor = new <T>() => AsyncLocalStorageLike<T>;

function findAsyncLocalStorage(): AlsConstructor | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:async_hooks') as { AsyncLocalStorage?: AlsConstructor } | undefined;
  return mod?.AsyncLocalStorage;
}

const Als = findAsyncLocalStorage();
const storage: AsyncLocalStorageLike<TxContext> | undefined = Als ? new Als<TxContext>() : undefined;

/** Whether this runtime tracks async context (and so detects the deadlock by itself). */
export const tracksAsyncContext = storage !== undefined;

/** The read-write transaction the caller runs inside, if the runtime can tell. */
export function currentTransaction(): TxContext | undefined {
  return storage?.getStore();
}

/** Runs `fn` as part of a read-write transaction. */
export function runInTransaction<R>(ctx: TxContext, fn: () => R): R {
  return storage ? storage.run(ctx, fn) : fn();
}
