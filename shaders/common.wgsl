// Shared helpers, concatenated in front of the shaders that need them (see src/kernels/source.ts).

// Linear index of a 1-D launch whose workgroups may be split over y (grid1d in kernel.ts).
fn linear_index(wid: vec3u, nwg: vec3u, lid: vec3u, wg_size: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * wg_size + lid.x;
}

// True unless x is ±Inf or NaN, read from its bits: WGSL lets an implementation assume that
// arithmetic never meets a NaN or an infinity, so comparisons cannot be trusted to find them.
fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}
