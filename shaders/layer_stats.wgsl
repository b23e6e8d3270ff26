// Per-tensor diagnostics over a model's flat parameter and gradient buffers: one workgroup per
// parameter tensor t, whose elements are [offset, offset + n) of both buffers (segments[4t..4t+4)
// = offset, n, bitcast(r), bitcast(bins / 2r)).
//
//   layer_stats (after backward, before the optimizer update):
//     ‖g‖, ‖w‖ as a power-of-two scale s and the sum of (x / s)² (so that gradients of 1e-20
//     neither underflow nor lose digits), snapshot[i] = w[i] (the weights before the update),
//     and with bins > 0 two histograms: log10|g| in `bins` equal bins over [grad_lo, grad_lo +
//     bins / grad_scale), and w in `bins` equal bins over [-r, r).
//   layer_delta (after the update): ‖w - snapshot‖ in the same scaled form.
//
// Histogram ends: values below the range (for log10|g|: also zeros and subnormals) count in the
// first bin, values above it, ±Infinity and NaN in the last, so every element is counted once.
// A norm whose tensor holds a non-finite value is NaN (its sum is written as NaN's bits).
//
// out block of tensor t, at t * stride, in u32 words (floats stored as their bits):
//   [0] Σ(g/sg)²  [1] sg  [2] Σ(w/sw)²  [3] sw  [4] Σ(Δ/sΔ)²  [5] sΔ
//   [6 .. 6+bins)  log10|g| counts    [6+bins .. 6+2 bins)  weight counts
// layer_stats writes [4] and [5] as 0; layer_delta writes only [4] and [5].
//
// Each lane accumulates elements lid, lid + wg, ... in order, then lanes combine in a fixed
// tree, so results are deterministic.
//
// Bindings (by name):
//   params    uniform               { bins, stride, grad_lo, grad_scale }
//   segments  storage, read         4 u32 per tensor (above)
//   weights   storage, read         the flat parameter buffer
//   grads     storage, read         the flat gradient buffer (layer_stats only)
//   snapshot  storage, read_write   as long as weights: the weights before the update
//   out       storage, read_write   stride u32 per tensor
//
// Launch: (tensors, 1, 1) workgroups of wg invocations.

struct StatsParams {
  bins: u32,
  stride: u32,
  grad_lo: f32,
  grad_scale: f32,
}

const HEADER: u32 = 6u;
// Twice the largest bin count (256): both histograms of a tensor live in workgroup memory.
const HIST_SLOTS: u32 = 512u;
const NAN_BITS: u32 = 0x7fc00000u;
const LOG10_2: f32 = 0.30102999566398120;

override wg: u32 = 256;  // a power of two, at most 256

@group(0) @binding(0) var<uniform> params: StatsParams;
@group(0) @binding(1) var<storage, read> segments: array<u32>;        // offset, n, r, bins / 2r per tensor
@group(0) @binding(2) var<storage, read> weights: array<f32>;         // flat parameters
@group(0) @binding(3) var<storage, read> grads: array<f32>;           // flat gradients
@group(0) @binding(4) var<storage, read_write> snapshot: array<f32>;  // weights before the update
@group(0) @binding(5) var<storage, read_write> out: array<u32>;       // stride words per tensor

var<workgroup> lanes: array<vec2<f32>, wg>;
var<workgroup> hist: array<atomic<u32>, HIST_SLOTS>;
// Bit 0: a non-finite value in the first quantity (g or Δ); bit 1: in the weights.
var<workgroup> non_finite: atomic<u32>;

fn lanes_max(l: u32) {
  workgroupBarrier();
  for (var stride = wg / 2u; stride > 0u; stride = stride / 2u) {
    if (l < stride) {
      lanes[l] = max(lanes[l], lanes[l + stride]);
    }
    workgroupBarrier();
  }
}

fn lanes_sum(l: u32) {
  workgroupBarrier();
  for (var stride = wg / 2u; stride > 0u; stride = stride / 2u) {
    if (l < stride) {
      lanes[l] = lanes[l] + lanes[l + stride];
    }
    workgroupBarrier();
  }
}

// (2^e, 2^-e) with 2^e <= the largest magnitude m < 2^(e+1), e in [-126, 126]: dividing by a power
// of two is exact, so the scaled sum keeps every digit of tiny and huge values alike.
fn pow2_scale(m: f32) -> vec2<f32> {
  let e = clamp((bitcast<u32>(m) >> 23u) & 0xffu, 1u, 253u);
  return vec2<f32>(bitcast<f32>(e << 23u), bitcast<f32>((254u - e) << 23u));
}

