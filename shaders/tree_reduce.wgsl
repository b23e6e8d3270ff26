// A deterministic sum across one workgroup, shared by reduce.wgsl and loss.wgsl (concatenated
// after them; `wg`, a power of two, is their override).

var<workgroup> partial: array<f32, wg>;

// Combines partial[0..wg) into partial[0] in a fixed tree. Must be reached by the whole workgroup.
fn tree_reduce(l: u32) {
  workgroupBarrier();
  for (var stride = wg / 2u; stride > 0u; stride = stride / 2u) {
    if (l < stride) {
      partial[l] = partial[l] + partial[l + stride];
    }
    workgroupBarrier();
  }
}
