// RMSprop (torch.optim.RMSprop, torch 1.13; Hinton's lecture 6e, centered form of Graves 2013),
// per element of a parameter group:
//   g   = g_eff (optim/common.wgsl) + weight_decay * w
//   sq  = alpha * sq + (1 - alpha) * g^2
//   ga  = alpha * ga + (1 - alpha) * g                     (when centered)
//   avg = sqrt(sq - ga^2) + eps when centered, else sqrt(sq) + eps
//   b   = momentum * b + g / avg;  w = w - lr * lr_factor * b      (when has_momentum)
//   w   = w - lr * lr_factor * g / avg                              (otherwise)
//
// hyper: [l1, l2, lr, alpha, 1 - alpha, eps, weight_decay, momentum]
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }    (n and stride multiples of 4)
//   weights  storage, read_write   the group's parameters, n elements as n/4 vec4s
//   grads    storage, read         their gradients, likewise
//   state    storage, read_write   slots (each `stride` long): square_avg, then momentum_buffer
//                                  when has_momentum, then grad_avg when centered
//   hyper    storage, read         the group's per-step scalars (above)
//   stats    storage, read         [grad_norm, clip_coef, lr_factor, penalty]

struct UpdateParams {
  n: u32,
  stride: u32,
  clip_value: f32,
}

const RMSPROP_LR: u32 = 2u;
const RMSPROP_ALPHA: u32 = 3u;
const RMSPROP_ONE_MINUS_ALPHA: u32 = 4u;
const RMSPROP_EPS: u32 = 5u;
const RMSPROP_WEIGHT_DECAY: u32 = 6u;
const RMSPROP_MOMENTUM: u32 = 7u;

override wg: u32 = 256;
override has_momentum: bool = false;
override centered: bool = false;
override elems: u32 = 4u;  // vec4s per invocation

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<vec4<f32>>;  // w, n / 4 vec4s
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;          // g, n / 4 vec4s
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;    // square_avg [, momentum_buffer] [, grad_avg]
@group(0) @binding(4) var<storage, read> hyper: array<f32>;                // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;                // grad_stats.wgsl output

// The per-step scalars, read once per invocation; lr already scaled by lr_factor.
struct RmspropHyper {
  l1: f32,
  l2: f32,
  lr: f32,
  alpha: f32,
  one_minus_alpha: f32,
  eps: f32,
  weight_decay: f32,
  momentum: f32,
  clip_coef: f32,
}

fn rmsprop_hyper() -> RmspropHyper {
  return RmspropHyper(
    hyper[HYPER_L1], hyper[HYPER_L2], hyper[RMSPROP_LR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr),
    hyper[RMSPROP_ALPHA], hyper[RMSPROP_ONE_MINUS_ALPHA], hyper[RMSPROP_EPS], hyper[RMSPROP_WEIGHT_DECAY],
    hyper[RMSPROP_MOMENTUM], select(1.0, stats[STAT_CLIP_COEF], clip_by_norm));
}

// Each invocation updates `elems` consecutive vec4s (group lengths are multiples of 64).
@compute @workgroup_size(wg)
fn rmsprop_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = linear_index(wid, nwg, lid, wg) * elems;
  let s = params.stride / 4u;
  let grad_avg_at = select(1u, 2u, has_momentum) * s;
  let h = rmsprop_hyper();
  for (var q = first; q < min(first + elems, params.n / 4u); q++) {
    let w = weights[q];
    var g = optimizer_grad4(grads[q], w, h.l1, h.l2, h.clip_coef, params.clip_value);
    g = fma(vec4<f32>(h.weight_decay), w, g);
    let sq = fma(h.one_minus_alpha * g, g, state[q] * h.alpha);
    state[q] = sq;
    var avg = sqrt(sq);
    if (centered) {
      let ga = fma(vec4<f32>(h.one_minus_alpha), g, state[grad_avg_at + q] * h.alpha);
      state[grad_avg_at + q] = ga;
      avg = sqrt(fma(-ga, ga, sq));
    }
    avg = avg + h.eps;
    if (has_momentum) {
      let b = state[s + q] * h.momentum + g / avg;
      state[s + q] = b;
      weights[q] = fma(vec4<f32>(-h.lr), b, w);
    } else {
      weights[q] = w + (-h.lr) * g / avg;
    }
  }
}
