// Adam and AdamW (torch.optim.Adam / AdamW, torch 1.13; Kingma & Ba 2015, Loshchilov & Hutter
// 2019), per element of a parameter group. The standard form with bias correction:
//   g = g_eff (optim/common.wgsl), + weight_decay * w for Adam (L2 coupled into the gradient)
//   w = w * (1 - lr * lr_factor * weight_decay)               for AdamW (decoupled decay)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   v_max = max(v_max, v), used instead of v                  (when amsgrad)
//   w = w - step_size * lr_factor * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with step_size = lr / (1 - beta1^t), both corrections computed on the host in float64.
//
// hyper: [l1, l2, step_size, sqrt(1 - beta2^t), beta1, 1 - beta1, beta2, 1 - beta2, eps, decay]
//        decay = weight_decay for Adam, lr * weight_decay for AdamW
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }    (n and stride multiples of 4)
//   weights  storage, read_write   the group's parameters, n elements as n/4 vec4s
//   grads    storage, read         their gradients, likewise
//   state    storage, read_write   slots (each `stride` long): exp_avg, exp_avg_sq, then
//                                  max_exp_avg_sq when amsgrad
//   hyper    storage, read         the group's per-step scalars (above)
//   stats    storage, read         [grad_norm, clip_coef, lr_factor, penalty]

struct UpdateParams {
  n: u32,
  stride: u32,
  clip_value: f32,
}

const ADAM_STEP_SIZE: u32 = 2u;
const ADAM_BC2_SQRT: u32 = 3u;
const ADAM_BETA1: u32 = 4u;
const ADAM_ONE_MINUS_BETA1: u32 = 5u;
const ADAM_BETA2: u32 = 6u;
const ADAM_ONE_MINUS_BETA2: u32 = 7u;
const ADAM_EPS: u32 = 8u;
const ADAM_DECAY: u32 = 9u;

override wg: u32 = 256;
override amsgrad: bool = false;
override elems: u32 = 4u;  // vec4s per invocation

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<vec4<f32>>;  // w, n / 4 vec4s
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;          // g, n / 4 vec4s
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;    // exp_avg, exp_avg_sq [, max_exp_avg_sq]
@group(0) @binding(4) var<storage, read> hyper: array<f32>;          // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;          // grad_stats.wgsl output

// The per-step scalars, read once per invocation.
struct AdamHyper {
  l1: f32,
  l2: f32,
  step_size: f32,
  bc2_sqrt: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  decay: f32,
  clip_coef: f32,
  lr_factor: f32,
}

fn adam_hyper() -> AdamHyper {
  return AdamHyper(
    hyper[HYPER_L1], hyper[HYPER_L2], hyper[ADAM_STEP_SIZE], hyper[ADAM_BC2_SQRT],
    hyper[ADAM_BETA1], hyper[ADAM_ONE_MINUS_BETA1], hyper[ADAM_BETA2], hyper[ADAM_ONE_MINUS_BETA2],
    hyper[ADAM_EPS], hyper[ADAM_DECAY],
    select(1.0, stats[STAT_CLIP_COEF], clip_by_norm), select(1.0, stats[STAT_LR_FACTOR], scale_lr));
}

// The moment updates and the step for four elements, shared by Adam and AdamW once the decay
// is applied. `q` indexes vec4s.
fn adam_step(q: u32, w: vec4<f32>, g: vec4<f32>, h: AdamHyper) {
  let s = params.stride / 4u;
  let m = fma(vec4<f32>(h.one_minus_beta1), g, state[q] * h.beta1);
  var v = fma(h.one_minus_beta2 * g, g, state[s + q] * h.beta2);
  state[q] = m;
  state[s + q] = v;
  if (amsgrad) {
    v = max(state[2u * s + q], v);
    state[2u * s + q] = v;
  }
  let denom = sqrt(v) / h.bc2_sqrt + h.eps;
  weights[q] = w + (-(h.step_size * h.lr_factor)) * m / denom;
}

// Each invocation updates `elems` consecutive vec4s (group lengths are multiples of 64).
@compute @workgroup_size(wg)
fn adam_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = linear_index(wid, nwg, lid, wg) * elems;
  let h = adam_hyper();
  for (var q = first; q < min(first + elems, params.n / 4u); q++) {
    let w = weights[q];
    let g = optimizer_grad4(grads[q], w, h.l1, h.l2, h.clip_coef, params.clip_value);
    adam_step(q, w, fma(vec4<f32>(h.decay), w, g), h);
  }
}

@compute @workgroup_size(wg)
fn adamw_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = linear_index(wid, nwg, lid, wg) * elems;
  let h = adam_hyper();
  for (var q = first; q < min(first + elems, params.n / 4u); q++) {
    let w = weights[q];
    let g = optimizer_grad4(grads[q], w, h.l1, h.l2, h.clip_coef, params.clip_value);
    adam_step(q, w * (1.0 - h.decay * h.lr_factor), g, h);
  }
}
