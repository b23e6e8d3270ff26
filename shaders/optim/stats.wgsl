// The step's gradient statistics, in the `stats` buffer of the update plan: written by
// grad_stats.wgsl (and lr_factor by average_lr.wgsl), read by every update shader. Concatenated
// in front of each of them (src/kernels/optim.ts); STATS in that module follows this order.
struct GradStats {
  grad_norm: f32,
  clip_coef: f32,
  lr_factor: f32,
  penalty: f32,
  skip: f32,
}
