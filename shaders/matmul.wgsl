// Matrix product with a fused gate prologue and a bias + activation epilogue (all f32, row-major):
//
//   a_eff[m, k] = opA(A)[m, k] * (gate_a ? act_grad(act_gate, opA(G)[m, k], alpha) : 1)
//   C[m, n]     = act_forward(act, sum_k a_eff[m, k] * opB(B)[k, n] + (has_bias ? bias[n] : 0), alpha)
//   bias_out[m] = sum_k a_eff[m, k]                                   (only when ones_col = 1)
//
// opA(A) is A stored [M, K], or its transpose stored [K, M] when trans_a = 1; opB(B) likewise
// with [K, N] / [N, K] and trans_b. The gate G has A's storage layout. The gate fuses an
// activation backward (dz = dy * act'(y)) into the matmul that consumes dz; ones_col gives the
// bias gradient of that layer (a column-sum of dz) in the same dispatch.
//
// Each workgroup computes a tile_m x tile_n block of C (tile_m = 16 * wg_y, tile_n = 16 * wg_x),
// walking K in steps of tile_k through workgroup memory; each invocation owns a 16 x 16 block of
// C in registers. On SwiftShader every read of workgroup memory at an index that varies between
// invocations is a gather, and each invocation carries a fixed cost, so the more outputs per
// invocation the better: a 16 x 16 block does about 1.8x the work per CPU second of an 8 x 8 one
// (4 x 4 invocations per 64 x 64 tile instead of 8 x 8). A side of C of 16 or less takes
// wg_x or wg_y = 1 (32 or less: 2), as in a 10-class last layer, so that its tile is
// 16 wide instead of wasting most of a 64-wide one. tile_k stays at 16: SwiftShader's pipeline
// compile time grows with workgroup memory (about 1 s per pipeline at 8 KiB, 2 s at 16 KiB) for
// no measurable speed. The row sums of ones_col are made by the workgroups of the first column of
// tiles, from the A tiles they already hold, so they cost no extra loads and are summed in a
// fixed order (deterministic).
//
// Batched products (torch.matmul over leading dims) run one matrix per workgroup z: matrix z
// reads A from a[z * batch_a ..], B from b[z * batch_b ..] and writes c[z * batch_c ..]; a stride
// of 0 broadcasts an operand over the batch. The bias and the row sums are for batch 1 only.
//
// Launch: workgroups = (ceil(N / tile_n), ceil(M / tile_m), batch).
//
// Bindings (by name):
//   params    uniform  { m, n, k, alpha, batch_a, batch_b, batch_c }
//   a         storage, read        A, M*K values
//   b         storage, read        B, K*N values
//   gate      storage, read        G, M*K values in A's layout (read only when gate_a = 1)
//   bias      storage, read        N values (read only when has_bias = 1)
//   c         storage, read_write  C, M*N values written
//   bias_out  storage, read_write  M values written (only when ones_col = 1)

struct MatmulParams {
  m: u32,
  n: u32,
  k: u32,
  alpha: f32,  // leaky_relu slope, for both act and act_gate
  batch_a: u32,  // elements between consecutive matrices of A (0: one A for every matrix)
  batch_b: u32,  // likewise for B
  batch_c: u32,  // likewise for C
}

override trans_a: u32 = 0u;   // 1: A is stored [K, M]
override trans_b: u32 = 0u;   // 1: B is stored [N, K]
override gate_a: u32 = 0u;    // 1: multiply A by act_grad(act_gate, gate) as it is loaded
override act_gate: u32 = 0u;  // activation code of the gate (see activations.wgsl)
override act: u32 = 0u;       // activation code of the epilogue
override has_bias: u32 = 0u;  // 1: add bias[n] before the activation
override ones_col: u32 = 0u;  // 1: also write bias_out[m] = sum_k a_eff[m, k]
override wg_x: u32 = 4u;      // invocations across a tile, 16 columns of C each
override wg_y: u32 = 4u;      // invocations down a tile, 16 rows of C each
override tile_k: u32 = 16u;   // depth of one step through K

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;               // A
@group(0) @binding(2) var<storage, read> b: array<f32>;               // B
@group(0) @binding(3) var<storage, read> gate: array<f32>;            // G, A's layout
@group(0) @binding(4) var<storage, read> bias: array<f32>;            // bias over columns
@group(0) @binding(5) var<storage, read_write> c: array<f32>;         // C
@group(0) @binding(6) var<storage, read_write> bias_out: array<f32>;  // row sums of a_eff

