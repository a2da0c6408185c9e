// A minimal protobuf wire-format codec: just what the page needs.
//
// Writing: a Writer appends fields in the order they are called; every field
// that is called is written, even when it holds its default value (proto2
// `required` fields must be present on the wire, and the signaling server
// checks). Reading: `parse` turns one message into a Fields object that keeps
// every occurrence of every field number; typed accessors interpret them.
// Integers that may exceed 2^53 (uint64 serial numbers) are BigInt.

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;
const FIXED32 = 5;

function varintBytes(value) {
  // uint32, uint64, int64 (two's complement in 64 bits), enum and bool all
  // travel as a base-128 varint of their unsigned 64-bit value.
  let v = BigInt.asUintN(64, BigInt(value));
  const out = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

export class Writer {
  #chunks = [];

  #key(field, wireType) {
    this.#chunks.push(varintBytes((field << 3) | wireType));
  }

  /** uint32 / uint64 / int64 / enum: a varint. */
  uint(field, value) {
    this.#key(field, VARINT);
    this.#chunks.push(varintBytes(value));
    return this;
  }

  bool(field, value) {
    return this.uint(field, value ? 1 : 0);
  }

  /** float: 4 bytes little-endian IEEE 754. */
  float(field, value) {
    this.#key(field, FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.#chunks.push(bytes);
    return this;
  }

  bytes(field, value) {
    this.#key(field, LENGTH);
    this.#chunks.push(varintBytes(value.length), value);
    return this;
  }

  string(field, value) {
    return this.bytes(field, utf8.encode(value));
  }

  /** An embedded message, given as a Writer or as its encoded bytes. */
  message(field, value) {
    return this.bytes(field, value instanceof Writer ? value.finish() : value);
  }

  finish() {
    const size = this.#chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(size);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

/** Decoded fields of one message: field number -> every value seen, in order. */
export class Fields {
  constructor(values) {
    this.values = values; // Map<number, Array<bigint | Uint8Array>>
  }

  has(field) {
    return this.values.has(field);
  }

  #last(field) {
    const all = this.values.get(field);
    return all === undefined ? undefined : all[all.length - 1];
  }

  /** A varint field as BigInt (uint64), or `fallback` when absent. */
  big(field, fallback = 0n) {
    const v = this.#last(field);
    if (v === undefined) return fallback;
    if (typeof v !== "bigint") throw new Error(`field ${field} is not a varint`);
    return v;
  }

  /** A varint field that fits a JS number (uint32, enum). */
  uint(field, fallback = 0) {
    return this.has(field) ? Number(this.big(field)) : fallback;
  }

  bool(field, fallback = false) {
    return this.has(field) ? this.big(field) !== 0n : fallback;
  }

  bytes(field, fallback = new Uint8Array(0)) {
    const v = this.#last(field);
    if (v === undefined) return fallback;
    if (!(v instanceof Uint8Array)) throw new Error(`field ${field} is not length-delimited`);
    return v;
  }

  string(field, fallback = "") {
    return this.has(field) ? fromUtf8.decode(this.bytes(field)) : fallback;
  }

  /** An embedded message, or undefined when absent. */
  message(field) {
    return this.has(field) ? parse(this.bytes(field)) : undefined;
  }

  /** Every occurrence of a repeated embedded message. */
  messages(field) {
    return (this.values.get(field) ?? []).map((v) => parse(v));
  }
}

/** Parse one encoded message. Throws on malformed input. */
export function parse(bytes) {
  const values = new Map();
  let at = 0;

  function readVarint() {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= bytes.length) throw new Error("protobuf: truncated varint");
      const b = bytes[at++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
      if (shift > 63n) throw new Error("protobuf: varint too long");
    }
  }

  function take(n) {
    if (n < 0 || at + n > bytes.length) throw new Error("protobuf: field overruns the message");
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  }

  while (at < bytes.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wireType = key & 7;
    if (field === 0) throw new Error("protobuf: field number 0");
    let value;
    if (wireType === VARINT) value = readVarint();
    else if (wireType === FIXED64) value = take(8);
    else if (wireType === LENGTH) value = take(Number(readVarint()));
    else if (wireType === FIXED32) value = take(4);
    else throw new Error(`protobuf: unsupported wire type ${wireType}`);
    if (!values.has(field)) values.set(field, []);
    values.get(field).push(value);
  }
  return new Fields(values);
}
