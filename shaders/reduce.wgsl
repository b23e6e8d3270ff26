// Reductions over f32 arrays, deterministic: every invocation adds a fixed set of elements in a
// fixed order, then a workgroup tree combines the partial sums, so a result never depends on
// scheduling.
//
//   col_sum:      out[c] = scale * sum_r x[r * cols + c]   for a row-major [rows, cols] x
//                 (bias gradients). One invocation per column, rows added in order.
//   sum:          out[0] = scale * sum_i x[i]              over all n = rows * cols elements
//   sum_squares:  out[0] = scale * sum_i x[i]^2            (scale 1/n gives the mean)
//
// sum and sum_squares run as ONE workgroup of `wg` invocations (a power of two): invocation l
// accumulates x[l], x[l + wg], x[l + 2 wg], ...; then partials combine pairwise, halving the
// active count each round.
//
// Bindings (by name):
//   params  uniform               { rows: u32, cols: u32, scale: f32 }
//   x       storage, read         input, rows * cols elements
//   out     storage, read_write   cols elements (col_sum) or 1 (sum, sum_squares)
//
// Launch: col_sum grid1d(cols, wg); sum and sum_squares exactly (1, 1, 1).

struct ReduceParams {
  rows: u32,
  cols: u32,
  scale: f32,
}

override wg: u32 = 256;

@group(0) @binding(0) var<uniform> params: ReduceParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // input
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // reduced values

@compute @workgroup_size(wg)
fn col_sum(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = linear_index(wid, nwg, lid, wg);
  let cols = params.cols;
  if (c < cols) {
    var acc = 0.0;
    for (var r = 0u; r < params.rows; r++) {
      acc = acc + x[r * cols + c];
    }
    out[c] = params.scale * acc;
  }
}

@compute @workgroup_size(wg)
fn sum(@builtin(local_invocation_id) lid: vec3u) {
  let n = params.rows * params.cols;
  var acc = 0.0;
  for (var i = lid.x; i < n; i += wg) {
    acc = acc + x[i];
  }
  partial[lid.x] = acc;
  tree_reduce(lid.x);
  if (lid.x == 0u) {
    out[0] = params.scale * partial[0];
  }
}

@compute @workgroup_size(wg)
fn sum_squares(@builtin(local_invocation_id) lid: vec3u) {
  let n = params.rows * params.cols;
  var acc = 0.0;
  for (var i = lid.x; i < n; i += wg) {
    let v = x[i];
    acc = acc + v * v;
  }
  partial[lid.x] = acc;
  tree_reduce(lid.x);
  if (lid.x == 0u) {
    out[0] = params.scale * partial[0];
  }
}
