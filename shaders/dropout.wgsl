// Inverted dropout with counter-based masks. Built as common.wgsl + random.wgsl + this file; the
// mask is regenerated from (seed, step, stream, i), never stored (see random.wgsl for the map).
//
//   keep(i)      = uniform24(word(seed, step, stream, i)) >= p      (P[keep] = 1 - p)
//   dropout:      output[i] = keep(i) ? input[i] * scale : 0,  scale = f32(1 / (1 - p))
//                 Forward (input x, output y) and backward (input dy, output dx) alike: for a
//                 fixed mask dropout is a diagonal linear map, its own transpose.
//   dropout_bits: bits[i] = word(seed, step, stream, i), the raw words behind the mask.
//
// The host passes scale = 0 for p = 1 (no element is kept: uniform24 < 1), so no infinity
// appears anywhere. Each invocation handles one quad of four elements, one Philox call.
//
// Bindings (by name):
//   params     uniform               { n: u32, stream: u32, p: f32, scale: f32 }
//   step_info  storage, read         [seed, step, 0, 0], written before every training step
//   input      storage, read         x (forward) or dy (backward), n elements
//   output     storage, read_write   y (forward) or dx (backward), n elements
//   bits       storage, read_write   random words, n elements
//
// Launch: grid1d(ceil(n / 4), wg) workgroups.

struct DropoutParams {
  n: u32,
  stream: u32,
  p: f32,
  scale: f32,
}

override wg: u32 = 256;

@group(0) @binding(0) var<uniform> params: DropoutParams;
@group(0) @binding(1) var<storage, read> step_info: array<u32>;     // [seed, step, 0, 0]
@group(0) @binding(2) var<storage, read> input: array<f32>;         // x or dy
@group(0) @binding(3) var<storage, read_write> output: array<f32>;  // y or dx
@group(0) @binding(4) var<storage, read_write> bits: array<u32>;    // raw random words

@compute @workgroup_size(wg)
fn dropout(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let quad = linear_index(wid, nwg, lid, wg);
  let first = quad * 4u;
  if (first >= params.n) {
    return;
  }
  let words = random_quad(step_info[0], step_info[1], params.stream, quad);
  for (var lane = 0u; lane < 4u; lane++) {
    let i = first + lane;
    if (i < params.n) {
      let keep = uniform24(words[lane]) >= params.p;
      output[i] = select(0.0, input[i] * params.scale, keep);
    }
  }
}

@compute @workgroup_size(wg)
fn dropout_bits(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let quad = linear_index(wid, nwg, lid, wg);
  let first = quad * 4u;
  if (first >= params.n) {
    return;
  }
  let words = random_quad(step_info[0], step_info[1], params.stream, quad);
  for (var lane = 0u; lane < 4u; lane++) {
    let i = first + lane;
    if (i < params.n) {
      bits[i] = words[lane];
    }
  }
}
