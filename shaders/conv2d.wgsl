// 2-D convolution, channels-first (torch's F.conv2d), as an implicit GEMM: the tile loads
// gather the input windows on the fly, so no im2col matrix is ever stored.
//
// Shapes: x [batch, c_in, in_h, in_w], weight [c_out, c_in / groups, k_h, k_w], bias [c_out],
// y and dy [batch, c_out, out_h, out_w]. Group g owns input channels g*cin_g .. and output
// channels g*cout_g .. (cin_g = c_in / groups, cout_g = c_out / groups). The input pixel that tap
// (i, j) of output pixel (oh, ow) reads is
//
//   ih = oh * stride_h - pad_h + i * dil_h,   iw = ow * stride_w - pad_w + j * dil_w   (zero outside)
//
// and, in the backward modes, dy_eff = dy * act_grad(act, y) (just dy when act = 0). Below, ci
// is a channel of co's group g = co / cout_g, read from x channel g * cin_g + ci:
//
//   mode 0, forward:          out = y[n, co, oh, ow] = act(bias[co] + sum_{ci, i, j} weight[co, ci, i, j] * x[n, g*cin_g + ci, ih, iw])
//   mode 1, input gradient:   out = dx[n, g*cin_g + ci, ih, iw] = sum over the (co, i, j) whose window
//                             reaches (ih, iw) of weight[co, ci, i, j] * dy_eff[n, co, oh, ow], where
//                             oh = (ih + pad_h - i * dil_h) / stride_h must divide exactly (ow alike)
//   mode 2, weight gradient:  out = dweight[co, ci, i, j] = sum_{n, oh, ow} dy_eff[n, co, oh, ow] * x[n, g*cin_g + ci, ih, iw]
//                             bias_out[co] = sum_{n, oh, ow} dy_eff[n, co, oh, ow]   (when has_bias = 1)
//
// Per group each mode is one product C[M, N] = A[M, K] · B[K, N]:
//
//   mode   rows M        columns N                 depth K                   A        B
//   0      co (cout_g)   (n, oh, ow)               (ci, i, j)                weight   x windows
//   1      ci (cin_g)    (n, ih, iw)               (co, i, j)                weight   dy_eff, gathered
//   2      co (cout_g)   (ci, i, j)                (n, oh, ow)               dy_eff   x windows
//
// K may be split (params.k_split, a multiple of tile_k; K itself for a single split): workgroup
// z = split * groups + g walks K from split * k_split, and in mode 2 writes partial sums of split
// s at out[s * |dweight| + ...] and bias_out[s * c_out + ...]; conv2d_sum_splits then adds the
// partials in split order. The weight gradient's own product is small (M x N = channels x taps)
// while K (batch x pixels) is long, so without splits it would occupy a handful of workgroups.
//
// The tiling follows matmul.wgsl, narrowed for convolutions, whose row count (channels of one
// group) is usually 32 or less: a workgroup computes a tile_m x tile_n block of C (tile_m =
// 8 * wg_y, tile_n = 16 * wg_x), walking K in steps of tile_k through workgroup memory; each
// invocation holds an 8 x 16 block of C in registers. The bias gradient of mode 2 is made by the
// workgroups of the first column of tiles from the A tiles (dy) they already hold, so it costs no
// extra loads and is summed in a fixed order.
//
// Launch: workgroups = (ceil(N / tile_n), ceil(M / tile_m), groups * splits); conv2d_sum_splits:
// grid1d(|dweight| + c_out, wg).
//
// Bindings (by name; a mode binds a small unused buffer where it reads nothing):
//   params      uniform              { batch, c_in, in_h, in_w, c_out, out_h, out_w, k_h, k_w,
//                                      stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups,
//                                      k_split, alpha }
//   x           storage, read        input images (modes 0, 2)
//   weight      storage, read        filters (modes 0, 1)
//   bias        storage, read        c_out values (mode 0 with has_bias = 1)
//   dy          storage, read        output gradient (modes 1, 2)
//   y           storage, read        forward output, for act_grad (modes 1, 2 with act != 0)
//   out         storage, read_write  y, dx, dweight, or the partial dweight of each split
//   bias_out    storage, read_write  dbias, or its partials (mode 2 with has_bias = 1)
//   parts       storage, read        conv2d_sum_splits: the splits' partial dweight
//   bias_parts  storage, read        conv2d_sum_splits: the splits' partial dbias (has_bias = 1)

struct ConvParams {
  batch: u32,
  c_in: u32,
  in_h: u32,
  in_w: u32,
  c_out: u32,
  out_h: u32,
  out_w: u32,
  k_h: u32,
  k_w: u32,
  stride_h: u32,
  stride_w: u32,
  pad_h: u32,
  pad_w: u32,
  dil_h: u32,
  dil_w: u32,
  groups: u32,
  k_split: u32,  // depth of one split of K
  alpha: f32,  // leaky_relu slope
}

