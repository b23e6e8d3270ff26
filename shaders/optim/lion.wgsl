// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2), per
// element of a parameter group:
//   g = g_eff (optim/common.wgsl)
//   c = beta1 * m + (1 - beta1) * g
//   w = w - lr * lr_factor * (sign(c) + weight_decay * w)
//   m = beta2 * m + (1 - beta2) * g
//
// hyper: [l1, l2, lr, beta1, 1 - beta1, beta2, 1 - beta2, weight_decay]
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }
//   weights  storage, read_write   the group's parameters, n elements
//   grads    storage, read         their gradients
//   state    storage, read_write   slot 0: exp_avg
//   hyper    storage, read         the group's per-step scalars (above)
//   stats    storage, read         [grad_norm, clip_coef, lr_factor, penalty]

struct UpdateParams {
  n: u32,
  stride: u32,
  clip_value: f32,
}

const LION_LR: u32 = 2u;
const LION_BETA1: u32 = 3u;
const LION_ONE_MINUS_BETA1: u32 = 4u;
const LION_BETA2: u32 = 5u;
const LION_ONE_MINUS_BETA2: u32 = 6u;
const LION_WEIGHT_DECAY: u32 = 7u;

override wg: u32 = 256;

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;  // w, n elements
@group(0) @binding(2) var<storage, read> grads: array<f32>;          // g, n elements
@group(0) @binding(3) var<storage, read_write> state: array<f32>;    // exp_avg
@group(0) @binding(4) var<storage, read> hyper: array<f32>;          // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;          // grad_stats.wgsl output

@compute @workgroup_size(wg)
fn lion_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.n) {
    return;
  }
  let w = weights[i];
  let clip_coef = select(1.0, stats[STAT_CLIP_COEF], clip_by_norm);
  let lr = hyper[LION_LR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr);
  let g = optimizer_grad(grads[i], w, hyper[HYPER_L1], hyper[HYPER_L2], clip_coef, params.clip_value);
  let m = state[i];
  let c = m * hyper[LION_BETA1] + hyper[LION_ONE_MINUS_BETA1] * g;
  weights[i] = w - lr * (sign(c) + hyper[LION_WEIGHT_DECAY] * w);
  state[i] = m * hyper[LION_BETA2] + hyper[LION_ONE_MINUS_BETA2] * g;
}
