/**
 * The safetensors format (https://github.com/huggingface/safetensors), read and written by hand:
 *
 * ```text
 * 8 bytes    N, the header's length: an unsigned 64-bit little-endian integer
 * N bytes    the header: UTF-8 JSON, padded with spaces so that the data starts at a multiple of 8
 *            { "__metadata__": { "key": "value", ... },                  (optional, strings only)
 *              "0.weight": { "dtype": "F32", "shape": [4, 3], "data_offsets": [0, 48] }, ... }
 * the rest   the data: each tensor row-major and little-endian at [begin, end) of this region
 * ```
 *
 * As the reference implementation requires, the tensors' ranges must tile the data exactly: no
 * range past its end, no overlap, no byte that belongs to no tensor. `decodeSafetensors` checks
 * all of it before it returns, so a caller never acts on half of a bad file.
 */

/** Bytes per element of every dtype the format defines. */
const DTYPE_SIZES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/** The dtypes `toFloat32` converts: floats exactly, integers as the nearest float32. */
export const CONVERTIBLE = ['F32', 'F16', 'BF16', 'I64', 'I32'] as const;

/** The reference implementation refuses larger headers; so do we, before decoding one. */
const MAX_HEADER = 100_000_000;

/** One tensor of a file: its dtype, shape and raw little-endian bytes (a view into the file). */
export interface TensorEntry {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

export interface DecodedSafetensors {
  /** The tensors in the order of their data. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A float32 tensor to write. */
export interface TensorToWrite {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

function fail(what: string): never {
  throw new Error(`safetensors: ${what}`);
}

function showShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses and checks a whole file: the header's length, its JSON, every entry's dtype, shape and
 * offsets (in range, sized for the dtype and shape, tiling the data), and the metadata (strings).
 * Throws an error that names the tensor and what was expected.
 */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  if (!(bytes instanceof Uint8Array)) fail('expected the file as a Uint8Array');
  if (bytes.length < 8) fail(`the file holds ${bytes.length} bytes, fewer than the 8 of the header length: it is truncated or not a safetensors file`);
  const lengthField = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (lengthField > BigInt(bytes.length - 8)) {
    fail(`the header length is ${lengthField} bytes, but only ${bytes.length - 8} follow it: the file is truncated or not a safetensors file`);
  }
  const headerLength = Number(lengthField);
  if (headerLength > MAX_HEADER) fail(`the header length is ${headerLength} bytes, more than the format allows (${MAX_HEADER})`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail('the header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`the header must be a JSON object starting with '{', got ${JSON.stringify(text.slice(0, 20))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header must be a JSON object');

  const data = bytes.subarray(8 + headerLength);
  const ranges: { name: string; begin: number; end: number; dtype: string; shape: number[] }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(value);
      continue;
    }
    ranges.push({ name, ...checkEntry(name, value, data.length) });
  }

  // Sorted by position, each range must start where the previous one ended and the last must end
  // at the end of the data (empty tensors take no bytes and sit anywhere on that path).
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let previous = '';
  for (const r of ranges) {
    if (r.begin < at) fail(`tensors '${previous}' and '${r.name}' overlap: '${r.name}' begins at byte ${r.begin} of the data, before '${previous}' ends at ${at}`);
    if (r.begin > at) fail(`bytes ${at} to ${r.begin} of the data belong to no tensor (before '${r.name}'); the format allows no gaps`);
    at = r.end;
    previous = r.name;
  }
  if (at !== data.length) fail(`bytes ${at} to ${data.length} at the end of the data belong to no tensor; the format allows no gaps`);

  const tensors = new Map<string, TensorEntry>();
  for (const r of ranges) tensors.set(r.name, { dtype: r.dtype, shape: r.shape, bytes: data.subarray(r.begin, r.end) });
  return { tensors, metadata };
}

function checkMetadata(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('__metadata__ must be an object of strings');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(`__metadata__ must map strings to strings, but '${k}' holds ${JSON.stringify(v)}`);
  }
  return { ...(value as Record<string, string>) };
}

function checkEntry(name: string, value: unknown, dataLength: number): { begin: number; end: number; dtype: string; shape: number[] } {
  const where = `tensor '${name}'`;
  if (typeof value !== 'object' || value === null) fail(`${where}: expected { dtype, shape, data_offsets }, got ${JSON.stringify(value)}`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') fail(`${where}: dtype must be a string such as "F32", got ${JSON.stringify(dtype)}`);
  const size = DTYPE_SIZES[dtype];
  if (size === undefined) fail(`${where}: unknown dtype '${dtype}' (the format defines ${Object.keys(DTYPE_SIZES).join(', ')})`);
  if (!Array.isArray(shape) || !shape.every(isCount)) fail(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    fail(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    fail(`${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes): the file is truncated or its header is wrong`);
  }
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end - begin !== numel * size) {
    fail(`${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} ${showShape(shape)} takes ${numel * size}`);
  }
  return { begin, end, dtype, shape: shape as number[] };
}

/**
 * A tensor's values as float32: F32 bit for bit, F16 and BF16 exactly (every value they hold is
 * a float32), I64 and I32 rounded to the nearest float32 (exact up to 2^24).
 */
export function toFloat32(entry: TensorEntry): Float32Array {
  const { dtype, bytes } = entry;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      // A byte copy keeps every bit (NaN payloads too); typed arrays are little-endian on every
      // platform that runs WebGPU, as the format is.
      const out = new Float32Array(bytes.length / 4);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case 'BF16': {
      const bits = new Uint32Array(bytes.length / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F16': {
      const bits = new Uint32Array(bytes.length / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = halfToFloatBits(view.getUint16(2 * i, true));
      return new Float32Array(bits.buffer);
    }
    case 'I64':
      return Float32Array.from({ length: bytes.length / 8 }, (_, i) => Number(view.getBigInt64(8 * i, true)));
    case 'I32':
      return Float32Array.from({ length: bytes.length / 4 }, (_, i) => view.getInt32(4 * i, true));
    default:
      throw new Error(`safetensors: cannot convert ${dtype} to float32 (only ${CONVERTIBLE.join(', ')})`);
  }
}

/** IEEE binary16 → binary32 bits: subnormals normalised, infinities and NaN payloads kept. */
export function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  let e = 113;
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

/**
 * Writes float32 tensors in the given order, with optional string metadata. The header is padded
 * with spaces to a multiple of 8 bytes, as the reference writer does, so the data is aligned.
 */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = checkMetadata(metadata);
  let offset = 0;
  for (const { name, shape, data } of tensors) {
    if (typeof name !== 'string' || name === '' || name === '__metadata__') fail(`cannot write a tensor named ${JSON.stringify(name)}`);
    if (name in header) fail(`tensor '${name}' is given twice`);
    if (!(data instanceof Float32Array)) fail(`tensor '${name}': expected a Float32Array`);
    if (!shape.every(isCount) || shape.reduce((a, b) => a * b, 1) !== data.length) {
      fail(`tensor '${name}': shape ${showShape(shape)} does not hold its ${data.length} values`);
    }
    header[name] = { dtype: 'F32', shape: [...shape], data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const { data } of tensors) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}