override mode: u32 = 0u;      // 0 forward, 1 input gradient, 2 weight gradient
override act: u32 = 0u;       // activation code (activations.wgsl): forward epilogue, or the gate of dy
override has_bias: u32 = 0u;  // mode 0: add bias; mode 2: also write bias_out
override wg_x: u32 = 4u;      // invocations across a tile, 16 columns of C each
override wg_y: u32 = 4u;      // invocations down a tile, 8 rows of C each
override tile_k: u32 = 16u;   // depth of one step through K
override wg: u32 = 256u;      // conv2d_sum_splits: invocations per workgroup

@group(0) @binding(0) var<uniform> params: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;               // input images
@group(0) @binding(2) var<storage, read> weight: array<f32>;          // filters
@group(0) @binding(3) var<storage, read> bias: array<f32>;            // bias per output channel
@group(0) @binding(4) var<storage, read> dy: array<f32>;              // gradient of the output
@group(0) @binding(5) var<storage, read> y: array<f32>;               // forward output (gate)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;       // y, dx or dweight
@group(0) @binding(7) var<storage, read_write> bias_out: array<f32>;  // bias gradient
@group(0) @binding(8) var<storage, read> parts: array<f32>;           // partial dweight per split
@group(0) @binding(9) var<storage, read> bias_parts: array<f32>;      // partial dbias per split

// a_tile[kk * tile_m / 4 + r / 4][r % 4] = A[row0 + r, k0 + kk] and b_tile[kk * tile_n / 4 +
// c / 4][c % 4] = B[k0 + kk, col0 + c]: four consecutive rows (columns) per vec4, so that an
// invocation reads its 8 rows and 16 columns of one k with six loads.
var<workgroup> a_tile: array<vec4f, tile_k * wg_y * 2u>;
var<workgroup> b_tile: array<vec4f, tile_k * wg_x * 4u>;

fn cin_g() -> u32 {
  return params.c_in / params.groups;
}

fn cout_g() -> u32 {
  return params.c_out / params.groups;
}

fn taps() -> u32 {
  return params.k_h * params.k_w;
}

fn out_pixels() -> u32 {
  return params.out_h * params.out_w;
}

fn in_pixels() -> u32 {
  return params.in_h * params.in_w;
}

// The product's sizes in this mode (see the table above). Mode branches are if/else chains:
// wgsl_reflect misses the resources of longer `switch` case bodies.
fn gemm_m() -> u32 {
  return select(cout_g(), cin_g(), mode == 1u);
}

fn gemm_n() -> u32 {
  if (mode == 1u) {
    return params.batch * in_pixels();
  } else if (mode == 2u) {
    return cin_g() * taps();
  }
  return params.batch * out_pixels();
}

fn gemm_k() -> u32 {
  if (mode == 1u) {
    return cout_g() * taps();
  } else if (mode == 2u) {
    return params.batch * out_pixels();
  }
  return cin_g() * taps();
}

// x[n, c, ih, iw] under tap (i, j) of output pixel (oh, ow); zero in the padding.
fn x_window(n: u32, c: u32, oh: u32, ow: u32, i: u32, j: u32) -> f32 {
  let ih = i32(oh * params.stride_h + i * params.dil_h) - i32(params.pad_h);
  let iw = i32(ow * params.stride_w + j * params.dil_w) - i32(params.pad_w);
  if (ih < 0 || iw < 0 || u32(ih) >= params.in_h || u32(iw) >= params.in_w) {
    return 0.0;
  }
  return x[((n * params.c_in + c) * params.in_h + u32(ih)) * params.in_w + u32(iw)];
}

// dy_eff at flat index `at` of [batch, c_out, out_h, out_w].
fn dy_eff(at: u32) -> f32 {
  var v = dy[at];
  if (act != 0u) {
    v *= act_grad(act, y[at], params.alpha);
  }
  return v;
}

// dy_eff at the output pixel whose tap (i, j) reads input pixel (ih, iw), or 0 where none does:
// ih + pad_h - i * dil_h must be a non-negative multiple of stride_h whose quotient is an output
// row, and likewise along w.
fn dy_through_tap(n: u32, co: u32, ih: u32, iw: u32, i: u32, j: u32) -> f32 {
  let th = i32(ih + params.pad_h) - i32(i * params.dil_h);
  let tw = i32(iw + params.pad_w) - i32(j * params.dil_w);
  if (th < 0 || tw < 0) {
    return 0.0;
  }
  let oh = u32(th) / params.stride_h;
  let ow = u32(tw) / params.stride_w;
  if (oh * params.stride_h != u32(th) || ow * params.stride_w != u32(tw) || oh >= params.out_h || ow >= params.out_w) {
    return 0.0;
  }
  return dy_eff(((n * params.c_out + co) * params.out_h + oh) * params.out_w + ow);
}

