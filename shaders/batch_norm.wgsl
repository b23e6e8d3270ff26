// Batch normalisation (torch.nn.BatchNorm1d / BatchNorm2d) of x viewed as [batch, channels,
// spatial], spatial = L, H * W, or 1. Channel c has m = batch * spatial elements; with
// rstd[c] = 1 / sqrt(var[c] + eps) and x̂ = (x - mean[c]) * rstd[c]:
//
//   batch_norm_stats:           mean[c] = (1/m) Σ x,   var[c] = (1/m) Σ (x - mean[c])²  (biased)
//       One workgroup per channel. Each invocation runs Welford's update over its elements
//       (l, l + wg, ...), then the (count, mean, M2) triples merge in a fixed tree (welford.wgsl).
//   batch_norm_forward:         y = x̂ * weight[c] + bias[c]
//       mean/var are the batch statistics (training) or the running ones (evaluation).
//   batch_norm_backward_reduce: sum_dy[c] = Σ dy,   sum_dy_xhat[c] = Σ dy * x̂      (= dβ, dγ)
//       One workgroup per channel, partial sums combined in a fixed tree.
//   batch_norm_backward_input:
//       training (batch statistics):  dx = weight[c] * rstd * (dy - sum_dy / m - x̂ * sum_dy_xhat / m)
//       evaluation (fixed statistics): dx = weight[c] * rstd * dy
//   batch_norm_running: running statistics, in place, as torch (one workgroup):
//       f = momentum, or 1 / (tracked + 1) for a cumulative average (momentum < 0)
//       running_mean = (1 - f) * running_mean + f * mean
//       running_var  = (1 - f) * running_var  + f * var * unbias       (unbias = m / (m - 1))
//       tracked      = tracked + 1
//     `state` is one read_write range holding whichever of the three lie in the same device
//     buffer, at element offsets mean_at / var_at / count_at (NONE when absent): a dispatch may
//     not bind one buffer both read-only and writable, and the trainer keeps every module buffer
//     in one device buffer. When the counter lies elsewhere, it is read from `tracked`, and the
//     counter's own dispatch runs after this one.
//
// Bindings (by name):
//   params           uniform               { batch, channels, spatial: u32, eps, momentum,
//                                            unbias: f32, mean_at, var_at, count_at: u32 }
//   x                storage, read         input, batch * channels * spatial
//   dy               storage, read         gradient of y, x's layout
//   mean             storage, read         per-channel mean, batch or running
//   variance         storage, read         per-channel variance, batch (biased) or running
//   weight           storage, read         γ, channels (read only when has_weight = 1)
//   bias             storage, read         β, channels (read only when has_bias = 1)
//   sum_dy           storage, read         Σ dy per channel (read only when training = 1)
//   sum_dy_xhat      storage, read         Σ dy x̂ per channel (read only when training = 1)
//   y                storage, read_write   output, x's layout
//   dx               storage, read_write   gradient of x, x's layout
//   mean_out         storage, read_write   batch mean, channels
//   variance_out     storage, read_write   batch variance (biased), channels
//   sum_dy_out       storage, read_write   Σ dy, channels
//   sum_dy_xhat_out  storage, read_write   Σ dy x̂, channels
//   tracked          storage, read         [1], batches seen so far, when not inside `state`
//   state            storage, read_write   running statistics, updated in place
//
// Concatenated with common.wgsl in front and welford.wgsl after (src/kernels/batch-norm.ts).
//
// Launch: stats and backward_reduce grid1d(channels, 1) workgroups of wg; forward and
// backward_input grid1d(batch * channels * spatial, wg); running exactly (1, 1, 1).

struct BatchNormParams {
  batch: u32,
  channels: u32,
  spatial: u32,
  eps: f32,
  momentum: f32,
  unbias: f32,
  mean_at: u32,
  var_at: u32,
  count_at: u32,
}

const NONE: u32 = 0xffffffffu;

override wg: u32 = 256u;          // invocations per workgroup, a power of two
override has_weight: u32 = 1u;    // 0: γ = 1
override has_bias: u32 = 1u;      // 0: β = 0
override training: u32 = 1u;      // 0: statistics are constants (evaluation backward)