// a_tile[kk * tile_m / 4 + r / 4][r % 4] = a_eff[row0 + r, k0 + kk]: four consecutive rows per
// vec4, so that an invocation reads its sixteen rows of one k with four loads; b_tile likewise
// holds four consecutive columns per vec4.
var<workgroup> a_tile: array<vec4f, tile_k * wg_y * 4u>;
var<workgroup> b_tile: array<vec4f, tile_k * wg_x * 4u>;

// Where this workgroup's matrices start in a (and gate), b and c.
var<private> a_base: u32;
var<private> b_base: u32;
var<private> c_base: u32;

// One element of a_eff, zero outside the matrix.
fn load_a(row: u32, kk: u32) -> f32 {
  if (row >= params.m || kk >= params.k) {
    return 0.0;
  }
  let i = a_base + select(row * params.k + kk, kk * params.m + row, trans_a == 1u);
  var v = a[i];
  if (gate_a == 1u) {
    v *= act_grad(act_gate, gate[i], params.alpha);
  }
  return v;
}

// One element of opB(B), zero outside the matrix.
fn load_b(kk: u32, col: u32) -> f32 {
  if (kk >= params.k || col >= params.n) {
    return 0.0;
  }
  return b[b_base + select(kk * params.n + col, col * params.k + kk, trans_b == 1u)];
}

// The epilogue for one element of C, skipped outside the matrix.
fn store_one(row: u32, col: u32, v: f32) {
  if (col < params.n) {
    var x = v;
    if (has_bias == 1u) {
      x += bias[col];
    }
    c[c_base + row * params.n + col] = act_forward(act, x, params.alpha);
  }
}

// A 4 x 4 block of C, quad[i] holding row `row + i` (and the row sums when this invocation
// makes them).
fn store_block(row: u32, col: u32, quad: mat4x4f, rs: vec4f, sums_rows: bool) {
  for (var i = 0u; i < 4u; i++) {
    if (row + i < params.m) {
      if (sums_rows) {
        bias_out[row + i] = rs[i];
      }
      let v = quad[i];
      for (var j = 0u; j < 4u; j++) {
        store_one(row + i, col + j, v[j]);
      }
    }
  }
}

// The contribution of one k to a 4 x 4 block: rows a[i] times columns b[j].
fn outer(a: vec4f, b: vec4f) -> mat4x4f {
  return mat4x4f(a.x * b, a.y * b, a.z * b, a.w * b);
}