fn tile_rows() -> u32 {
  return wg_y * 8u;
}

fn tile_cols() -> u32 {
  return wg_x * 16u;
}

// Row r of the A tile: A[row, k0 .. k0 + tile_k) of group g, zero outside the matrix and past
// k_end (the end of this split). Along K the element index grows by one and jumps by `gap` every
// `period` elements, so the walk needs two divisions per row instead of two per element:
//   mode 0  weight[(g cout_g + row) K + k]                      (contiguous)
//   mode 1  weight[((g cout_g + co) cin_g + row) taps + t]      k = (co, t): gap (cin_g - 1) taps
//   mode 2  dy[(n c_out + g cout_g + row) P + s]                k = (n, s):  gap (c_out - 1) P
fn fill_a_row(g: u32, r: u32, row: u32, k0: u32, k_end: u32) {
  let depth = gemm_k();
  let inside = row < gemm_m();
  var period = depth;
  var gap = 0u;
  var idx = (g * cout_g() + row) * depth + k0;
  if (mode == 1u) {
    period = taps();
    gap = (cin_g() - 1u) * taps();
    idx = ((g * cout_g() + k0 / period) * cin_g() + row) * period + k0 % period;
  } else if (mode == 2u) {
    period = out_pixels();
    gap = (params.c_out - 1u) * period;
    idx = ((k0 / period) * params.c_out + g * cout_g() + row) * period + k0 % period;
  }
  var pos = k0 % period;
  for (var kk = 0u; kk < tile_k; kk++) {
    var v = 0.0;
    if (inside && k0 + kk < k_end) {
      if (mode == 2u) {
        v = dy_eff(idx);
      } else {
        v = weight[idx];
      }
    }
    a_tile[kk * (tile_rows() / 4u) + r / 4u][r % 4u] = v;
    idx++;
    pos++;
    if (pos == period) {
      pos = 0u;
      idx += gap;
    }
  }
}

// Column c of the B tile: B[k0 .. k0 + tile_k), col] of group g, zero outside the matrix and
// past k_end. Each element pairs a pixel (n, ph, pw) with a tap (ch, i, j) of channel ch of the
// group: an output pixel and an input channel in modes 0 and 2 (an input window), an input pixel
// and an output channel in mode 1 (dy gathered through the tap). The column fixes one of the two
// and K walks the other by carries, so that the divisions are per column, not per element.
fn fill_b_column(g: u32, c: u32, col: u32, k0: u32, k_end: u32) {
  let inside = col < gemm_n();
  var pixel = col;
  var tap = k0;
  if (mode == 2u) {
    pixel = k0;
    tap = col;
  }
  let row_w = select(params.out_w, params.in_w, mode == 1u);
  let plane = select(out_pixels(), in_pixels(), mode == 1u);
  var n = pixel / plane;
  var ph = pixel % plane / row_w;
  var pw = pixel % row_w;
  var ch = tap / taps();
  var i = tap % taps() / params.k_w;
  var j = tap % params.k_w;
  for (var kk = 0u; kk < tile_k; kk++) {
    var v = 0.0;
    if (inside && k0 + kk < k_end) {
      if (mode == 1u) {
        v = dy_through_tap(n, g * cout_g() + ch, ph, pw, i, j);
      } else {
        v = x_window(n, g * cin_g() + ch, ph, pw, i, j);
      }
    }
    b_tile[kk * (tile_cols() / 4u) + c / 4u][c % 4u] = v;
    if (mode == 2u) {
      pw++;
      if (pw == params.out_w) {
        pw = 0u;
        ph++;
        if (ph == params.out_h) {
          ph = 0u;
          n++;
        }
      }
    } else {
      j++;
      if (j == params.k_w) {
        j = 0u;
        i++;
        if (i == params.k_h) {
          i = 0u;
          ch++;
        }
      }
    }
  }
}

fn weight_numel() -> u32 {
  return params.c_out * cin_g() * taps();
}

// C[r, c] of group g (split `split` of K) into its tensor, skipped outside the matrix.
fn store_one(g: u32, split: u32, r: u32, c: u32, v: f32) {
  if (c >= gemm_n()) {
    return;
  }
  if (mode == 1u) {
    let n = c / in_pixels();
    out[(n * params.c_in + g * cin_g() + r) * in_pixels() + c % in_pixels()] = v;
  } else if (mode == 2u) {
    out[split * weight_numel() + (g * cout_g() + r) * gemm_n() + c] = v;
  } else {
    let co = g * cout_g() + r;
    var s = v;
    if (has_bias == 1u) {
      s += bias[co];
    }
    let n = c / out_pixels();
    out[(n * params.c_out + co) * out_pixels() + c % out_pixels()] = act_forward(act, s, params.alpha);
  }
}

