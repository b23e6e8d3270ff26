// Elementwise kernels over flat f32 arrays of `n` elements (i < n).
//
//   fill:        out[i] = value
//   copy:        out[i] = x[i]
//   add:         out[i] = a[i] + b[i]
//   mul:         out[i] = a[i] * b[i]
//   scale:       out[i] = value * x[i]
//   add_scaled:  out[i] = a[i] + value * b[i]
//   axpy:        y[i]   = y[i] + value * x[i]     (in place: WebGPU forbids binding one buffer
//                                                  both as `out` and as an input of a dispatch)
//
// Every entry point shares one uniform struct; kernels without a scalar operand ignore `value`.
//
// Bindings (by name):
//   params  uniform               { n: u32, value: f32 }
//   out     storage, read_write   result, n elements
//   x       storage, read         operand of copy, scale and axpy
//   a       storage, read         left operand of add, mul, add_scaled
//   b       storage, read         right operand of add, mul, add_scaled
//   y       storage, read_write   accumulator of axpy
//
// Launch: grid1d(n, wg) workgroups.

struct ElementwiseParams {
  n: u32,
  value: f32,
}

override wg: u32 = 256;

@group(0) @binding(0) var<uniform> params: ElementwiseParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // result, n elements
@group(0) @binding(2) var<storage, read> x: array<f32>;          // single operand, n elements
@group(0) @binding(3) var<storage, read> a: array<f32>;          // left operand, n elements
@group(0) @binding(4) var<storage, read> b: array<f32>;          // right operand, n elements
@group(0) @binding(5) var<storage, read_write> y: array<f32>;    // axpy accumulator, n elements

@compute @workgroup_size(wg)
fn fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    out[i] = params.value;
  }
}

@compute @workgroup_size(wg)
fn copy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    out[i] = x[i];
  }
}

@compute @workgroup_size(wg)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    out[i] = a[i] + b[i];
  }
}

@compute @workgroup_size(wg)
fn mul(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    out[i] = a[i] * b[i];
  }
}

@compute @workgroup_size(wg)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    out[i] = params.value * x[i];
  }
}

@compute @workgroup_size(wg)
fn add_scaled(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    out[i] = a[i] + params.value * b[i];
  }
}

@compute @workgroup_size(wg)
fn axpy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    y[i] = y[i] + params.value * x[i];
  }
}
