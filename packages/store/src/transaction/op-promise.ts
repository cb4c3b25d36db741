/**
 * The promise every `tx` operation returns. It records whether anyone consumed it (`await`,
 * `.then`, `.catch`, `Promise.all` …), so the store can tell, when a block returns, which
 * operations were never awaited — the missing-`await` bug — and fail the commit naming them
 * instead of committing writes the code did not wait for.
 */
export class OpPromise<T> extends Promise<T> {
  observed = false;
  /** What the operation was, e.g. `tx.update('accounts', 'ann')`. */
  description = '';
  /** Set once the operation failed, with why. */
  failure: { readonly reason: unknown } | undefined;

  // Derived promises (from then/catch/finally) are plain promises.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  override then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.observed = true;
    return super.then(onfulfilled, onrejected);
  }
}

const noop = () => {};

/** Runs `fn` now and wraps its outcome in an {@link OpPromise}. */
export function runOp<T>(description: string, fn: () => T): OpPromise<T> {
  let op: OpPromise<T>;
  try {
    const value = fn();
    op = new OpPromise<T>((resolve) => resolve(value));
  } catch (err) {
    op = new OpPromise<T>((_, reject) => reject(err));
    op.failure = { reason: err };
  }
  return track(op, description);
}

/** Wraps a running asynchronous operation in an {@link OpPromise}. */
export function asyncOp<T>(description: string, promise: Promise<T>): OpPromise<T> {
  const op: OpPromise<T> = new OpPromise<T>((resolve, reject) => {
    promise.then(resolve, (err: unknown) => {
      op.failure = { reason: err };
      reject(err);
    });
  });
  return track(op, description);
}

function track<T>(op: OpPromise<T>, description: string): OpPromise<T> {
  op.description = description;
  // A rejection nobody awaited is reported by the commit (UnawaitedOperationError), not as
  // an unhandled rejection that would take a Node process down. Calling the base `then`
  // keeps `observed` false.
  void Promise.prototype.then.call(op, undefined, noop);
  return op;
}
