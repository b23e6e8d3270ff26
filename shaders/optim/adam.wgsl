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
//   params   uniform  { n, stride, clip_value }
//   weights  storage, read_write   the group's parameters, n elements
//   grads    storage, read         their gradients
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

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;  // w, n elements
@group(0) @binding(2) var<storage, read> grads: array<f32>;          // g, n elements
@group(0) @binding(3) var<storage, read_write> state: array<f32>;    // exp_avg, exp_avg_sq [, max_exp_avg_sq]
@group(0) @binding(4) var<storage, read> hyper: array<f32>;          // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;          // grad_stats.wgsl output

// The moment updates and the step, shared by Adam and AdamW once the decay is applied.
fn adam_step(i: u32, w: f32, g: f32, lr_factor: f32) {
  let s = params.stride;
  let m = fma(hyper[ADAM_ONE_MINUS_BETA1], g, state[i] * hyper[ADAM_BETA1]);
  var v = fma(hyper[ADAM_ONE_MINUS_BETA2] * g, g, state[s + i] * hyper[ADAM_BETA2]);
  state[i] = m;
  state[s + i] = v;
  if (amsgrad) {
    v = max(state[2u * s + i], v);
    state[2u * s + i] = v;
  }
  let denom = sqrt(v) / hyper[ADAM_BC2_SQRT] + hyper[ADAM_EPS];
  let step_size = hyper[ADAM_STEP_SIZE] * lr_factor;
  weights[i] = w + (-step_size) * m / denom;
}

@compute @workgroup_size(wg)
fn adam_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.n) {
    return;
  }
  let w = weights[i];
  let clip_coef = select(1.0, stats[STAT_CLIP_COEF], clip_by_norm);
  let lr_factor = select(1.0, stats[STAT_LR_FACTOR], scale_lr);
  let g = optimizer_grad(grads[i], w, hyper[HYPER_L1], hyper[HYPER_L2], clip_coef, params.clip_value);
  adam_step(i, w, fma(hyper[ADAM_DECAY], w, g), lr_factor);
}

@compute @workgroup_size(wg)
fn adamw_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.n) {
    return;
  }
  let w = weights[i];
  let clip_coef = select(1.0, stats[STAT_CLIP_COEF], clip_by_norm);
  let lr_factor = select(1.0, stats[STAT_LR_FACTOR], scale_lr);
  let g = optimizer_grad(grads[i], w, hyper[HYPER_L1], hyper[HYPER_L2], clip_coef, params.clip_value);
  adam_step(i, w * (1.0 - hyper[ADAM_DECAY] * lr_factor), g, lr_factor);
}
