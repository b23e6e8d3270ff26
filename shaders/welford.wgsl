// Moments and paired sums across one workgroup, shared by batch_norm.wgsl and layer_norm.wgsl
// (concatenated after them; `wg`, a power of two, is their override). Twins: src/kernels/welford.ts.
//
//   welford_add:   one invocation's running (count, mean, M2) updated by one more value (Welford)
//   merge_moments: the invocations' moments merged pairwise in a fixed tree (Chan, Golub &
//                  LeVeque), so no large sum of squares ever cancels and the result does not
//                  depend on scheduling
//   merge_sums:    two sums per invocation added pairwise in the same fixed tree

struct Moments {
  n: f32,
  mean: f32,
  m2: f32,
}

var<workgroup> part_n: array<f32, wg>;
var<workgroup> part_a: array<f32, wg>;
var<workgroup> part_b: array<f32, wg>;

fn welford_add(m: Moments, v: f32) -> Moments {
  let n = m.n + 1.0;
  let delta = v - m.mean;
  let mean = m.mean + delta / n;
  return Moments(n, mean, m.m2 + delta * (v - mean));
}

// The moments of the whole workgroup, from each invocation's own; every invocation gets them.
// Must be reached by the whole workgroup.
fn merge_moments(l: u32, own: Moments) -> Moments {
  part_n[l] = own.n;
  part_a[l] = own.mean;
  part_b[l] = own.m2;
  workgroupBarrier();
  for (var stride = wg / 2u; stride > 0u; stride = stride / 2u) {
    if (l < stride && part_n[l + stride] > 0.0) {
      let na = part_n[l];
      let n = na + part_n[l + stride];
      let delta = part_a[l + stride] - part_a[l];
      let w = part_n[l + stride] / n;
      part_a[l] = part_a[l] + delta * w;
      part_b[l] = part_b[l] + part_b[l + stride] + delta * delta * na * w;
      part_n[l] = n;
    }
    workgroupBarrier();
  }
  return Moments(part_n[0], part_a[0], part_b[0]);
}

// (Σ a, Σ b) over the workgroup, from each invocation's partial sums; every invocation gets them.
// Must be reached by the whole workgroup.
fn merge_sums(l: u32, a: f32, b: f32) -> vec2<f32> {
  part_a[l] = a;
  part_b[l] = b;
  workgroupBarrier();
  for (var stride = wg / 2u; stride > 0u; stride = stride / 2u) {
    if (l < stride) {
      part_a[l] = part_a[l] + part_a[l + stride];
      part_b[l] = part_b[l] + part_b[l + stride];
    }
    workgroupBarrier();
  }
  return vec2<f32>(part_a[0], part_b[0]);
}
