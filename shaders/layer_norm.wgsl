// Layer normalisation (torch.nn.LayerNorm) of x viewed as [rows, cols], cols = the product of the
// normalised trailing dimensions. With mean[r], var[r] = (1/cols) Σ_j (x[r, j] - mean[r])² (biased),
// rstd[r] = 1 / sqrt(var[r] + eps) and x̂ = (x - mean[r]) * rstd[r]:
//
//   layer_norm_forward:         y = x̂ * weight[j] + bias[j];  also mean[r] and rstd[r], kept for
//       backward. One workgroup per row: each invocation runs Welford's update over its columns
//       (l, l + wg, ...), the (count, mean, M2) triples merge in a fixed tree (welford.wgsl),
//       then the row is normalised from the merged moments.
//   layer_norm_backward_input:  g = dy * weight[j]
//       dx = rstd[r] * (g - (1/cols) Σ_j g - x̂ * (1/cols) Σ_j g x̂)
//       One workgroup per row, both sums in one fixed tree.
//   layer_norm_backward_params: dweight[j] = Σ_r dy[r, j] x̂[r, j],  dbias[j] = Σ_r dy[r, j]
//       One workgroup per column, partial sums over rows in a fixed tree.
//
// Bindings (by name):
//   params    uniform               { rows: u32, cols: u32, eps: f32 }
//   x         storage, read         input, rows * cols
//   dy        storage, read         gradient of y, x's layout
//   weight    storage, read         γ, cols (read only when has_weight = 1)
//   bias      storage, read         β, cols (read only when has_bias = 1)
//   mean      storage, read         per-row mean saved by the forward pass
//   rstd      storage, read         per-row 1 / sqrt(var + eps) saved by the forward pass
//   y         storage, read_write   output, x's layout
//   mean_out  storage, read_write   per-row mean, rows
//   rstd_out  storage, read_write   per-row 1 / sqrt(var + eps), rows
//   dx        storage, read_write   gradient of x, x's layout
//   dweight   storage, read_write   gradient of γ, cols
//   dbias     storage, read_write   gradient of β, cols
//
// Concatenated with common.wgsl in front and welford.wgsl after (src/kernels/layer-norm.ts).
//
// Launch: forward and backward_input grid1d(rows, 1) workgroups of wg; backward_params
// grid1d(cols, 1).

struct LayerNormParams {
  rows: u32,
  cols: u32,
  eps: f32,
}

override wg: u32 = 256u;          // invocations per workgroup, a power of two
override has_weight: u32 = 1u;    // 0: γ = 1
override has_bias: u32 = 1u;      // 0: β = 0

@group(0) @binding(0) var<uniform> params: LayerNormParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;                 // [rows, cols]
@group(0) @binding(2) var<storage, read> dy: array<f32>;                // [rows, cols]
@group(0) @binding(3) var<storage, read> weight: array<f32>;            // [cols]
@group(0) @binding(4) var<storage, read> bias: array<f32>;              // [cols]
@group(0) @binding(5) var<storage, read> mean: array<f32>;              // [rows]
@group(0) @binding(6) var<storage, read> rstd: array<f32>;              // [rows]
@group(0) @binding(7) var<storage, read_write> y: array<f32>;           // [rows, cols]
@group(0) @binding(8) var<storage, read_write> mean_out: array<f32>;    // [rows]
@group(0) @binding(9) var<storage, read_write> rstd_out: array<f32>;    // [rows]
@group(0) @binding(10) var<storage, read_write> dx: array<f32>;         // [rows, cols]
@group(0) @binding(11) var<storage, read_write> dweight: array<f32>;    // [cols]
@group(0) @binding(12) var<storage, read_write> dbias: array<f32>;      // [cols]

// d loss / d x̂ at element k, in column j: dy · γ.
fn grad_xhat(k: u32, j: u32) -> f32 {
  if (has_weight == 1u) {
    return dy[k] * weight[j];
  }
  return dy[k];
}

@compute @workgroup_size(wg)
fn layer_norm_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = linear_index(wid, nwg, vec3u(0u), 1u);
  if (r >= params.rows) {
    return;
  }
  let l = lid.x;
  let cols = params.cols;
  let base = r * cols;
  var own = Moments(0.0, 0.0, 0.0);
  for (var j = l; j < cols; j += wg) {
    own = welford_add(own, x[base + j]);
  }
  let total = merge_moments(l, own);
  let mu = total.mean;
  let inv = inverseSqrt(total.m2 / total.n + params.eps);
  for (var j = l; j < cols; j += wg) {
    var v = (x[base + j] - mu) * inv;
    if (has_weight == 1u) {
      v = v * weight[j];
    }
    if (has_bias == 1u) {
      v = v + bias[j];
    }
    y[base + j] = v;
  }
  if (l == 0u) {
    mean_out[r] = mu;
    rstd_out[r] = inv;
  }
}

@compute @workgroup_size(wg)
fn layer_norm_backward_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = linear_index(wid, nwg, vec3u(0u), 1u);
  if (r >= params.rows) {
    return;
  }
  let l = lid.x;
  let cols = params.cols;
  let base = r * cols;
  let mu = mean[r];
  let inv = rstd[r];
  var s = 0.0;
  var s_xhat = 0.0;
  for (var j = l; j < cols; j += wg) {
    let g = grad_xhat(base + j, j);
    s = s + g;
    s_xhat = s_xhat + g * ((x[base + j] - mu) * inv);
  }
  let sums = merge_sums(l, s, s_xhat);
  let inv_cols = 1.0 / f32(cols);
  let mean_g = sums.x * inv_cols;
  let mean_g_xhat = sums.y * inv_cols;
  for (var j = l; j < cols; j += wg) {
    let g = grad_xhat(base + j, j);
    let xhat = (x[base + j] - mu) * inv;
    dx[base + j] = inv * (g - mean_g - xhat * mean_g_xhat);
  }
}

@compute @workgroup_size(wg)
fn layer_norm_backward_params(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let j = linear_index(wid, nwg, vec3u(0u), 1u);
  if (j >= params.cols) {
    return;
  }
  let l = lid.x;
  let cols = params.cols;
  var s = 0.0;
  var s_xhat = 0.0;
  for (var r = l; r < params.rows; r += wg) {
    let k = r * cols + j;
    let g = dy[k];
    s = s + g;
    s_xhat = s_xhat + g * ((x[k] - mean[r]) * rstd[r]);
  }
  let sums = merge_sums(l, s, s_xhat);
  if (l == 0u) {
    dweight[j] = sums.y;
    dbias[j] = sums.x;
  }
}