fn grad_bin(g: f32, bins: u32) -> u32 {
  let bits = bitcast<u32>(g) & 0x7fffffffu;
  if (bits >= 0x7f800000u) {
    return bins - 1u;
  }
  if (bits < 0x00800000u) {
    return 0u;
  }
  let t = (log2(bitcast<f32>(bits)) * LOG10_2 - params.grad_lo) * params.grad_scale;
  return u32(clamp(t, 0.0, f32(bins - 1u)));
}

fn weight_bin(w: f32, r: f32, scale: f32, bins: u32) -> u32 {
  if ((bitcast<u32>(w) & 0x7fffffffu) > 0x7f800000u) {
    return bins - 1u;
  }
  return u32(clamp((w + r) * scale, 0.0, f32(bins - 1u)));
}

fn clear_workgroup(l: u32, slots: u32) {
  for (var i = l; i < slots; i += wg) {
    atomicStore(&hist[i], 0u);
  }
  if (l == 0u) {
    atomicStore(&non_finite, 0u);
  }
  workgroupBarrier();
}

@compute @workgroup_size(wg)
fn layer_stats(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = wid.x;
  let offset = segments[4u * t];
  let n = segments[4u * t + 1u];
  let r = bitcast<f32>(segments[4u * t + 2u]);
  let w_scale = bitcast<f32>(segments[4u * t + 3u]);
  let bins = params.bins;
  clear_workgroup(lid.x, 2u * bins);

  var top = vec2<f32>(0.0);
  var bad = 0u;
  for (var i = lid.x; i < n; i += wg) {
    let g = grads[offset + i];
    let w = weights[offset + i];
    snapshot[offset + i] = w;
    if (is_finite(g)) {
      top.x = max(top.x, abs(g));
    } else {
      bad = bad | 1u;
    }
    if (is_finite(w)) {
      top.y = max(top.y, abs(w));
    } else {
      bad = bad | 2u;
    }
    if (bins > 0u) {
      atomicAdd(&hist[grad_bin(g, bins)], 1u);
      atomicAdd(&hist[bins + weight_bin(w, r, w_scale, bins)], 1u);
    }
  }
  if (bad != 0u) {
    atomicOr(&non_finite, bad);
  }
  lanes[lid.x] = top;
  lanes_max(lid.x);
  let gs = pow2_scale(lanes[0].x);
  let ws = pow2_scale(lanes[0].y);
  workgroupBarrier();

  var acc = vec2<f32>(0.0);
  for (var i = lid.x; i < n; i += wg) {
    let g = grads[offset + i] * gs.y;
    let w = weights[offset + i] * ws.y;
    acc = acc + vec2<f32>(g * g, w * w);
  }
  lanes[lid.x] = acc;
  lanes_sum(lid.x);

  let base = t * params.stride;
  if (lid.x == 0u) {
    let flags = atomicLoad(&non_finite);
    out[base] = select(bitcast<u32>(lanes[0].x), NAN_BITS, (flags & 1u) != 0u);
    out[base + 1u] = bitcast<u32>(gs.x);
    out[base + 2u] = select(bitcast<u32>(lanes[0].y), NAN_BITS, (flags & 2u) != 0u);
    out[base + 3u] = bitcast<u32>(ws.x);
    out[base + 4u] = 0u;
    out[base + 5u] = 0u;
  }
  for (var i = lid.x; i < 2u * bins; i += wg) {
    out[base + HEADER + i] = atomicLoad(&hist[i]);
  }
}

@compute @workgroup_size(wg)
fn layer_delta(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = wid.x;
  let offset = segments[4u * t];
  let n = segments[4u * t + 1u];
  clear_workgroup(lid.x, 0u);

  var top = 0.0;
  var bad = 0u;
  for (var i = lid.x; i < n; i += wg) {
    let d = weights[offset + i] - snapshot[offset + i];
    if (is_finite(d)) {
      top = max(top, abs(d));
    } else {
      bad = 1u;
    }
  }
  if (bad != 0u) {
    atomicOr(&non_finite, bad);
  }
  lanes[lid.x] = vec2<f32>(top, 0.0);
  lanes_max(lid.x);
  let ds = pow2_scale(lanes[0].x);
  workgroupBarrier();

  var acc = 0.0;
  for (var i = lid.x; i < n; i += wg) {
    let d = (weights[offset + i] - snapshot[offset + i]) * ds.y;
    acc = acc + d * d;
  }
  lanes[lid.x] = vec2<f32>(acc, 0.0);
  lanes_sum(lid.x);

  if (lid.x == 0u) {
    let base = t * params.stride;
    out[base + 4u] = select(bitcast<u32>(lanes[0].x), NAN_BITS, (atomicLoad(&non_finite) & 1u) != 0u);
    out[base + 5u] = bitcast<u32>(ds.x);
  }
}
