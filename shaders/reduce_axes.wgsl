// Reductions over any set of dimensions of a dense tensor (torch.sum, mean, amax, amin, var,
// argmax), and their gradients.
//
//   reduce_axes:  out[o]   = scale · fold_{r < n_red} f(x[base(o) + off(r)], anchor[o])
//   argmax_axes:  index[o] = the first r at which x[base(o) + off(r)] is largest (NaN counts as
//                            the largest, as in torch)
//   reduce_grad:  dx[i]    = grad(dy[out(i)], x[i], y[out(i)], count[out(i)])
//
// The output index o runs row-major over the kept dimensions (extents k0..k5, strides ks0..ks5 in
// x), the reduced index r row-major over the reduced ones (extents r0..r5, strides rs0..rs5);
// base(o) and off(r) are offsets in x. out(i) maps an element of x (extents e0..e5) to its output
// element through strides os0..os5, 0 on reduced dimensions. The caller drops dimensions of size
// 1 and merges neighbours that are both kept or both reduced, and pads at the front with extent
// 1, stride 0.
//
// `op` of reduce_axes, with the fold f and how two partial results combine:
//   0 sum        a + x                         a + b
//   1 max        max(a, x), NaN propagates     max(a, b)
//   2 min        min(a, x), NaN propagates     min(a, b)
//   3 sq_dev     a + (x - anchor[o])^2         a + b     (variance about the mean)
//   4 count_eq   a + (x == anchor[o] ? 1 : 0)  a + b     (ties of the max or min)
// scale is 1, 1/N for a mean, 1/(N - correction) for a variance. max and min start from the
// row's first element instead of an identity, which they do not need (they are idempotent).
//
// `mode` of reduce_grad (g = dy[out(i)], or 1 when `unit` is 1: the output is the loss):
//   0 broadcast  dx = scale · g                             (sum: 1, mean: 1/N)
//   1 tie        dx = x == y ? g / count : 0               (max, min: tied extrema share g)
//   2 deviation  dx = scale · (x - y) · g                   (variance: y the mean, scale 2/(N - c))
//
// Each output element is reduced by `lanes` invocations (a power of two dividing wg): lane l folds
// r = l, l + lanes, l + 2 lanes, ... in order, then the lanes combine pairwise in a fixed tree
// through workgroup memory, so results never depend on scheduling. lanes = 1 is one invocation
// per output element; lanes = wg one workgroup per output, for long reductions.
//
// Bindings (by name):
//   params    uniform               ReduceParams
//   x         storage, read         the input, n_in elements
//   anchor    storage, read         per output: the mean (op 3) or the extremum (op 4)
//   out       storage, read_write   reduce_axes result, n_out
//   index     storage, read_write   argmax_axes result, n_out (i32)
//   dy        storage, read         gradient of the output, n_out
//   y         storage, read         the extremum (mode 1) or the mean (mode 2), n_out
//   count     storage, read         ties per output element (mode 1), n_out
//   dx        storage, read_write   gradient of x, n_in
//
// Launch: reduce_axes, argmax_axes: ceil(n_out / (wg / lanes)) workgroups, split over y as
// grid1d does; reduce_grad: grid1d(n_in, wg).

struct ReduceParams {
  n_out: u32,
  n_red: u32,
  n_in: u32,
  k0: u32, k1: u32, k2: u32, k3: u32, k4: u32, k5: u32,
  ks0: u32, ks1: u32, ks2: u32, ks3: u32, ks4: u32, ks5: u32,
  r0: u32, r1: u32, r2: u32, r3: u32, r4: u32, r5: u32,
  rs0: u32, rs1: u32, rs2: u32, rs3: u32, rs4: u32, rs5: u32,
  e0: u32, e1: u32, e2: u32, e3: u32, e4: u32, e5: u32,
  os0: u32, os1: u32, os2: u32, os3: u32, os4: u32, os5: u32,
  scale: f32,
}

override wg: u32 = 256u;
override lanes: u32 = 1u;
override op: u32 = 0u;
override mode: u32 = 0u;
override unit: u32 = 0u;

@group(0) @binding(0) var<uniform> params: ReduceParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;             // input
@group(0) @binding(2) var<storage, read> anchor: array<f32>;        // mean or extremum per output
@group(0) @binding(3) var<storage, read_write> out: array<f32>;     // reduced values
@group(0) @binding(4) var<storage, read_write> index: array<i32>;   // argmax per output
@group(0) @binding(5) var<storage, read> dy: array<f32>;            // gradient of the output
@group(0) @binding(6) var<storage, read> y: array<f32>;             // forward extremum or mean
@group(0) @binding(7) var<storage, read> count: array<f32>;         // ties per output
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;      // gradient of x

var<workgroup> partial: array<f32, wg>;
var<workgroup> partial_at: array<u32, wg>;

