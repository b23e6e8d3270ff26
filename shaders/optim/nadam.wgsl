// NAdam (torch.optim.NAdam; Dozat 2016), per element of a parameter group:
//   g = g_eff (optim/common.wgsl) + weight_decay * w
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   denom = sqrt(v / (1 - beta2^t)) + eps
//   w = w - c_grad * lr_factor * g / denom
//   w = w - c_avg * lr_factor * m / denom
// with mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)), c_grad = lr * (1 - mu_t) / (1 - prod_{i<=t} mu_i)
// and c_avg = lr * mu_{t+1} / (1 - prod_{i<=t+1} mu_i), computed on the host in float64. (torch 1.13
// multiplies mu_t twice into the second product; torch 2.0 fixed that, pytorch#92699, and so do we.)
//
// hyper: [l1, l2, 1 - beta2^t, c_grad, c_avg, beta1, 1 - beta1, beta2, 1 - beta2, eps, weight_decay]
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }    (n and stride multiples of 4)
//   weights  storage, read_write   the group's parameters, n elements as n/4 vec4s
//   grads    storage, read         their gradients, likewise
//   state    storage, read_write   slot 0: exp_avg, slot 1: exp_avg_sq (slot s at s * stride)
//   hyper    storage, read         the group's per-step scalars (above)
//   stats    storage, read         [grad_norm, clip_coef, lr_factor, penalty]

struct UpdateParams {
  n: u32,
  stride: u32,
  clip_value: f32,
}

const NADAM_BC2: u32 = 2u;
const NADAM_C_GRAD: u32 = 3u;
const NADAM_C_AVG: u32 = 4u;
const NADAM_BETA1: u32 = 5u;
const NADAM_ONE_MINUS_BETA1: u32 = 6u;
const NADAM_BETA2: u32 = 7u;
const NADAM_ONE_MINUS_BETA2: u32 = 8u;
const NADAM_EPS: u32 = 9u;
const NADAM_WEIGHT_DECAY: u32 = 10u;

override wg: u32 = 256;
override elems: u32 = 4u;  // vec4s per invocation

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<vec4<f32>>;  // w, n / 4 vec4s
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;          // g, n / 4 vec4s
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;    // exp_avg, exp_avg_sq
@group(0) @binding(4) var<storage, read> hyper: array<f32>;                // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;                // grad_stats.wgsl output

// The per-step scalars, read once per invocation; c_grad and c_avg already scaled by lr_factor.
struct NadamHyper {
  l1: f32,
  l2: f32,
  bc2: f32,
  c_grad: f32,
  c_avg: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  weight_decay: f32,
  clip_coef: f32,
}

fn nadam_hyper() -> NadamHyper {
  let lr_factor = select(1.0, stats[STAT_LR_FACTOR], scale_lr);
  return NadamHyper(
    hyper[HYPER_L1], hyper[HYPER_L2], hyper[NADAM_BC2], hyper[NADAM_C_GRAD] * lr_factor, hyper[NADAM_C_AVG] * lr_factor,
    hyper[NADAM_BETA1], hyper[NADAM_ONE_MINUS_BETA1], hyper[NADAM_BETA2], hyper[NADAM_ONE_MINUS_BETA2],
    hyper[NADAM_EPS], hyper[NADAM_WEIGHT_DECAY], select(1.0, stats[STAT_CLIP_COEF], clip_by_norm));
}

// Each invocation updates `elems` consecutive vec4s (group lengths are multiples of 64).
@compute @workgroup_size(wg)
fn nadam_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = linear_index(wid, nwg, lid, wg) * elems;
  let s = params.stride / 4u;
  let h = nadam_hyper();
  for (var q = first; q < min(first + elems, params.n / 4u); q++) {
    let w = weights[q];
    var g = optimizer_grad4(grads[q], w, h.l1, h.l2, h.clip_coef, params.clip_value);
    g = fma(vec4<f32>(h.weight_decay), w, g);
    let m = fma(vec4<f32>(h.one_minus_beta1), g, state[q] * h.beta1);
    let v = fma(h.one_minus_beta2 * g, g, state[s + q] * h.beta2);
    state[q] = m;
    state[s + q] = v;
    let denom = sqrt(v / h.bc2) + h.eps;
    let w1 = w + (-h.c_grad) * g / denom;
    weights[q] = w1 + (-h.c_avg) * m / denom;
  }
}
