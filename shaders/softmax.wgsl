// Softmax and log-softmax along one dimension of a dense tensor (torch.softmax, log_softmax), and
// their gradients. A row is every element that shares all indices but `dim`; with `inner` the
// product of the extents after dim, element k of row ρ lies at
//
//   at(ρ, k) = (ρ / inner) · len · inner + ρ % inner + k · inner
//
// so the dimension need not be the last. With m the row maximum (subtracted for stability):
//
//   softmax_forward   (log_softmax = 0):  out = exp(x - m) / Σ exp(x - m)
//                     (log_softmax = 1):  out = x - m - log Σ exp(x - m)
//   softmax_backward  (log_softmax = 0):  dx = y · (dy - Σ dy · y)
//                     (log_softmax = 1):  dx = dy - exp(y) · Σ dy
//
// Each row is reduced by `lanes` invocations (a power of two dividing wg): lane l takes
// k = l, l + lanes, ... in order, then the lanes combine pairwise in a fixed tree through
// workgroup memory. lanes = 1 is one invocation per row; lanes = wg one workgroup per row.
//
// Bindings (by name):
//   params  uniform               { rows: u32, len: u32, inner: u32 }
//   x       storage, read         forward input, rows · len elements
//   out     storage, read_write   forward output
//   dy      storage, read         gradient of the output (backward)
//   y       storage, read         forward output (backward)
//   dx      storage, read_write   gradient of the input (backward)
//
// Launch: ceil(rows / (wg / lanes)) workgroups, split over y as grid1d does.

struct SoftmaxParams {
  rows: u32,
  len: u32,
  inner: u32,
}

override wg: u32 = 256u;
override lanes: u32 = 1u;
override log_softmax: u32 = 0u;

@group(0) @binding(0) var<uniform> params: SoftmaxParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // forward input
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // forward output
@group(0) @binding(3) var<storage, read> dy: array<f32>;         // gradient of the output
@group(0) @binding(4) var<storage, read> y: array<f32>;          // forward output, for backward
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;   // gradient of the input

var<workgroup> partial: array<f32, wg>;

fn row_start(row: u32) -> u32 {
  return (row / params.inner) * params.len * params.inner + row % params.inner;
}

// The max (or the sum) of the `lanes` values v of one row, given to every lane of that row in a
// fixed tree. Must be reached by the whole workgroup.
fn across_lanes(l: u32, lane: u32, v: f32, take_max: bool) -> f32 {
  partial[l] = v;
  workgroupBarrier();
  for (var s = lanes / 2u; s > 0u; s = s / 2u) {
    if (lane < s) {
      let u = partial[l + s];
      partial[l] = select(partial[l] + u, max(partial[l], u), take_max);
    }
    workgroupBarrier();
  }
  let total = partial[l - lane];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(wg)
fn softmax_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = (wid.y * nwg.x + wid.x) * (wg / lanes) + lid.x / lanes;
  let lane = lid.x % lanes;
  let live = row < params.rows;
  let start = row_start(row);
  let step = params.inner;

  var m = 0.0;
  if (live) {
    m = x[start];
    for (var k = lane; k < params.len; k += lanes) {
      m = max(m, x[start + k * step]);
    }
  }
  m = across_lanes(lid.x, lane, m, true);

  var total = 0.0;
  if (live) {
    for (var k = lane; k < params.len; k += lanes) {
      total += exp(x[start + k * step] - m);
    }
  }
  total = across_lanes(lid.x, lane, total, false);

  if (live) {
    let log_total = log(total);
    for (var k = lane; k < params.len; k += lanes) {
      let at = start + k * step;
      let shifted = x[at] - m;
      if (log_softmax == 1u) {
        out[at] = shifted - log_total;
      } else {
        out[at] = exp(shifted) / total;
      }
    }
  }
}

@compute @workgroup_size(wg)
fn softmax_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = (wid.y * nwg.x + wid.x) * (wg / lanes) + lid.x / lanes;
  let lane = lid.x % lanes;
  let live = row < params.rows;
  let start = row_start(row);
  let step = params.inner;

  var total = 0.0;
  if (live) {
    for (var k = lane; k < params.len; k += lanes) {
      let at = start + k * step;
      if (log_softmax == 1u) {
        total += dy[at];
      } else {
        total += dy[at] * y[at];
      }
    }
  }
  total = across_lanes(lid.x, lane, total, false);

  if (live) {
    for (var k = lane; k < params.len; k += lanes) {
      let at = start + k * step;
      if (log_softmax == 1u) {
        dx[at] = dy[at] - exp(y[at]) * total;
      } else {
        dx[at] = y[at] * (dy[at] - total);
      }
    }
  }
}
