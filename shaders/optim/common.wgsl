// The header of every optimizer update shader (shaders/optim/<optimizer>.wgsl), concatenated in
// front of it after shaders/common.wgsl (see src/kernels/optim.ts). It holds the bindings and the
// entry point `update`; an update shader adds only its `struct Hyper`, its own variant overrides
// and `fn update4(q: u32, h: Hyper)`, its rule for the four elements at vec4 q.
//
// The gradient an optimizer rule sees, per element, is the loss gradient plus the gradient of the
// penalties l1*|w| + l2/2*w^2 added to the loss, then clipped as torch.nn.utils does to p.grad:
//   g_eff = g + l1 * sign(w) + l2 * w
//   g_eff = g_eff * clip_coef                       (clip_grad_norm_; clip_coef = 1 when off)
//   g_eff = clamp(g_eff, -clip_value, clip_value)   (clip_grad_value_, when clip_by_value)
//   g_eff = -g_eff                                  (when maximize)
//
// `hyper` holds the group's per-step scalars by name, written on the host before each step
// (float64 math rounded once to f32). Its struct `Hyper` is declared by each update shader and
// begins with `l1: f32, l2: f32`; reflection checks every member against the TypeScript list.
//
// The update rules use fma() exactly where torch's CPU kernels fuse (add with alpha, addcmul), and
// separate roundings elsewhere (addcdiv, mul_, the penalty terms), so that f32 results match.
//
// Bindings (by name):
//   params   uniform               { n, stride, clip_value }    (n and stride multiples of 4)
//   weights  storage, read_write   the group's parameters, n elements as n/4 vec4s
//   grads    storage, read         their gradients, likewise
//   state    storage, read_write   the optimizer's slots back to back, slot s at s * stride
//   hyper    storage, read         Hyper: the group's per-step scalars
//   stats    storage, read         GradStats, written by grad_stats.wgsl
//
// With skip_nonfinite, a step whose GradStats.skip is set (a non-finite loss or gradient) writes
// nothing: weights and optimizer state stay as they were, as torch's GradScaler skips a step.
//
// Launch: grid1d(ceil(n / (4 * elems)), wg) workgroups.

struct UpdateParams {
  n: u32,
  stride: u32,
  clip_value: f32,
}

override wg: u32 = 256;
override elems: u32 = 4u;              // vec4s per invocation
override clip_by_norm: bool = false;   // multiply by stats.clip_coef
override clip_by_value: bool = false;  // clamp to [-clip_value, clip_value]
override scale_lr: bool = false;       // multiply the learning rate by stats.lr_factor
override maximize: bool = false;       // ascend instead of descend, as torch's `maximize`
override skip_nonfinite: bool = false; // write nothing when stats.skip is set

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read_write> weights: array<vec4<f32>>;  // w, n / 4 vec4s
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;          // g, n / 4 vec4s
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;    // the optimizer's slots
@group(0) @binding(4) var<storage, read> hyper: Hyper;                     // per-step scalars
@group(0) @binding(5) var<storage, read> stats: GradStats;                 // grad_stats.wgsl output

// Where state slot `s` starts, in vec4s.
fn slot(s: u32) -> u32 {
  return s * (params.stride / 4u);
}

// The factor GradientNormLR applies to the learning rate: stats.lr_factor when scale_lr, else 1.
fn lr_factor() -> f32 {
  return select(1.0, stats.lr_factor, scale_lr);
}

// g_eff of the four elements at vec4 `q`, the penalties added in grad_norm.wgsl's order.
fn optimizer_grad4(q: u32, h: Hyper) -> vec4<f32> {
  let w = weights[q];
  var e = (grads[q] + h.l1 * sign(w) + h.l2 * w) * select(1.0, stats.clip_coef, clip_by_norm);
  if (clip_by_value) {
    e = clamp(e, vec4<f32>(-params.clip_value), vec4<f32>(params.clip_value));
  }
  if (maximize) {
    e = -e;
  }
  return e;
}

// Each invocation updates `elems` consecutive vec4s (group lengths are multiples of 64, so no
// vec4 straddles the end), reading the per-step scalars once.
@compute @workgroup_size(wg)
fn update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  if (skip_nonfinite && stats.skip != 0.0) {
    return;
  }
  let first = linear_index(wid, nwg, lid, wg) * elems;
  let h = hyper;
  for (var q = first; q < min(first + elems, params.n / 4u); q++) {
    update4(q, h);
  }
}
