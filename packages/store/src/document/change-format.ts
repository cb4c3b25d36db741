/**
 * The numbers of Automerge's change chunk format that the store's reader
 * (`change-reader.ts`, which describes the layout) and writer (`change-writer.ts`) share.
 */

/** The chunk type of an uncompressed change. */
export const CHANGE_CHUNK = 1;

/** Column specifications: column id << 4 | column type (the deflate bit, 8, is never set here). */
export const OBJ_ACTOR = 0x01;
export const OBJ_CTR = 0x02;
export const KEY_ACTOR = 0x11;
export const KEY_CTR = 0x13;
export const KEY_STR = 0x15;
export const INSERT = 0x34;
export const ACTION = 0x42;
export const VAL_META = 0x56;
export const VAL_RAW = 0x57;
export const PRED_NUM = 0x70;
export const PRED_ACTOR = 0x71;
export const PRED_CTR = 0x73;

/** Operation actions. */
export const ACTION_SET = 1;
export const ACTION_DEL = 3;

/** Value metadata type codes (the low four bits; the rest is the length of the raw value). */
export const VALUE_NULL = 0;
export const VALUE_FALSE = 1;
export const VALUE_TRUE = 2;
export const VALUE_UINT = 3;
export const VALUE_INT = 4;
export const VALUE_FLOAT = 5;
export const VALUE_STRING = 6;
