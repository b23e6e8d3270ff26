// Stage 1 of the gradient-norm reduction, over one parameter group's range. Workgroup k writes
//   partials[2 * (base + k)]     = sum of g_eff^2 over its elements (max |g_eff| when norm_inf)
//   partials[2 * (base + k) + 1] = sum of l1*|w| + l2/2*w^2 over its elements
// with g_eff = g + l1*sign(w) + l2*w, before clipping (the order of optimizer_grad4 in
// optim/common.wgsl). Thread t of workgroup k visits i = k*wg + t + j*(nwg*wg), then the
// workgroup adds its lanes in a fixed tree, so the result is deterministic. grad_stats.wgsl
// combines the partials of all groups. A non-finite g_eff counts as +Inf in either norm, so that
// a NaN cannot vanish inside a max and the step's finite check (grad_stats.wgsl) sees it.
//
// Bindings (by name):
//   params    uniform  { n, base }
//   weights   storage, read         the group's parameters, n elements
//   grads     storage, read         their gradients
//   hyper     storage, read         Penalties: the first two members of the group's Hyper
//   partials  storage, read_write   2 floats per workgroup of every group

struct NormParams {
  n: u32,
  base: u32,
}

// The leading members of every update shader's Hyper (optim/common.wgsl).
struct Penalties {
  l1: f32,
  l2: f32,
}

override wg: u32 = 256;           // a power of two, at most 256
override norm_inf: bool = false;  // max |g_eff| instead of the sum of squares

@group(0) @binding(0) var<uniform> params: NormParams;
@group(0) @binding(1) var<storage, read> weights: array<f32>;         // w, n elements
@group(0) @binding(2) var<storage, read> grads: array<f32>;           // g, n elements
@group(0) @binding(3) var<storage, read> hyper: Penalties;            // l1, l2
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;  // [norm part, penalty part] per workgroup

// +Inf's bits, read at run time: a constant expression may not evaluate to an infinity.
var<private> inf_bits: u32 = 0x7f800000u;

@compute @workgroup_size(wg)
fn grad_norm_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let l1 = hyper.l1;
  let l2 = hyper.l2;
  var norm_acc = 0.0;
  var penalty_acc = 0.0;
  for (var i = wid.x * wg + lid.x; i < params.n; i += nwg.x * wg) {
    let w = weights[i];
    let g = grads[i] + l1 * sign(w) + l2 * w;
    let bad = !is_finite(g);
    if (norm_inf) {
      norm_acc = max(norm_acc, select(abs(g), bitcast<f32>(inf_bits), bad));
    } else {
      norm_acc += select(g * g, bitcast<f32>(inf_bits), bad);
    }
    penalty_acc += l1 * abs(w) + 0.5 * l2 * w * w;
  }
  reduce_norm_lanes(lid.x, norm_acc, penalty_acc);
  if (lid.x == 0u) {
    partials[2u * (params.base + wid.x)] = norm_lanes[0];
    partials[2u * (params.base + wid.x) + 1u] = penalty_lanes[0];
  }
}
