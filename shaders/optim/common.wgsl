// Shared pieces of the optimizer kernels (shaders/optim/*.wgsl), concatenated in front of each of
// them after shaders/common.wgsl (see src/kernels/optim.ts).
//
// The gradient an optimizer rule sees, per element, is the loss gradient plus the gradient of the
// penalties l1*|w| + l2/2*w^2 added to the loss, then clipped as torch.nn.utils does to p.grad:
//   g_eff = g + l1 * sign(w) + l2 * w
//   g_eff = g_eff * clip_coef                (clip_grad_norm_; clip_coef = 1 when off)
//   g_eff = clamp(g_eff, -clip_value, clip_value)   (clip_grad_value_, when clip_by_value)
//   g_eff = -g_eff                           (when maximize)
//
// Per-group scalars live in `hyper`, written on the host before each step (float64 math rounded
// once to f32): hyper[0] = l1, hyper[1] = l2, hyper[2..] as listed in each optimizer's header.
// `stats` is written by grad_stats.wgsl: [grad_norm, clip_coef, lr_factor, penalty].
//
// The update rules use fma() exactly where torch's CPU kernels fuse (add with alpha, addcmul), and
// separate roundings elsewhere (addcdiv, mul_, the penalty terms), so that f32 results match.

const HYPER_L1: u32 = 0u;
const HYPER_L2: u32 = 1u;

const STAT_GRAD_NORM: u32 = 0u;
const STAT_CLIP_COEF: u32 = 1u;
const STAT_LR_FACTOR: u32 = 2u;
const STAT_PENALTY: u32 = 3u;

override clip_by_norm: bool = false;   // multiply by stats[STAT_CLIP_COEF]
override clip_by_value: bool = false;  // clamp to [-clip_value, clip_value]
override scale_lr: bool = false;       // multiply the learning rate by stats[STAT_LR_FACTOR]
override maximize: bool = false;       // ascend instead of descend, as torch's `maximize`

// Gradient of the loss plus l1*|w| + l2/2*w^2, evaluated in the same order as torch accumulates it.
fn penalized_grad(g: f32, w: f32, l1: f32, l2: f32) -> f32 {
  return g + l1 * sign(w) + l2 * w;
}

// l1*|w| + l2/2*w^2 of one element, for the penalty reported in stats.
fn penalty_of(w: f32, l1: f32, l2: f32) -> f32 {
  return l1 * abs(w) + 0.5 * l2 * w * w;
}

// The gradient an optimizer rule consumes, for four consecutive elements (the update kernels
// read array<vec4<f32>>); the penalty terms in penalized_grad's order. `clip_coef` is 1 unless
// clip_by_norm.
fn optimizer_grad4(g: vec4<f32>, w: vec4<f32>, l1: f32, l2: f32, clip_coef: f32, clip_value: f32) -> vec4<f32> {
  var e = (g + l1 * sign(w) + l2 * w) * clip_coef;
  if (clip_by_value) {
    e = clamp(e, vec4<f32>(-clip_value), vec4<f32>(clip_value));
  }
  if (maximize) {
    e = -e;
  }
  return e;
}
