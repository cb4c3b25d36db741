import { ProtocolError } from './protocol-error.js';

/** Bounds for {@link scanMsgpack}. */
export interface ScanLimits {
  /** Deepest nesting of arrays and maps. */
  readonly maxDepth: number;
  /** Most values (scalars, arrays, maps, map keys) in the frame. */
  readonly maxItems: number;
}

/**
 * Walks one msgpack value without building it, and refuses what the decoder should never see:
 * truncated or trailing data, the reserved byte 0xc1, extension types (msgpackr would turn them
 * into Dates, Sets, RegExps, Errors or references; the protocol uses none), nesting deeper than
 * `maxDepth` (the decoder recurses), more than `maxItems` values (a 1-byte empty map becomes a
 * JS object of tens of bytes), and containers announcing more entries than bytes remain (the
 * decoder pre-allocates them). Iterative, allocation-free apart from a depth stack, and linear
 * in the frame's size: strings and byte arrays are skipped by their length.
 *
 * @throws {ProtocolError} `malformed`, or `too-large` when `maxItems` is exceeded.
 */
export function scanMsgpack(bytes: Uint8Array, limits: ScanLimits): void {
  const end = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let items = 0;
  // Values still to read in each open container; `toRead` is the innermost one's count.
  const stack: number[] = [];
  let toRead = 1;

  const malformed = (why: string): ProtocolError => new ProtocolError('malformed', `undecodable frame: ${why} at byte ${pos}`);
  const need = (n: number): void => {
    if (pos + n > end) throw malformed('truncated msgpack data');
  };
  const skip = (n: number): void => {
    need(n);
    pos += n;
  };
  const u8 = (): number => {
    need(1);
    return view.getUint8(pos++);
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos);
    pos += 4;
    return v;
  };
  const open = (count: number): void => {
    if (count === 0) return;
    // Every value takes at least one byte, so a count beyond the bytes left is a lie.
    if (count > end - pos) throw malformed(`container of ${count} values in ${end - pos} bytes`);
    if (stack.length >= limits.maxDepth) throw malformed(`nesting deeper than ${limits.maxDepth}`);
    stack.push(toRead);
    toRead = count;
  };

  for (;;) {
    if (toRead === 0) {
      const outer = stack.pop();
      if (outer === undefined) break;
      toRead = outer;
      continue;
    }
    toRead--;
    if (++items > limits.maxItems) throw new ProtocolError('too-large', `frame holds more than ${limits.maxItems} msgpack values`);
    const b = u8();
    if (b <= 0x7f || b >= 0xe0) continue; // fixint
    if (b <= 0x8f) {
      open((b & 0x0f) * 2); // fixmap: keys and values
      continue;
    }
    if (b <= 0x9f) {
      open(b & 0x0f); // fixarray
      continue;
    }
    if (b <= 0xbf) {
      skip(b & 0x1f); // fixstr
      continue;
    }
    switch (b) {
      case 0xc0: // nil
      case 0xc2: // false
      case 0xc3: // true
        break;
      case 0xc4: // bin 8
      case 0xd9: // str 8
        skip(u8());
        break;
      case 0xc5: // bin 16
      case 0xda: // str 16
        skip(u16());
        break;
      case 0xc6: // bin 32
      case 0xdb: // str 32
        skip(u32());
        break;
      case 0xcc: // uint 8
      case 0xd0: // int 8
        skip(1);
        break;
      case 0xcd:
      case 0xd1:
        skip(2);
        break;
      case 0xca: // float 32
      case 0xce:
      case 0xd2:
        skip(4);
        break;
      case 0xcb: // float 64
      case 0xcf:
      case 0xd3:
        skip(8);
        break;
      case 0xdc:
        open(u16()); // array 16
        break;
      case 0xdd:
        open(u32()); // array 32
        break;
      case 0xde:
        open(u16() * 2); // map 16
        break;
      case 0xdf:
        open(u32() * 2); // map 32
        break;
      case 0xc1:
        pos--;
        throw malformed('reserved byte 0xc1');
      default: // 0xc7-0xc9 ext, 0xd4-0xd8 fixext
        pos--;
        throw malformed(`msgpack extension type (0x${b.toString(16)}), which the protocol does not use`);
    }
  }
  if (pos !== end) throw malformed(`${end - pos} trailing bytes after the message`);
}
