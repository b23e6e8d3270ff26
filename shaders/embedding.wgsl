// Embedding lookup (torch.nn.Embedding) and its weight gradient. weight is [num, dim] row-major;
// the ids of any shape are read flat as `tokens` ids, and out / dy as [tokens, dim].
//
//   embedding:       out[t, j] = weight[ids[t], j]   when 0 <= ids[t] < num, else 0 (never a read
//                                                     out of bounds; the trainer checks ids on the
//                                                     host and reports them)
//   embedding_grad:  dw[r, j]  = sum of dy[t, j] over the tokens t with ids[t] = r, in increasing
//                                t; 0 for the padding row and for rows no token uses
//
// embedding_grad is a scatter made race-free by ownership: invocation (block, j) owns column j of
// the rows [block * rows_per_block, (block + 1) * rows_per_block), zeroes them, then walks every
// token in order and adds the ones whose id falls in its rows. Each dw element has exactly one
// writer and a fixed order of additions: no atomics, deterministic, and every element written.
// Why blocks of rows: one invocation per column alone (rows_per_block = num) leaves all but `dim`
// lanes of the GPU idle while each walks all tokens; one per (row, column) (rows_per_block = 1)
// reads every id num * dim times. The host picks rows_per_block so that about 4096 invocations
// run; neighbouring lanes share a block and read the same id at once (a broadcast), and read dy
// and write dw at neighbouring columns.
//
// Bindings (by name):
//   params   uniform               { tokens: u32, num: u32, dim: u32, padding_idx: i32,
//                                    rows_per_block: u32 }  (padding_idx < 0: none)
//   ids      storage, read         token ids, tokens elements
//   weight   storage, read         embedding table, num * dim
//   out      storage, read_write   looked-up rows, tokens * dim
//   dy       storage, read         gradient of out, tokens * dim
//   dw       storage, read_write   gradient of weight, num * dim
//
// Launch: embedding grid1d(tokens * dim, wg); embedding_grad grid1d(dim * ceil(num /
// rows_per_block), wg).

struct EmbeddingParams {
  tokens: u32,
  num: u32,
  dim: u32,
  padding_idx: i32,
  rows_per_block: u32,
}

override wg: u32 = 256u;

@group(0) @binding(0) var<uniform> params: EmbeddingParams;
@group(0) @binding(1) var<storage, read> ids: array<i32>;           // token ids
@group(0) @binding(2) var<storage, read> weight: array<f32>;        // [num, dim]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;     // [tokens, dim]
@group(0) @binding(4) var<storage, read> dy: array<f32>;            // [tokens, dim]
@group(0) @binding(5) var<storage, read_write> dw: array<f32>;      // [num, dim]

@compute @workgroup_size(wg)
fn embedding(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.tokens * params.dim) {
    return;
  }
  let id = ids[i / params.dim];
  if (id >= 0 && u32(id) < params.num) {
    out[i] = weight[u32(id) * params.dim + i % params.dim];
  } else {
    out[i] = 0.0;
  }
}

@compute @workgroup_size(wg)
fn embedding_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  let j = i % params.dim;
  let first = (i / params.dim) * params.rows_per_block;
  if (first >= params.num) {
    return;
  }
  let last = min(first + params.rows_per_block, params.num);
  for (var r = first; r < last; r++) {
    dw[r * params.dim + j] = 0.0;
  }
  for (var t = 0u; t < params.tokens; t++) {
    let id = ids[t];
    if (id >= i32(first) && id < i32(last) && id != params.padding_idx) {
      let at = u32(id) * params.dim + j;
      dw[at] = dw[at] + dy[t * params.dim + j];
    }
  }
}
