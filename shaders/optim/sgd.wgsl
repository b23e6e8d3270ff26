// SGD with momentum (torch.optim.SGD, torch 1.13), per element of a parameter group:
//   g = g_eff (optim/common.wgsl) + weight_decay * w
//   b = g on the first step, else momentum * b + (1 - dampening) * g       (when has_momentum)
//   g = g + momentum * b when nesterov, else b                              (when has_momentum)
//   w = w - lr * lr_factor * g
//
// hyper: [l1, l2, lr, first_step (1 or 0), momentum, 1 - dampening, weight_decay]
//
// Bindings (by name):
//   params   uniform  { n, stride, clip_value }    (n and stride multiples of 4)
//   weights  storage, read_write   the group's parameters, n elements as n/4 vec4s
//   grads    storage, read         their gradients, likewise
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
override elems: u32 = 4u;  // vec4s per invocation

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<vec4<f32>>;  // w, n / 4 vec4s
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;          // g, n / 4 vec4s
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;    // momentum_buffer
@group(0) @binding(4) var<storage, read> hyper: array<f32>;                // per-step scalars
@group(0) @binding(5) var<storage, read> stats: array<f32>;                // grad_stats.wgsl output

// The per-step scalars, read once per invocation; lr already scaled by lr_factor.
struct SgdHyper {
  l1: f32,
  l2: f32,
  lr: f32,
  first_step: bool,
  momentum: f32,
  one_minus_dampening: f32,
  weight_decay: f32,
  clip_coef: f32,
}

fn sgd_hyper() -> SgdHyper {
  return SgdHyper(
    hyper[HYPER_L1], hyper[HYPER_L2], hyper[SGD_LR] * select(1.0, stats[STAT_LR_FACTOR], scale_lr),
    hyper[SGD_FIRST_STEP] != 0.0, hyper[SGD_MOMENTUM], hyper[SGD_ONE_MINUS_DAMPENING], hyper[SGD_WEIGHT_DECAY],
    select(1.0, stats[STAT_CLIP_COEF], clip_by_norm));
}

// Each invocation updates `elems` consecutive vec4s (group lengths are multiples of 64).
@compute @workgroup_size(wg)
fn sgd_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let first = linear_index(wid, nwg, lid, wg) * elems;
  let h = sgd_hyper();
  for (var q = first; q < min(first + elems, params.n / 4u); q++) {
    let w = weights[q];
    var d = optimizer_grad4(grads[q], w, h.l1, h.l2, h.clip_coef, params.clip_value);
    d = fma(vec4<f32>(h.weight_decay), w, d);
    if (has_momentum) {
      var b = d;
      if (!h.first_step) {
        b = fma(vec4<f32>(h.one_minus_dampening), d, state[q] * h.momentum);
      }
      state[q] = b;
      d = select(b, fma(vec4<f32>(h.momentum), b, d), nesterov);
    }
    weights[q] = fma(vec4<f32>(-h.lr), d, w);
  }
}
