// Adadelta (torch.optim.Adadelta, torch 1.13; Zeiler 2012), per element of a parameter group:
//   g     = g_eff (optim/common.wgsl) + weight_decay * w
//   sq    = rho * sq + (1 - rho) * g^2
//   delta = sqrt(acc + eps) / sqrt(sq + eps) * g
//   acc   = rho * acc + (1 - rho) * delta^2
//   w     = w - lr * lr_factor * delta
//
// hyper: [l1, l2, lr, rho, 1 - rho, eps, weight_decay]
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }
//   weights  storage, read_write   the group's parameters, n elements
//   grads    storage, read         their gradients
//   state    storage, read_write   slot 0: square_avg, slot 1: acc_delta (slot s at s * stride)
//   hyper    storage, read         the group's per-step scalars (above)
//   stats    storage, read         [grad_norm, clip_coef, lr_factor, penalty]

struct UpdateParams {
  n: u32,
  stride: u32,
  clip_value: f32,
}

const ADADELTA_LR: u32 = 2u;
const ADADELTA_RHO: u32 = 3u;
const ADADELTA_ONE_MINUS_RHO: u32 = 4u;
const ADADELTA_EPS: u32 = 5u;
const ADADELTA_WEIGHT_DECAY: u32 = 6u;

override wg: u32 = 256;

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;  // w, n elements
@group(0) @binding(2) var<storage, read> grads: array<f32>;          // g, n elements
@group(0) @binding(3) var<storage, read_write> state: array<f32>;    // square_avg, acc_delta
@group(0) @binding(4) var<storage, read> hyper: array<f32>;          // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;          // grad_stats.wgsl output

@compute @workgroup_size(wg)
fn adadelta_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.n) {
    return;
  }
  let w = weights[i];
  let clip_coef = select(1.0, stats[STAT_CLIP_COEF], clip_by_norm);
  let lr = hyper[ADADELTA_LR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr);
  let rho = hyper[ADADELTA_RHO];
  let one_minus_rho = hyper[ADADELTA_ONE_MINUS_RHO];
  let eps = hyper[ADADELTA_EPS];
  var g = optimizer_grad(grads[i], w, hyper[HYPER_L1], hyper[HYPER_L2], clip_coef, params.clip_value);
  g = fma(hyper[ADADELTA_WEIGHT_DECAY], w, g);
  let sq = fma(one_minus_rho * g, g, state[i] * rho);
  state[i] = sq;
  let rms_grad = sqrt(sq + eps);
  let delta = sqrt(state[params.stride + i] + eps) / rms_grad * g;
  state[params.stride + i] = fma(one_minus_rho * delta, delta, state[params.stride + i] * rho);
  weights[i] = fma(-lr, delta, w);
}