// Offset in x of the first element of output o.
fn base_of(o: u32) -> u32 {
  var q = o;
  var s = (q % params.k5) * params.ks5; q = q / params.k5;
  s += (q % params.k4) * params.ks4; q = q / params.k4;
  s += (q % params.k3) * params.ks3; q = q / params.k3;
  s += (q % params.k2) * params.ks2; q = q / params.k2;
  s += (q % params.k1) * params.ks1; q = q / params.k1;
  return s + q * params.ks0;
}

// Offset in x of reduced index r from the output's first element.
fn offset_of(r: u32) -> u32 {
  var q = r;
  var s = (q % params.r5) * params.rs5; q = q / params.r5;
  s += (q % params.r4) * params.rs4; q = q / params.r4;
  s += (q % params.r3) * params.rs3; q = q / params.r3;
  s += (q % params.r2) * params.rs2; q = q / params.r2;
  s += (q % params.r1) * params.rs1; q = q / params.r1;
  return s + q * params.rs0;
}

// The output element that x[i] contributes to.
fn out_of(i: u32) -> u32 {
  var q = i;
  var s = (q % params.e5) * params.os5; q = q / params.e5;
  s += (q % params.e4) * params.os4; q = q / params.e4;
  s += (q % params.e3) * params.os3; q = q / params.e3;
  s += (q % params.e2) * params.os2; q = q / params.e2;
  s += (q % params.e1) * params.os1; q = q / params.e1;
  return s + q * params.os0;
}

fn is_nan(v: f32) -> bool {
  return v != v;
}

fn combine(a: f32, b: f32) -> f32 {
  switch op {
    case 1u: { return select(max(a, b), a + b, is_nan(a) || is_nan(b)); }
    case 2u: { return select(min(a, b), a + b, is_nan(a) || is_nan(b)); }
    default: { return a + b; }
  }
}

fn fold(a: f32, v: f32, reference: f32) -> f32 {
  switch op {
    case 3u: {
      let d = v - reference;
      return a + d * d;
    }
    case 4u: { return a + select(0.0, 1.0, v == reference); }
    default: { return combine(a, v); }
  }
}

// Whether value v at reduced index at_v beats the best so far: larger, or equal and earlier.
fn beats(v: f32, at_v: u32, best: f32, at_best: u32) -> bool {
  if (is_nan(v)) {
    return !is_nan(best) || at_v < at_best;
  }
  if (is_nan(best)) {
    return false;
  }
  return v > best || (v == best && at_v < at_best);
}

// Combines the `lanes` partials of each output into the partial of its lane 0, in a fixed tree.
// Must be reached by the whole workgroup.
fn lane_tree(l: u32, lane: u32) {
  workgroupBarrier();
  for (var s = lanes / 2u; s > 0u; s = s / 2u) {
    if (lane < s) {
      partial[l] = combine(partial[l], partial[l + s]);
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(wg)
fn reduce_axes(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let o = (wid.y * nwg.x + wid.x) * (wg / lanes) + lid.x / lanes;
  let lane = lid.x % lanes;
  let live = o < params.n_out;
  var acc = 0.0;
  if (live) {
    let base = base_of(o);
    var reference = 0.0;
    if (op == 3u || op == 4u) {
      reference = anchor[o];
    }
    if (op == 1u || op == 2u) {
      acc = x[base];
    }
    for (var r = lane; r < params.n_red; r += lanes) {
      acc = fold(acc, x[base + offset_of(r)], reference);
    }
  }
  partial[lid.x] = acc;
  lane_tree(lid.x, lane);
  if (live && lane == 0u) {
    out[o] = params.scale * partial[lid.x];
  }
}

@compute @workgroup_size(wg)
fn argmax_axes(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let o = (wid.y * nwg.x + wid.x) * (wg / lanes) + lid.x / lanes;
  let lane = lid.x % lanes;
  let l = lid.x;
  let live = o < params.n_out;
  var best = 0.0;
  var at = 0u;
  if (live) {
    let base = base_of(o);
    best = x[base];
    for (var r = lane; r < params.n_red; r += lanes) {
      let v = x[base + offset_of(r)];
      if (beats(v, r, best, at)) {
        best = v;
        at = r;
      }
    }
  }
  partial[l] = best;
  partial_at[l] = at;
  workgroupBarrier();
  for (var s = lanes / 2u; s > 0u; s = s / 2u) {
    if (lane < s && beats(partial[l + s], partial_at[l + s], partial[l], partial_at[l])) {
      partial[l] = partial[l + s];
      partial_at[l] = partial_at[l + s];
    }
    workgroupBarrier();
  }
  if (live && lane == 0u) {
    index[o] = i32(partial_at[l]);
  }
}

@compute @workgroup_size(wg)
fn reduce_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.n_in) {
    return;
  }
  let o = out_of(i);
  var g = 1.0;
  if (unit == 0u) {
    g = dy[o];
  }
  switch mode {
    case 1u: { dx[i] = select(0.0, g / count[o], x[i] == y[o]); }
    case 2u: { dx[i] = params.scale * (x[i] - y[o]) * g; }
    default: { dx[i] = params.scale * g; }
  }
}
