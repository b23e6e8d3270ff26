// Adamax (torch.optim.Adamax, torch 1.13; Kingma & Ba 2015, section 7.1), per element:
//   g = g_eff (optim/common.wgsl) + weight_decay * w
//   m = beta1 * m + (1 - beta1) * g
//   u = max(beta2 * u, |g| + eps)
//   w = w - clr * lr_factor * m / u,   clr = lr / (1 - beta1^t)
//
// hyper: [l1, l2, clr, beta1, 1 - beta1, beta2, eps, weight_decay]
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }    (n and stride multiples of 4)
//   weights  storage, read_write   the group's parameters, n elements as n/4 vec4s
//   grads    storage, read         their gradients, likewise
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
override elems: u32 = 4u;  // vec4s per invocation

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<vec4<f32>>;  // w, n / 4 vec4s
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;          // g, n / 4 vec4s
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;    // exp_avg, exp_inf
@group(0) @binding(4) var<storage, read> hyper: array<f32>;                // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;                // grad_stats.wgsl output

// The per-step scalars, read once per invocation; clr already scaled by lr_factor.
struct AdamaxHyper {
  l1: f32,
  l2: f32,
  clr: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  clip_coef: f32,
}

fn adamax_hyper() -> AdamaxHyper {
  return AdamaxHyper(
    hyper[HYPER_L1], hyper[HYPER_L2], hyper[ADAMAX_CLR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr),
    hyper[ADAMAX_BETA1], hyper[ADAMAX_ONE_MINUS_BETA1], hyper[ADAMAX_BETA2], hyper[ADAMAX_EPS],
    hyper[ADAMAX_WEIGHT_DECAY], select(1.0, stats[STAT_CLIP_COEF], clip_by_norm));
}

// Each invocation updates `elems` consecutive vec4s (group lengths are multiples of 64).
@compute @workgroup_size(wg)
fn adamax_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = linear_index(wid, nwg, lid, wg) * elems;
  let s = params.stride / 4u;
  let h = adamax_hyper();
  for (var q = first; q < min(first + elems, params.n / 4u); q++) {
    let w = weights[q];
    var g = optimizer_grad4(grads[q], w, h.l1, h.l2, h.clip_coef, params.clip_value);
    g = fma(vec4<f32>(h.weight_decay), w, g);
    let m = fma(vec4<f32>(h.one_minus_beta1), g, state[q] * h.beta1);
    let u = max(state[s + q] * h.beta2, abs(g) + h.eps);
    state[q] = m;
    state[s + q] = u;
    weights[q] = w + (-h.clr) * m / u;
  }
}
