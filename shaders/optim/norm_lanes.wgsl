// The (norm, penalty) pair reduced across the lanes of one workgroup, shared by grad_norm.wgsl
// and grad_stats.wgsl (concatenated after them; `wg` and `norm_inf` are their overrides).
// The tree's order is fixed, so results are deterministic.

var<workgroup> norm_lanes: array<f32, 256>;
var<workgroup> penalty_lanes: array<f32, 256>;

// Leaves the workgroup's combined norm in norm_lanes[0] (a sum of squares, or a max when
// norm_inf) and its penalty sum in penalty_lanes[0]. Call from uniform control flow.
fn reduce_norm_lanes(lane: u32, norm_acc: f32, penalty_acc: f32) {
  norm_lanes[lane] = norm_acc;
  penalty_lanes[lane] = penalty_acc;
  workgroupBarrier();
  for (var half = wg / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      let other = norm_lanes[lane + half];
      norm_lanes[lane] = select(norm_lanes[lane] + other, max(norm_lanes[lane], other), norm_inf);
      penalty_lanes[lane] += penalty_lanes[lane + half];
    }
    workgroupBarrier();
  }
}
