// Adagrad (torch.optim.Adagrad, torch 1.13; Duchi et al. 2011), per element of a parameter group:
//   g   = g_eff (optim/common.wgsl) + weight_decay * w
//   sum = sum + g * g
//   w   = w - clr * lr_factor * g / (sqrt(sum) + eps),   clr = lr / (1 + (t - 1) * lr_decay)
//
// hyper: [l1, l2, clr, eps, weight_decay]
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }    (n and stride multiples of 4)
//   weights  storage, read_write   the group's parameters, n elements as n/4 vec4s
//   grads    storage, read         their gradients, likewise
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
override elems: u32 = 4u;  // vec4s per invocation

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<vec4<f32>>;  // w, n / 4 vec4s
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;          // g, n / 4 vec4s
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;    // sum
@group(0) @binding(4) var<storage, read> hyper: array<f32>;                // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;                // grad_stats.wgsl output

// The per-step scalars, read once per invocation; clr already scaled by lr_factor.
struct AdagradHyper {
  l1: f32,
  l2: f32,
  clr: f32,
  eps: f32,
  weight_decay: f32,
  clip_coef: f32,
}

fn adagrad_hyper() -> AdagradHyper {
  return AdagradHyper(
    hyper[HYPER_L1], hyper[HYPER_L2], hyper[ADAGRAD_CLR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr),
    hyper[ADAGRAD_EPS], hyper[ADAGRAD_WEIGHT_DECAY], select(1.0, stats[STAT_CLIP_COEF], clip_by_norm));
}

// Each invocation updates `elems` consecutive vec4s (group lengths are multiples of 64).
@compute @workgroup_size(wg)
fn adagrad_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = linear_index(wid, nwg, lid, wg) * elems;
  let h = adagrad_hyper();
  for (var q = first; q < min(first + elems, params.n / 4u); q++) {
    let w = weights[q];
    var g = optimizer_grad4(grads[q], w, h.l1, h.l2, h.clip_coef, params.clip_value);
    g = fma(vec4<f32>(h.weight_decay), w, g);
    let sum = fma(g, g, state[q]);
    state[q] = sum;
    let denom = sqrt(sum) + h.eps;
    weights[q] = w + (-h.clr) * g / denom;
  }
}
