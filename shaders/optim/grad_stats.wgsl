// Stage 2 of the gradient-norm reduction: one workgroup combines the `count` partials written by
// grad_norm.wgsl and writes the step's statistics:
//   grad_norm  = sqrt(sum of squares), or the max when norm_inf (torch clip_grad_norm_)
//   clip_coef  = min(1, max_norm / (grad_norm + 1e-6)) when clip_by_norm, else 1,
//                evaluated as torch does: reciprocal(grad_norm + 1e-6) * max_norm
//   lr_factor  = 1 / max(grad_norm, eps)^gamma when scale_lr, else 1
//   penalty    = sum of l1*|w| + l2/2*w^2 over all groups
//   skip       = 1 when check_finite and the loss, grad_norm or penalty is not finite, else 0;
//                the update shaders then leave weights and state as they are (onNonFinite 'skipStep')
//
// Bindings (by name):
//   params    uniform  { count, max_norm, gamma, eps }
//   partials  storage, read         2 floats per partial: [norm part, penalty part]
//   loss      storage, read         the step's loss (read when check_finite)
//   stats     storage, read_write   GradStats

struct StatsParams {
  count: u32,
  max_norm: f32,
  gamma: f32,
  eps: f32,
}

override wg: u32 = 256;           // a power of two, at most 256
override norm_inf: bool = false;
override clip_by_norm: bool = false;
override scale_lr: bool = false;
override check_finite: bool = false;

@group(0) @binding(0) var<uniform> params: StatsParams;
@group(0) @binding(1) var<storage, read> partials: array<f32>;  // 2 * count floats
@group(0) @binding(2) var<storage, read> loss: array<f32>;     // [loss]
@group(0) @binding(3) var<storage, read_write> stats: GradStats;

@compute @workgroup_size(wg)
fn grad_stats(@builtin(local_invocation_id) lid: vec3u) {
  var norm_acc = 0.0;
  var penalty_acc = 0.0;
  for (var k = lid.x; k < params.count; k += wg) {
    let part = partials[2u * k];
    norm_acc = select(norm_acc + part, max(norm_acc, part), norm_inf);
    penalty_acc += partials[2u * k + 1u];
  }
  reduce_norm_lanes(lid.x, norm_acc, penalty_acc);
  if (lid.x == 0u) {
    let norm = select(sqrt(norm_lanes[0]), norm_lanes[0], norm_inf);
    stats.grad_norm = norm;
    stats.clip_coef = select(1.0, min(1.0, (1.0 / (norm + 1e-6)) * params.max_norm), clip_by_norm);
    stats.lr_factor = select(1.0, 1.0 / pow(max(norm, params.eps), params.gamma), scale_lr);
    stats.penalty = penalty_lanes[0];
    let finite = is_finite(loss[0]) && is_finite(norm) && is_finite(penalty_lanes[0]);
    stats.skip = select(0.0, 1.0, check_finite && !finite);
  }
}
