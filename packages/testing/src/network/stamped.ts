import type { DocInput, Draft, JsonObject, Query, Transaction } from '@atoll/store';

/** The field in which workload transactions stamp every document they write. */
export const STAMP_FIELD = '_tx';

/**
 * A transaction that stamps every document it inserts, upserts or updates with its token in
 * `_tx`, so an observer can tell from a document's value which transaction wrote it — what
 * the read-atomicity checker needs. Everything else is the store's {@link Transaction}.
 */
export interface StampedTransaction extends Transaction {
  /** This transaction's stamp, unique in the network: `<peer>#<n>`. */
  readonly token: string;
}

/**
 * Wraps a store transaction so that its writes carry `token`. With `written`, the key
 * (`collection/id`) of every document it writes, deletes included, is added to that set.
 */
export function stampTransaction(tx: Transaction, token: string, written?: Set<string>): StampedTransaction {
  const note = <T extends { _id: string }>(collection: string, doc: T): T => {
    written?.add(`${collection}/${doc._id}`);
    return doc;
  };
  const stampDraft = (change: (draft: Draft) => void | DocInput) => (draft: Draft): void | DocInput => {
    const result = change(draft);
    if (result !== undefined) return { ...result, [STAMP_FIELD]: token };
    draft[STAMP_FIELD] = token;
    return undefined;
  };
  const stamped: StampedTransaction = {
    token,
    info: tx.info,
    get<T extends JsonObject = JsonObject>(collection: string, id: string) {
      return tx.get<T>(collection, id);
    },
    find<T extends JsonObject = JsonObject>(query: Query) {
      return tx.find<T>(query);
    },
    findOne<T extends JsonObject = JsonObject>(query: Query) {
      return tx.findOne<T>(query);
    },
    async insert<T extends JsonObject = JsonObject>(collection: string, value: DocInput) {
      return note(collection, await tx.insert<T>(collection, { ...value, [STAMP_FIELD]: token }));
    },
    async upsert<T extends JsonObject = JsonObject>(collection: string, value: DocInput) {
      return note(collection, await tx.upsert<T>(collection, { ...value, [STAMP_FIELD]: token }));
    },
    async update<T extends JsonObject = JsonObject>(collection: string, id: string, change: (draft: Draft) => void | DocInput) {
      return note(collection, await tx.update<T>(collection, id, stampDraft(change)));
    },
    async delete(collection, id) {
      const deleted = await tx.delete(collection, id);
      if (deleted) written?.add(`${collection}/${id}`);
      return deleted;
    },
    // A nested transaction's writes count only if it commits into this one; a rolled-back one
    // may leave keys here, which at worst lets a commit match a token it could not be.
    transaction: (fn, options) => tx.transaction((inner) => fn(stampTransaction(inner, token, written)), options),
    observe: (query, callback) => tx.observe(query, callback),
    rollback: () => tx.rollback(),
  };
  return stamped;
}
