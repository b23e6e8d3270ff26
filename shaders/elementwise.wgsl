// Elementwise kernels over flat f32 arrays of `n` elements.
//
//   fill:  out[i] = value
//
// Bindings (by name):
//   params  uniform  { n, value }
//   out     storage, read_write   the n values written

struct FillParams {
  n: u32,
  value: f32,
}

override wg: u32 = 256;

@group(0) @binding(0) var<uniform> params: FillParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // result, n elements

@compute @workgroup_size(wg)
fn fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    out[i] = params.value;
  }
}
