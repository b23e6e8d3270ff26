// Adamax (torch.optim.Adamax, torch 1.13; Kingma & Ba 2015, section 7.1), per element:
//   g = g_eff (optim/common.wgsl) + weight_decay * w
//   m = beta1 * m + (1 - beta1) * g
//   u = max(beta2 * u, |g| + eps)
//   w = w - clr * lr_factor * m / u,   clr = lr / (1 - beta1^t)
//
// hyper: [l1, l2, clr, beta1, 1 - beta1, beta2, eps, weight_decay]
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }
//   weights  storage, read_write   the group's parameters, n elements
//   grads    storage, read         their gradients
//   state    storage, read_write   slot 0: exp_avg, slot 1: exp_inf (slot s at s * stride)
//   hyper    storage, read         the group's per-step scalars (above)
//   stats    storage, read         [grad_norm, clip_coef, lr_factor, penalty]

struct UpdateParams {
  n: u32,
  stride: u32,
  clip_value: f32,
}

const ADAMAX_CLR: u32 = 2u;
const ADAMAX_BETA1: u32 = 3u;
const ADAMAX_ONE_MINUS_BETA1: u32 = 4u;
const ADAMAX_BETA2: u32 = 5u;
const ADAMAX_EPS: u32 = 6u;
const ADAMAX_WEIGHT_DECAY: u32 = 7u;

override wg: u32 = 256;

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;  // w, n elements
@group(0) @binding(2) var<storage, read> grads: array<f32>;          // g, n elements
@group(0) @binding(3) var<storage, read_write> state: array<f32>;    // exp_avg, exp_inf
@group(0) @binding(4) var<storage, read> hyper: array<f32>;          // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;          // grad_stats.wgsl output

@compute @workgroup_size(wg)
fn adamax_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.n) {
    return;
  }
  let w = weights[i];
  let clip_coef = select(1.0, stats[STAT_CLIP_COEF], clip_by_norm);
  let clr = hyper[ADAMAX_CLR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr);
  var g = optimizer_grad(grads[i], w, hyper[HYPER_L1], hyper[HYPER_L2], clip_coef, params.clip_value);
  g = fma(hyper[ADAMAX_WEIGHT_DECAY], w, g);
  let m = fma(hyper[ADAMAX_ONE_MINUS_BETA1], g, state[i] * hyper[ADAMAX_BETA1]);
  let u = max(state[params.stride + i] * hyper[ADAMAX_BETA2], abs(g) + hyper[ADAMAX_EPS]);
  state[i] = m;
  state[params.stride + i] = u;
  weights[i] = w + (-clr) * m / u;
}
