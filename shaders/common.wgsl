// Shared helpers, concatenated in front of the shaders that need them (see src/kernels/source.ts).

// Linear index of a 1-D launch whose workgroups may be split over y (grid1d in kernel.ts).
fn linear_index(wid: vec3u, nwg: vec3u, lid: vec3u, wg_size: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * wg_size + lid.x;
}
