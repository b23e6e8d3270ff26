// Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC 2011), bit for bit the philox4x32 of Random123 at 10 rounds.
// Shared helpers with no bindings, built as common.wgsl + random.wgsl + the kernel's file. The
// CPU twin is src/backend/cpu/twins/random.ts.
//
// One round maps counter c = (c0, c1, c2, c3) under key k = (k0, k1) to
//   (hi0, lo0) = M0 * c0,  (hi1, lo1) = M1 * c2          (full 32 x 32 -> 64-bit products)
//   c' = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
// with M0 = 0xD2511F53, M1 = 0xCD9E8D57. Ten rounds; between rounds the key grows by the Weyl
// constants (0x9E3779B9, 0xBB67AE85), modulo 2^32.
//
// Random words of a stream, a pure function of (seed, step, stream, element i):
//   word(seed, step, stream, i) = philox(ctr = (i >> 2, stream, step, 0),
//                                        key = (seed, 0x44657363))[i & 3]
// so one Philox call gives the words of the four consecutive elements 4q .. 4q + 3 (the "quad" q).
// 0x44657363 is "Desc" in ASCII, a fixed second key word. `seed` and `step` are the words of the
// step_info graph input, `stream` is the id of the random layer (Graph.randomStream()).
//
//   uniform24(r) = f32(r >> 8) * 2^-24, a uniform in [0, 1 - 2^-24] on a grid of 2^-24:
//   the top 24 bits fit a f32 mantissa and the scale is a power of two, so it is exact.
//
// Locals here avoid WGSL builtin and keyword-like names (`step` is a builtin; the reflection parser
// rejects `block`) and the binding names of the kernels that include this file (reflection counts a
// helper's local as a use of a module-scope binding of the same name).

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;
const STREAM_KEY: u32 = 0x44657363u;

// (high, low) words of the 64-bit product a * b, from four 16 x 16-bit partial products (WGSL
// has no 64-bit integers; every partial product and the middle sum stay below 2^32).
fn mul_hi_lo(a: u32, b: u32) -> vec2u {
  let a_lo = a & 0xFFFFu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xFFFFu;
  let b_hi = b >> 16u;
  let ll = a_lo * b_lo;
  let lh = a_lo * b_hi;
  let hl = a_hi * b_lo;
  let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
  let hi = a_hi * b_hi + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2u(hi, a * b);
}

fn philox4x32_10(ctr: vec4u, key: vec2u) -> vec4u {
  var c = ctr;
  var k = key;
  for (var rnd = 0u; rnd < 10u; rnd++) {
    if (rnd > 0u) {
      k = k + vec2u(PHILOX_W0, PHILOX_W1);
    }
    let p0 = mul_hi_lo(PHILOX_M0, c.x);
    let p1 = mul_hi_lo(PHILOX_M1, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
  }
  return c;
}

// The words of elements 4 * quad .. 4 * quad + 3 of a stream (see the mapping above).
fn random_quad(seed: u32, step_no: u32, stream: u32, quad: u32) -> vec4u {
  return philox4x32_10(vec4u(quad, stream, step_no, 0u), vec2u(seed, STREAM_KEY));
}

fn uniform24(r: u32) -> f32 {
  return f32(r >> 8u) * (1.0 / 16777216.0);
}
