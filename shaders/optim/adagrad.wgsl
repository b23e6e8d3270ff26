// Adagrad (torch.optim.Adagrad, torch 1.13; Duchi et al. 2011), per element of a parameter group:
//   g   = g_eff (optim/common.wgsl) + weight_decay * w
//   sum = sum + g * g
//   w   = w - clr * lr_factor * g / (sqrt(sum) + eps),   clr = lr / (1 + (t - 1) * lr_decay)
//
// hyper: [l1, l2, clr, eps, weight_decay]
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }
//   weights  storage, read_write   the group's parameters, n elements
//   grads    storage, read         their gradients
//   state    storage, read_write   slot 0: sum (starts at initial_accumulator_value)
//   hyper    storage, read         the group's per-step scalars (above)
//   stats    storage, read         [grad_norm, clip_coef, lr_factor, penalty]

struct UpdateParams {
  n: u32,
  stride: u32,
  clip_value: f32,
}

const ADAGRAD_CLR: u32 = 2u;
const ADAGRAD_EPS: u32 = 3u;
const ADAGRAD_WEIGHT_DECAY: u32 = 4u;

override wg: u32 = 256;

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;  // w, n elements
@group(0) @binding(2) var<storage, read> grads: array<f32>;          // g, n elements
@group(0) @binding(3) var<storage, read_write> state: array<f32>;    // sum
@group(0) @binding(4) var<storage, read> hyper: array<f32>;          // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;          // grad_stats.wgsl output

@compute @workgroup_size(wg)
fn adagrad_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.n) {
    return;
  }
  let w = weights[i];
  let clip_coef = select(1.0, stats[STAT_CLIP_COEF], clip_by_norm);
  let clr = hyper[ADAGRAD_CLR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr);
  var g = optimizer_grad(grads[i], w, hyper[HYPER_L1], hyper[HYPER_L2], clip_coef, params.clip_value);
  g = fma(hyper[ADAGRAD_WEIGHT_DECAY], w, g);
  let sum = fma(g, g, state[i]);
  state[i] = sum;
  let denom = sqrt(sum) + hyper[ADAGRAD_EPS];
  weights[i] = w + (-clr) * g / denom;
}
