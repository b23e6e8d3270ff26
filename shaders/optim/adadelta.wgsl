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
//   params   uniform  { n, stride, clip_value }    (n and stride multiples of 4)
//   weights  storage, read_write   the group's parameters, n elements as n/4 vec4s
//   grads    storage, read         their gradients, likewise
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
override elems: u32 = 4u;  // vec4s per invocation

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<vec4<f32>>;  // w, n / 4 vec4s
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;          // g, n / 4 vec4s
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;    // square_avg, acc_delta
@group(0) @binding(4) var<storage, read> hyper: array<f32>;                // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;                // grad_stats.wgsl output

// The per-step scalars, read once per invocation; lr already scaled by lr_factor.
struct AdadeltaHyper {
  l1: f32,
  l2: f32,
  lr: f32,
  rho: f32,
  one_minus_rho: f32,
  eps: f32,
  weight_decay: f32,
  clip_coef: f32,
}

fn adadelta_hyper() -> AdadeltaHyper {
  return AdadeltaHyper(
    hyper[HYPER_L1], hyper[HYPER_L2], hyper[ADADELTA_LR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr),
    hyper[ADADELTA_RHO], hyper[ADADELTA_ONE_MINUS_RHO], hyper[ADADELTA_EPS], hyper[ADADELTA_WEIGHT_DECAY],
    select(1.0, stats[STAT_CLIP_COEF], clip_by_norm));
}

// Each invocation updates `elems` consecutive vec4s (group lengths are multiples of 64).
@compute @workgroup_size(wg)
fn adadelta_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = linear_index(wid, nwg, lid, wg) * elems;
  let s = params.stride / 4u;
  let h = adadelta_hyper();
  for (var q = first; q < min(first + elems, params.n / 4u); q++) {
    let w = weights[q];
    var g = optimizer_grad4(grads[q], w, h.l1, h.l2, h.clip_coef, params.clip_value);
    g = fma(vec4<f32>(h.weight_decay), w, g);
    let sq = fma(h.one_minus_rho * g, g, state[q] * h.rho);
    state[q] = sq;
    let rms_grad = sqrt(sq + h.eps);
    let acc = state[s + q];
    let delta = sqrt(acc + h.eps) / rms_grad * g;
    state[s + q] = fma(h.one_minus_rho * delta, delta, acc * h.rho);
    weights[q] = fma(vec4<f32>(-h.lr), delta, w);
  }
}