// A 4 x 4 block of C, quad[i] holding row `r + i` (and the bias gradient when this invocation
// makes it).
fn store_block(g: u32, split: u32, r: u32, c: u32, quad: mat4x4f, rs: vec4f, sums_rows: bool) {
  for (var i = 0u; i < 4u; i++) {
    if (r + i < gemm_m()) {
      if (sums_rows) {
        bias_out[split * params.c_out + g * cout_g() + r + i] = rs[i];
      }
      let v = quad[i];
      for (var j = 0u; j < 4u; j++) {
        store_one(g, split, r + i, c + j, v[j]);
      }
    }
  }
}

// The contribution of one k to a 4 x 4 block: rows a[i] times columns b[j].
fn outer(a: vec4f, b: vec4f) -> mat4x4f {
  return mat4x4f(a.x * b, a.y * b, a.z * b, a.w * b);
}

@compute @workgroup_size(wg_x, wg_y)
fn conv2d(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
          @builtin(local_invocation_index) lindex: u32) {
  let threads = wg_x * wg_y;
  let tile_m = tile_rows();
  let tile_n = tile_cols();
  let g = wid.z % params.groups;
  let split = wid.z / params.groups;
  let row0 = wid.y * tile_m;
  let col0 = wid.x * tile_n;
  let k_begin = split * params.k_split;
  let k_end = min(gemm_k(), k_begin + params.k_split);
  let sums_rows = mode == 2u && has_bias == 1u && wid.x == 0u && lid.x == 0u;

  // acc[4 * i + j][r][q] = C[row0 + 8 * lid.y + 4 * i + r, col0 + 16 * lid.x + 4 * j + q]; rs[i]
  // holds the row sums of rows 4 * i + (0..3). Constant indices only, so they stay in registers.
  var acc: array<mat4x4f, 8>;
  var rs: array<vec4f, 2>;
  for (var k0 = k_begin; k0 < k_end; k0 += tile_k) {
    // Each invocation fills whole rows of A and columns of B; at each depth, neighbouring
    // invocations read neighbouring rows and columns (output or input pixels in modes 0 and 1).
    for (var r = lindex; r < tile_m; r += threads) {
      fill_a_row(g, r, row0 + r, k0, k_end);
    }
    for (var c = lindex; c < tile_n; c += threads) {
      fill_b_column(g, c, col0 + c, k0, k_end);
    }
    workgroupBarrier();

    // The last step may be shallower than tile_k: its padding zeros are not multiplied.
    let depth = min(tile_k, k_end - k0);
    for (var kk = 0u; kk < depth; kk++) {
      let ai = kk * (tile_m / 4u) + lid.y * 2u;
      let bi = kk * (tile_n / 4u) + lid.x * 4u;
      let a0 = a_tile[ai];
      let a1 = a_tile[ai + 1u];
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
      if (sums_rows) {
        rs[0] += a0;
        rs[1] += a1;
      }
    }
    workgroupBarrier();
  }

  let r = row0 + lid.y * 8u;
  let cb = col0 + lid.x * 16u;
  store_block(g, split, r, cb, acc[0], rs[0], sums_rows);
  store_block(g, split, r, cb + 4u, acc[1], rs[0], false);
  store_block(g, split, r, cb + 8u, acc[2], rs[0], false);
  store_block(g, split, r, cb + 12u, acc[3], rs[0], false);
  store_block(g, split, r + 4u, cb, acc[4], rs[1], sums_rows);
  store_block(g, split, r + 4u, cb + 4u, acc[5], rs[1], false);
  store_block(g, split, r + 4u, cb + 8u, acc[6], rs[1], false);
  store_block(g, split, r + 4u, cb + 12u, acc[7], rs[1], false);
}

// dweight[i] = sum over splits of parts[s * |dweight| + i], and dbias[co] likewise from
// bias_parts[s * c_out + co], adding the splits in order.
@compute @workgroup_size(wg)
fn conv2d_sum_splits(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  let n_w = weight_numel();
  let splits = (params.batch * out_pixels() + params.k_split - 1u) / params.k_split;
  if (i < n_w) {
    var s = 0.0;
    for (var p = 0u; p < splits; p++) {
      s += parts[p * n_w + i];
    }
    out[i] = s;
  } else if (has_bias == 1u && i < n_w + params.c_out) {
    let co = i - n_w;
    var s = 0.0;
    for (var p = 0u; p < splits; p++) {
      s += bias_parts[p * params.c_out + co];
    }
    bias_out[co] = s;
  }
}
