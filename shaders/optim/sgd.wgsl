// SGD with momentum (torch.optim.SGD, torch 1.13), one thread per element of a parameter group:
//   g = g_eff (optim/common.wgsl) + weight_decay * w
//   b = g on the first step, else momentum * b + (1 - dampening) * g       (when has_momentum)
//   g = g + momentum * b when nesterov, else b                              (when has_momentum)
//   w = w - lr * lr_factor * g
//
// hyper: [l1, l2, lr, first_step (1 or 0), momentum, 1 - dampening, weight_decay]
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }
//   weights  storage, read_write   the group's parameters, n elements
//   grads    storage, read         their gradients
//   state    storage, read_write   slot 0: momentum_buffer (touched only when has_momentum)
//   hyper    storage, read         the group's per-step scalars (above)
//   stats    storage, read         [grad_norm, clip_coef, lr_factor, penalty]

struct UpdateParams {
  n: u32,
  stride: u32,
  clip_value: f32,
}

const SGD_LR: u32 = 2u;
const SGD_FIRST_STEP: u32 = 3u;
const SGD_MOMENTUM: u32 = 4u;
const SGD_ONE_MINUS_DAMPENING: u32 = 5u;
const SGD_WEIGHT_DECAY: u32 = 6u;

override wg: u32 = 256;
override has_momentum: bool = false;
override nesterov: bool = false;

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;  // w, n elements
@group(0) @binding(2) var<storage, read> grads: array<f32>;          // g, n elements
@group(0) @binding(3) var<storage, read_write> state: array<f32>;    // momentum_buffer
@group(0) @binding(4) var<storage, read> hyper: array<f32>;          // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;          // grad_stats.wgsl output

@compute @workgroup_size(wg)
fn sgd_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.n) {
    return;
  }
  let w = weights[i];
  let clip_coef = select(1.0, stats[STAT_CLIP_COEF], clip_by_norm);
  let lr = hyper[SGD_LR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr);
  let momentum = hyper[SGD_MOMENTUM];
  var d = optimizer_grad(grads[i], w, hyper[HYPER_L1], hyper[HYPER_L2], clip_coef, params.clip_value);
  d = fma(hyper[SGD_WEIGHT_DECAY], w, d);
  if (has_momentum) {
    var b = d;
    if (hyper[SGD_FIRST_STEP] == 0.0) {
      b = fma(hyper[SGD_ONE_MINUS_DAMPENING], d, state[i] * momentum);
    }
    state[i] = b;
    d = select(b, fma(momentum, b, d), nesterov);
  }
  weights[i] = fma(-lr, d, w);
}
