// Statistics of module outputs (activations) on the steps `layerStats` tracks. For each tensor x
// of n elements, in two passes:
//
//   pass 1:  s = Σx and m = max|x| over the finite x, z = #{x : x = ±0} (dead ReLUs, counted
//            exactly), and whether a non-finite x was met
//            mean = s / n
//   pass 2:  q = Σ((x − mean) · 2^-e)², with 2^e <= m < 2^(e+1) as in layer_stats.wgsl, so that
//            huge activations do not overflow and tiny ones keep their digits
//
// The host forms std = 2^e · sqrt(q / n) (the population standard deviation: divided by n) and
// zeroFraction = z / n. Two passes rather than a running (Welford) update: every deviation is
// taken from the final mean, and each pass is a plain sum in a fixed order.
//
// Module outputs live in different scratch buffers, so each tensor has a binding of its own: one
// dispatch measures up to 7 tensors (x0 .. x6; with `out`, the 8 storage buffers a stage may
// bind), workgroup k reducing tensor first + k from binding xk. Each lane accumulates elements
// lid, lid + wg, ... in order, then the lanes combine in a fixed tree: results are deterministic.
//
// out block of tensor t, 4 u32 words at 4t (floats stored as their bits):
//   [0] mean  [1] q  [2] 2^e  [3] z
// mean and q are NaN's bits when the tensor held a non-finite value; z stays exact.
//
// Bindings (by name):
//   params   uniform               { first, n0 .. n6 }: the tensor index of x0, element counts
//   x0 .. x6 storage, read         one tensor each; those past the dispatch's tensors are not read
//   out      storage, read_write   4 words per tensor
//
// Launch: (tensors of this dispatch, 1, 1) workgroups of wg invocations.

struct ActivationParams {
  first: u32,
  n0: u32,
  n1: u32,
  n2: u32,
  n3: u32,
  n4: u32,
  n5: u32,
  n6: u32,
}

const NAN_BITS: u32 = 0x7fc00000u;

override wg: u32 = 256;  // a power of two, at most 256

@group(0) @binding(0) var<uniform> params: ActivationParams;
@group(0) @binding(1) var<storage, read> x0: array<f32>;           // tensor first
@group(0) @binding(2) var<storage, read> x1: array<f32>;           // tensor first + 1
@group(0) @binding(3) var<storage, read> x2: array<f32>;           // tensor first + 2
@group(0) @binding(4) var<storage, read> x3: array<f32>;           // tensor first + 3
@group(0) @binding(5) var<storage, read> x4: array<f32>;           // tensor first + 4
@group(0) @binding(6) var<storage, read> x5: array<f32>;           // tensor first + 5
@group(0) @binding(7) var<storage, read> x6: array<f32>;           // tensor first + 6
@group(0) @binding(8) var<storage, read_write> out: array<u32>;    // 4 words per tensor

// (running sum, largest finite magnitude) per lane.
var<workgroup> lanes: array<vec2<f32>, wg>;
var<workgroup> zeros: atomic<u32>;
var<workgroup> non_finite: atomic<u32>;

// (2^e, 2^-e) with 2^e <= m < 2^(e+1), e in [-126, 126] (layer_stats.wgsl's pow2_scale).
fn pow2_scale(m: f32) -> vec2<f32> {
  let e = clamp((bitcast<u32>(m) >> 23u) & 0xffu, 1u, 253u);
  return vec2<f32>(bitcast<f32>(e << 23u), bitcast<f32>((254u - e) << 23u));
}

// Sums .x and takes the max of .y over the lanes, into lanes[0]. Reached by the whole workgroup.
fn lanes_combine(l: u32) {
  workgroupBarrier();
  for (var stride = wg / 2u; stride > 0u; stride = stride / 2u) {
    if (l < stride) {
      let a = lanes[l];
      let b = lanes[l + stride];
      lanes[l] = vec2<f32>(a.x + b.x, max(a.y, b.y));
    }
    workgroupBarrier();
  }
}

fn count_of(k: u32) -> u32 {
  switch k {
    case 0u: { return params.n0; }
    case 1u: { return params.n1; }
    case 2u: { return params.n2; }
    case 3u: { return params.n3; }
    case 4u: { return params.n4; }
    case 5u: { return params.n5; }
    default: { return params.n6; }
  }
}

// Element i of binding xk (k is the same for the whole workgroup, so the branch is uniform).
fn load(k: u32, i: u32) -> f32 {
  switch k {
    case 0u: { return x0[i]; }
    case 1u: { return x1[i]; }
    case 2u: { return x2[i]; }
    case 3u: { return x3[i]; }
    case 4u: { return x4[i]; }
    case 5u: { return x5[i]; }
    default: { return x6[i]; }
  }
}

@compute @workgroup_size(wg)
fn activation_stats(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let k = wid.x;
  let n = count_of(k);
  if (lid.x == 0u) {
    atomicStore(&zeros, 0u);
    atomicStore(&non_finite, 0u);
  }
  workgroupBarrier();

  var acc = vec2<f32>(0.0);
  var z = 0u;
  var bad = false;
  for (var i = lid.x; i < n; i += wg) {
    let x = load(k, i);
    if (is_finite(x)) {
      acc = vec2<f32>(acc.x + x, max(acc.y, abs(x)));
    } else {
      bad = true;
    }
    if ((bitcast<u32>(x) & 0x7fffffffu) == 0u) {
      z = z + 1u;
    }
  }
  if (z > 0u) {
    atomicAdd(&zeros, z);
  }
  if (bad) {
    atomicOr(&non_finite, 1u);
  }
  lanes[lid.x] = acc;
  lanes_combine(lid.x);
  let mean = lanes[0].x / f32(n);
  let s = pow2_scale(lanes[0].y);
  workgroupBarrier();

  var q = 0.0;
  for (var i = lid.x; i < n; i += wg) {
    let d = (load(k, i) - mean) * s.y;
    q = q + d * d;
  }
  lanes[lid.x] = vec2<f32>(q, 0.0);
  lanes_combine(lid.x);

  if (lid.x == 0u) {
    let base = 4u * (params.first + k);
    let flagged = atomicLoad(&non_finite) != 0u;
    out[base] = select(bitcast<u32>(mean), NAN_BITS, flagged);
    out[base + 1u] = select(bitcast<u32>(lanes[0].x), NAN_BITS, flagged);
    out[base + 2u] = bitcast<u32>(s.x);
    out[base + 3u] = atomicLoad(&zeros);
  }
}
