/**
 * The twin of shaders/random.wgsl: Philox4x32-10 (Random123's philox4x32 at 10 rounds) and the
 * stream mapping shared by the random kernels, bit for bit:
 *
 *   word(seed, step, stream, i) = philox(ctr = (i >> 2, stream, step, 0), key = (seed, STREAM_KEY))[i & 3]
 *   uniform24(r) = (r >>> 8) * 2^-24
 *
 * Everything is 32-bit unsigned arithmetic on plain numbers: the high word of a 32 x 32-bit
 * product is assembled from 16-bit halves, so no BigInt and no allocation in the hot loop.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** The fixed second key word of every stream ("Desc" in ASCII); the first is the seed. */
export const STREAM_KEY = 0x44657363;

const TWO_POW_MINUS_24 = 2 ** -24;

/**
 * High 32 bits of the 64-bit product of two u32 values, exactly: the four 16 x 16-bit partial
 * products and the middle sum stay below 2^32, where doubles are exact.
 */
export function mulHi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const ll = aLo * bLo;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aHi * bHi + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** Philox4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1), written to `out`. */
function philoxInto(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulHi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulHi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** Philox4x32-10: four u32 counter words and two u32 key words to four random u32 words. */
export function philox4x32(ctr: ArrayLike<number>, key: ArrayLike<number>, out = new Uint32Array(4)): Uint32Array {
  philoxInto(ctr[0]! >>> 0, ctr[1]! >>> 0, ctr[2]! >>> 0, ctr[3]! >>> 0, key[0]! >>> 0, key[1]! >>> 0, out);
  return out;
}

/** The words of elements 4 * quad .. 4 * quad + 3 of a stream, written to `out`. */
export function randomQuad(seed: number, step: number, stream: number, quad: number, out: Uint32Array): Uint32Array {
  philoxInto(quad >>> 0, stream >>> 0, step >>> 0, 0, seed >>> 0, STREAM_KEY, out);
  return out;
}

/** A uniform in [0, 1 - 2^-24] from the top 24 bits of a word; exact in float32. */
export function uniform24(r: number): number {
  return (r >>> 8) * TWO_POW_MINUS_24;
}
