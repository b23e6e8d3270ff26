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
//   params   uniform  { n, stride, clip_value }    (n and stride multiples of 4)
//   weights  storage, read_write   the group's parameters, n elements as n/4 vec4s
//   grads    storage, read         their gradients, likewise
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
override elems: u32 = 4u;  // vec4s per invocation

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<vec4<f32>>;  // w, n / 4 vec4s
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;          // g, n / 4 vec4s
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;    // exp_avg
@group(0) @binding(4) var<storage, read> hyper: array<f32>;                // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;                // grad_stats.wgsl output

// The per-step scalars, read once per invocation; lr already scaled by lr_factor.
struct LionHyper {
  l1: f32,
  l2: f32,
  lr: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  weight_decay: f32,
  clip_coef: f32,
}

fn lion_hyper() -> LionHyper {
  return LionHyper(
    hyper[HYPER_L1], hyper[HYPER_L2], hyper[LION_LR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr),
    hyper[LION_BETA1], hyper[LION_ONE_MINUS_BETA1], hyper[LION_BETA2], hyper[LION_ONE_MINUS_BETA2],
    hyper[LION_WEIGHT_DECAY], select(1.0, stats[STAT_CLIP_COEF], clip_by_norm));
}

// Each invocation updates `elems` consecutive vec4s (group lengths are multiples of 64).
@compute @workgroup_size(wg)
fn lion_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = linear_index(wid, nwg, lid, wg) * elems;
  let h = lion_hyper();
  for (var q = first; q < min(first + elems, params.n / 4u); q++) {
    let w = weights[q];
    let g = optimizer_grad4(grads[q], w, h.l1, h.l2, h.clip_coef, params.clip_value);
    let m = state[q];
    let c = m * h.beta1 + h.one_minus_beta1 * g;
    weights[q] = w - h.lr * (sign(c) + h.weight_decay * w);
    state[q] = m * h.beta2 + h.one_minus_beta2 * g;
  }
}