@compute @workgroup_size(wg_x, wg_y)
fn matmul(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
          @builtin(local_invocation_index) lindex: u32) {
  let threads = wg_x * wg_y;
  let tile_m = wg_y * 16u;
  let tile_n = wg_x * 16u;
  let row0 = wid.y * tile_m;
  let col0 = wid.x * tile_n;
  let sums_rows = ones_col == 1u && wid.x == 0u && lid.x == 0u;
  a_base = wid.z * params.batch_a;
  b_base = wid.z * params.batch_b;
  c_base = wid.z * params.batch_c;

  // acc[4 * i + j][r][q] = C[row0 + 16 * lid.y + 4 * i + r, col0 + 16 * lid.x + 4 * j + q]; rs[i]
  // holds the row sums of rows 4 * i + (0..3). Constant indices only, so they stay in registers.
  var acc: array<mat4x4f, 16>;
  var rs: array<vec4f, 4>;
  for (var k0 = 0u; k0 < params.k; k0 += tile_k) {
    for (var e = lindex; e < tile_m * tile_k; e += threads) {
      var r: u32;
      var kk: u32;
      if (trans_a == 1u) {
        r = e % tile_m;
        kk = e / tile_m;
      } else {
        r = e / tile_k;
        kk = e % tile_k;
      }
      a_tile[kk * (tile_m / 4u) + r / 4u][r % 4u] = load_a(row0 + r, k0 + kk);
    }
    for (var e = lindex; e < tile_n * tile_k; e += threads) {
      var cc: u32;
      var kk: u32;
      if (trans_b == 1u) {
        cc = e / tile_k;
        kk = e % tile_k;
      } else {
        cc = e % tile_n;
        kk = e / tile_n;
      }
      b_tile[kk * (tile_n / 4u) + cc / 4u][cc % 4u] = load_b(k0 + kk, col0 + cc);
    }
    workgroupBarrier();

    // The last step may be shallower than tile_k: its padding zeros are not multiplied.
    let depth = min(tile_k, params.k - k0);
    for (var kk = 0u; kk < depth; kk++) {
      let ai = kk * (tile_m / 4u) + lid.y * 4u;
      let bi = kk * (tile_n / 4u) + lid.x * 4u;
      let a0 = a_tile[ai];
      let a1 = a_tile[ai + 1u];
      let a2 = a_tile[ai + 2u];
      let a3 = a_tile[ai + 3u];
      let b0 = b_tile[bi];
      let b1 = b_tile[bi + 1u];
      let b2 = b_tile[bi + 2u];
      let b3 = b_tile[bi + 3u];
      acc[0] += outer(a0, b0);
      acc[1] += outer(a0, b1);
      acc[2] += outer(a0, b2);
      acc[3] += outer(a0, b3);
      acc[4] += outer(a1, b0);
      acc[5] += outer(a1, b1);
      acc[6] += outer(a1, b2);
      acc[7] += outer(a1, b3);
      acc[8] += outer(a2, b0);
      acc[9] += outer(a2, b1);
      acc[10] += outer(a2, b2);
      acc[11] += outer(a2, b3);
      acc[12] += outer(a3, b0);
      acc[13] += outer(a3, b1);
      acc[14] += outer(a3, b2);
      acc[15] += outer(a3, b3);
      if (sums_rows) {
        rs[0] += a0;
        rs[1] += a1;
        rs[2] += a2;
        rs[3] += a3;
      }
    }
    workgroupBarrier();
  }

  let r = row0 + lid.y * 16u;
  let cb = col0 + lid.x * 16u;
  store_block(r, cb, acc[0], rs[0], sums_rows);
  store_block(r, cb + 4u, acc[1], rs[0], false);
  store_block(r, cb + 8u, acc[2], rs[0], false);
  store_block(r, cb + 12u, acc[3], rs[0], false);
  store_block(r + 4u, cb, acc[4], rs[1], sums_rows);
  store_block(r + 4u, cb + 4u, acc[5], rs[1], false);
  store_block(r + 4u, cb + 8u, acc[6], rs[1], false);
  store_block(r + 4u, cb + 12u, acc[7], rs[1], false);
  store_block(r + 8u, cb, acc[8], rs[2], sums_rows);
  store_block(r + 8u, cb + 4u, acc[9], rs[2], false);
  store_block(r + 8u, cb + 8u, acc[10], rs[2], false);
  store_block(r + 8u, cb + 12u, acc[11], rs[2], false);
  store_block(r + 12u, cb, acc[12], rs[3], sums_rows);
  store_block(r + 12u, cb + 4u, acc[13], rs[3], false);
  store_block(r + 12u, cb + 8u, acc[14], rs[3], false);
  store_block(r + 12u, cb + 12u, acc[15], rs[3], false);
}