@group(0) @binding(0) var<uniform> params: BatchNormParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;                 // [batch, channels, spatial]
@group(0) @binding(2) var<storage, read> dy: array<f32>;                // x's layout
@group(0) @binding(3) var<storage, read> mean: array<f32>;              // [channels]
@group(0) @binding(4) var<storage, read> variance: array<f32>;          // [channels]
@group(0) @binding(5) var<storage, read> weight: array<f32>;            // [channels]
@group(0) @binding(6) var<storage, read> bias: array<f32>;              // [channels]
@group(0) @binding(7) var<storage, read> sum_dy: array<f32>;            // [channels]
@group(0) @binding(8) var<storage, read> sum_dy_xhat: array<f32>;       // [channels]
@group(0) @binding(9) var<storage, read_write> y: array<f32>;           // x's layout
@group(0) @binding(10) var<storage, read_write> dx: array<f32>;         // x's layout
@group(0) @binding(11) var<storage, read_write> mean_out: array<f32>;   // [channels]
@group(0) @binding(12) var<storage, read_write> variance_out: array<f32>;  // [channels]
@group(0) @binding(13) var<storage, read_write> sum_dy_out: array<f32>;       // [channels]
@group(0) @binding(14) var<storage, read_write> sum_dy_xhat_out: array<f32>;  // [channels]
@group(0) @binding(15) var<storage, read> tracked: array<f32>;          // [1]
@group(0) @binding(16) var<storage, read_write> state: array<f32>;      // running statistics

var<workgroup> tracked_before: f32;

// Index in x of element i (of m) of channel c.
fn channel_element(c: u32, i: u32) -> u32 {
  let n = i / params.spatial;
  return (n * params.channels + c) * params.spatial + (i - n * params.spatial);
}

@compute @workgroup_size(wg)
fn batch_norm_stats(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = linear_index(wid, nwg, vec3u(0u), 1u);
  if (c >= params.channels) {
    return;
  }
  let l = lid.x;
  let m = params.batch * params.spatial;
  var own = Moments(0.0, 0.0, 0.0);
  for (var i = l; i < m; i += wg) {
    own = welford_add(own, x[channel_element(c, i)]);
  }
  let total = merge_moments(l, own);
  if (l == 0u) {
    mean_out[c] = total.mean;
    variance_out[c] = total.m2 / total.n;
  }
}

@compute @workgroup_size(wg)
fn batch_norm_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.batch * params.channels * params.spatial) {
    return;
  }
  let c = (i / params.spatial) % params.channels;
  let rstd = inverseSqrt(variance[c] + params.eps);
  var v = (x[i] - mean[c]) * rstd;
  if (has_weight == 1u) {
    v = v * weight[c];
  }
  if (has_bias == 1u) {
    v = v + bias[c];
  }
  y[i] = v;
}

@compute @workgroup_size(wg)
fn batch_norm_backward_reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = linear_index(wid, nwg, vec3u(0u), 1u);
  if (c >= params.channels) {
    return;
  }
  let l = lid.x;
  let m = params.batch * params.spatial;
  let mu = mean[c];
  let rstd = inverseSqrt(variance[c] + params.eps);
  var s = 0.0;
  var s_xhat = 0.0;
  for (var i = l; i < m; i += wg) {
    let k = channel_element(c, i);
    let g = dy[k];
    s = s + g;
    s_xhat = s_xhat + g * ((x[k] - mu) * rstd);
  }
  let sums = merge_sums(l, s, s_xhat);
  if (l == 0u) {
    sum_dy_out[c] = sums.x;
    sum_dy_xhat_out[c] = sums.y;
  }
}

@compute @workgroup_size(wg)
fn batch_norm_backward_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.batch * params.channels * params.spatial) {
    return;
  }
  let c = (i / params.spatial) % params.channels;
  let rstd = inverseSqrt(variance[c] + params.eps);
  var scale = rstd;
  if (has_weight == 1u) {
    scale = scale * weight[c];
  }
  var g = dy[i];
  if (training == 1u) {
    let inv_m = 1.0 / f32(params.batch * params.spatial);
    let xhat = (x[i] - mean[c]) * rstd;
    g = g - sum_dy[c] * inv_m - xhat * (sum_dy_xhat[c] * inv_m);
  }
  dx[i] = scale * g;
}

@compute @workgroup_size(wg)
fn batch_norm_running(@builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  if (l == 0u) {
    if (params.count_at != NONE) {
      tracked_before = state[params.count_at];
      state[params.count_at] = tracked_before + 1.0;
    } else {
      tracked_before = tracked[0];
    }
  }
  let before = workgroupUniformLoad(&tracked_before);
  let f = select(params.momentum, 1.0 / (before + 1.0), params.momentum < 0.0);
  for (var c = l; c < params.channels; c += wg) {
    if (params.mean_at != NONE) {
      let k = params.mean_at + c;
      state[k] = (1.0 - f) * state[k] + f * mean[c];
    }
    if (params.var_at != NONE) {
      let k = params.var_at + c;
      state[k] = (1.0 - f) * state[k] + f * (variance[c] * params.unbias);
    }
  }
}
