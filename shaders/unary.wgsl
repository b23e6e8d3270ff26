// Activation forward and backward over flat f32 arrays of `n` elements. Built as
// common.wgsl + activations.wgsl + this file; `act` selects the activation by the codes of
// ACTIVATIONS in src/kernels/activations.ts (0 identity, 1 relu, 2 leaky_relu, 3 sigmoid,
// 4 tanh, 5 gelu) and `alpha` is leaky_relu's negative slope.
//
//   unary_forward:   output[i] = act(input[i])                      (y = act(x))
//   unary_backward:  dx[i] = dy[i] * act'(x[i]), computed as act_grad(act, v[i], alpha) where v
//                    is the forward OUTPUT y for kinds 0-4 and the forward INPUT x for gelu.
//
// No module-scope name here may equal a parameter or local of activations.wgsl (x, v, ...)
// unless every entry point that calls the helper uses that binding: reflection (wgsl_reflect)
// does not see shadowing and would count the helper's local as a use of the binding.
//
// Bindings (by name):
//   params  uniform               { n: u32, alpha: f32 }
//   input   storage, read         forward input x, n elements
//   output  storage, read_write   forward output y, n elements
//   dy      storage, read         gradient wrt y, n elements
//   v       storage, read         saved forward value (y, or x for gelu), n elements
//   dx      storage, read_write   gradient wrt x, n elements
//
// Launch: grid1d(n, wg) workgroups.

struct UnaryParams {
  n: u32,
  alpha: f32,
}

override wg: u32 = 256;
override act: u32 = 0u;

@group(0) @binding(0) var<uniform> params: UnaryParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;         // forward input x
@group(0) @binding(2) var<storage, read_write> output: array<f32>;  // forward output y
@group(0) @binding(3) var<storage, read> dy: array<f32>;            // incoming gradient
@group(0) @binding(4) var<storage, read> v: array<f32>;             // saved y (or x for gelu)
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;      // outgoing gradient

@compute @workgroup_size(wg)
fn unary_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    output[i] = act_forward(act, input[i], params.alpha);
  }
}

@compute @workgroup_size(wg)
fn unary_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    dx[i] = dy[i] * act_grad(act, v[i], params.alpha);
  }
}
