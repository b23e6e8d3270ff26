// AverageGradientLR's rate factor: one invocation, run after grad_stats.wgsl in the same step.
// With n = stats.grad_norm of this step and the running pair (v, p) kept across steps:
//   v_t       = beta * v_{t-1} + (1 - beta) * n^2      running mean of the squared global norm
//   p_t       = beta * p_{t-1}                          = beta^t, so 1 - p_t corrects the bias of v
//   lr_factor = 1 / (sqrt(v_t / (1 - p_t)) + eps)
// (v_0, p_0) = (0, 1). A step whose norm is not finite (is_finite, from its bits) leaves (v, p) as
// they were and takes the factor of the mean so far (NaN before any finite norm), so that one bad
// batch, skipped or not, does not poison every later rate.
//
// Bindings (by name):
//   params   uniform               { beta, eps }
//   running  storage, read_write   [v, p]
//   stats    storage, read_write   GradStats: reads grad_norm, writes lr_factor

struct AverageParams {
  beta: f32,
  eps: f32,
}

override wg: u32 = 1;

@group(0) @binding(0) var<uniform> params: AverageParams;
@group(0) @binding(1) var<storage, read_write> running: array<f32>;  // [v, p]
@group(0) @binding(2) var<storage, read_write> stats: GradStats;      // grad_stats.wgsl output

@compute @workgroup_size(wg)
fn average_lr(@builtin(local_invocation_index) lid: u32) {
  if (lid != 0u) {
    return;
  }
  let n = stats.grad_norm;
  var v = running[0];
  var p = running[1];
  if (is_finite(n)) {
    v = params.beta * v + (1.0 - params.beta) * (n * n);
    p = params.beta * p;
    running[0] = v;
    running[1] = p;
  }
  stats.lr_factor = 1.0 / (sqrt(v / (1.0 - p)) + params.eps);
}
