import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { validateFilter, type Filter } from '../filter.js';
import { LIMITS } from '../limits.js';

/**
 * Counts a filter's nodes without recursion and stops at the limit, so a hostile filter costs
 * at most {@link LIMITS.filterNodes} steps before it is refused. Only arrays and plain objects
 * are entered: anything else (a byte array, say) is one node, which `validateFilter` then
 * rejects as not JSON — walking a decoded 16 MB byte array key by key would be the attack.
 */
function filterSizeProblem(filter: unknown): string | undefined {
  const stack: unknown[] = [filter];
  let nodes = 0;
  while (stack.length > 0) {
    const value = stack.pop();
    if (++nodes > LIMITS.filterNodes) return `a filter may have at most ${LIMITS.filterNodes} nodes`;
    if (typeof value === 'string') {
      if (value.length > LIMITS.filterStringLength) return `strings in a filter may have at most ${LIMITS.filterStringLength} characters`;
    } else if (Array.isArray(value)) {
      for (const v of value as unknown[]) stack.push(v);
    } else if (isPlainObject(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (k.length > LIMITS.filterStringLength) return `paths in a filter may have at most ${LIMITS.filterStringLength} characters`;
        nodes++;
        stack.push(v);
      }
    }
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The unrefined base of {@link FilterSchema}; exported only so the JSON Schema description can name it. */
export const FilterBaseSchema = z.custom<Filter>();

/**
 * A subscription's `where`: the store's filter AST ({@link Filter}), checked by
 * {@link validateFilter} after a size check. The AST is the same one queries use, so a peer
 * selects exactly what another would ship.
 */
export const FilterSchema = FilterBaseSchema.superRefine((value, ctx) => {
  const problem = filterSizeProblem(value);
  if (problem !== undefined) {
    ctx.addIssue({ code: 'custom', message: problem });
    return;
  }
  try {
    validateFilter(value, 'where');
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.message });
  }
});

/**
 * How the filter language appears in the schema hash (see `messageJsonSchemas`): the operator
 * set and the limits. JSON Schema cannot express the AST's rules, so this stands in for them —
 * change it when the filter language changes, and the hash (and the protocol version) follows.
 */
export const FILTER_JSON_SCHEMA = {
  type: 'object',
  'x-atoll-filter': {
    logical: ['$and', '$or', '$not'],
    field: ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$not'],
    maxDepth: 32,
    maxNodes: LIMITS.filterNodes,
    maxStringLength: LIMITS.filterStringLength,
  },
} as const;
