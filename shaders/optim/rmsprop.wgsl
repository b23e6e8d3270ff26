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
//   params   uniform  { n, stride, clip_value }
//   weights  storage, read_write   the group's parameters, n elements
//   grads    storage, read         their gradients
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

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;  // w, n elements
@group(0) @binding(2) var<storage, read> grads: array<f32>;          // g, n elements
@group(0) @binding(3) var<storage, read_write> state: array<f32>;    // square_avg [, momentum_buffer] [, grad_avg]
@group(0) @binding(4) var<storage, read> hyper: array<f32>;          // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;          // grad_stats.wgsl output

@compute @workgroup_size(wg)
fn rmsprop_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.n) {
    return;
  }
  let w = weights[i];
  let clip_coef = select(1.0, stats[STAT_CLIP_COEF], clip_by_norm);
  let lr = hyper[RMSPROP_LR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr);
  let alpha = hyper[RMSPROP_ALPHA];
  let one_minus_alpha = hyper[RMSPROP_ONE_MINUS_ALPHA];
  var g = optimizer_grad(grads[i], w, hyper[HYPER_L1], hyper[HYPER_L2], clip_coef, params.clip_value);
  g = fma(hyper[RMSPROP_WEIGHT_DECAY], w, g);
  let sq = fma(one_minus_alpha * g, g, state[i] * alpha);
  state[i] = sq;
  var avg = sqrt(sq);
  if (centered) {
    let at = select(1u, 2u, has_momentum) * params.stride + i;
    let ga = fma(one_minus_alpha, g, state[at] * alpha);
    state[at] = ga;
    avg = sqrt(fma(-ga, ga, sq));
  }
  avg = avg + hyper[RMSPROP_EPS];
  if (has_momentum) {
    let b = state[params.stride + i] * hyper[RMSPROP_MOMENTUM] + g / avg;
    state[params.stride + i] = b;
    weights[i] = fma(-lr, b, w);
  } else {
    weights[i] = w + (-lr) * g / avg;
  }
}
