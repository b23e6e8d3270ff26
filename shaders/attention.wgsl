// Scaled dot-product attention, fused (flash-attention style): no L x S matrix is ever stored.
// Per head h (batch and heads flattened), with q [L, E], k [S, E], v [S, Ev] row-major:
//
//   s_ij  = scale * (q_i . k_j) + mask_ij                    (mask only when has_mask = 1)
//   keep_ij = j < S and (causal = 0 or j <= i) and s_ij > LOWEST
//   P_ij  = keep_ij ? exp(s_ij - lse_i) : 0,    lse_i = log sum_{j kept} exp(s_ij)
//   o_i   = sum_j P_ij v_j
//
//   attention_forward:  o and lse, one pass over the keys with an online softmax: a running
//                       maximum m and sum l per row; acc is rescaled by exp(m_old - m_new)
//                       whenever m grows. A row with no kept key gets o_i = 0 and lse_i = LOWEST
//                       (torch gives NaN there).
//   attention_delta:    stats[2r] = lse_r, stats[2r + 1] = D_r = sum_c dO[r, c] * O[r, c]
//                       (lse is carried along so that the two gradient kernels stay within 8
//                       storage buffers).
//   attention_grad_kv:  dV_j = sum_i P_ij dO_i,  dK_j = scale * sum_i dS_ij q_i
//   attention_grad_q:   dQ_i = scale * sum_j dS_ij k_j
//                       with dP_ij = dO_i . v_j and dS_ij = P_ij (dP_ij - D_i), P recomputed
//                       from q, k and lse.
//
// Every invocation owns one row (a query, or a key in attention_grad_kv): the row's operands and
// accumulators live in private arrays of MAX_DIM floats, so head dims are at most 128. The other
// side streams through workgroup memory in tiles of BLOCK rows x CHUNK columns (4 KiB), loaded
// by the whole workgroup; head dims longer than CHUNK take several tiles. Each row is summed by
// one invocation in a fixed order, so results are deterministic without atomics.
//
// Masked positions: an additive mask of -Infinity (or the lowest float, which torch users also
// write as a "minus infinity") removes a pair. Infinities are never produced inside the shader:
// WGSL lets implementations assume they are absent, so the running maximum starts at LOWEST and
// removed pairs are tested explicitly.
//
// Bindings (by name):
//   params     uniform               { bh, l, s, e, ev, mask_stride, scale }
//   q          storage, read         [bh, L, E]
//   k          storage, read         [bh, S, E]
//   v          storage, read         [bh, S, Ev]
//   attn_mask  storage, read         [L, S] (mask_stride 0) or [bh, L, S] (mask_stride L * S)
//   o          storage, read_write   [bh, L, Ev] (forward output)
//   lse        storage, read_write   [bh, L] (forward output)
//   o_fwd      storage, read         [bh * L, Ev], the forward output, for D
//   lse_fwd    storage, read         [bh * L]
//   d_o        storage, read         [bh, L, Ev], the gradient of o
//   stats      storage, read_write   [bh * L, 2]: lse and D (written by attention_delta)
//   row_stats  storage, read         the same, read by the gradient kernels
//   dq         storage, read_write   [bh, L, E]
//   dk         storage, read_write   [bh, S, E]
//   dv         storage, read_write   [bh, S, Ev]
//
// Launch: attention_forward and attention_grad_q (ceil(L / wg), bh, 1); attention_grad_kv
// (ceil(S / wg), bh, 1); attention_delta grid1d(bh * L, wg).

struct AttentionParams {
  bh: u32,           // batch * heads
  l: u32,            // queries per head
  s: u32,            // keys per head
  e: u32,            // query and key width
  ev: u32,           // value width
  mask_stride: u32,  // elements between the masks of consecutive heads (0: one shared [L, S] mask)
  scale: f32,
}

override wg: u32 = 64u;       // rows per workgroup, one per invocation
override causal: u32 = 0u;    // 1: query i sees keys j <= i only
override has_mask: u32 = 0u;  // 1: add attn_mask to the scores

const MAX_DIM: u32 = 128u;
const BLOCK: u32 = 32u;  // rows of the other side per step
const CHUNK: u32 = 32u;  // columns per tile
const LOWEST: f32 = -3.4028234663852886e38;  // the lowest finite f32

@group(0) @binding(0) var<uniform> params: AttentionParams;
@group(0) @binding(1) var<storage, read> q: array<f32>;             // queries
@group(0) @binding(2) var<storage, read> k: array<f32>;             // keys
@group(0) @binding(3) var<storage, read> v: array<f32>;             // values
@group(0) @binding(4) var<storage, read> attn_mask: array<f32>;     // additive score mask
@group(0) @binding(5) var<storage, read_write> o: array<f32>;       // attention output
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;     // log-sum-exp per query
@group(0) @binding(7) var<storage, read> o_fwd: array<f32>;         // forward output, for D
@group(0) @binding(8) var<storage, read> lse_fwd: array<f32>;       // forward log-sum-exp
@group(0) @binding(9) var<storage, read> d_o: array<f32>;           // gradient of the output
@group(0) @binding(10) var<storage, read_write> stats: array<f32>;  // (lse, D) per query, written
@group(0) @binding(11) var<storage, read> row_stats: array<f32>;    // (lse, D) per query, read
@group(0) @binding(12) var<storage, read_write> dq: array<f32>;     // gradient of q
@group(0) @binding(13) var<storage, read_write> dk: array<f32>;     // gradient of k
@group(0) @binding(14) var<storage, read_write> dv: array<f32>;     // gradient of v

// tile[r * CHUNK + c] = element (row0 + r, c0 + c) of the streamed matrix.
var<workgroup> tile: array<f32, BLOCK * CHUNK>;

// The invocation's own rows (q_i and dO_i, or k_j and v_j) and accumulators (o_i or dq_i; dk_j
// and dv_j), and per-step values over the BLOCK rows of the other side.
var<private> row_a: array<f32, MAX_DIM>;
var<private> row_b: array<f32, MAX_DIM>;
var<private> acc_a: array<f32, MAX_DIM>;
var<private> acc_b: array<f32, MAX_DIM>;
var<private> step_a: array<f32, BLOCK>;
var<private> step_b: array<f32, BLOCK>;

// The masked, scaled score of query i and key j, given q_i . k_j (i < L and j < S).
fn score(h: u32, i: u32, j: u32, dot: f32) -> f32 {
  var s = params.scale * dot;
  if (has_mask == 1u) {
    s += attn_mask[h * params.mask_stride + i * params.s + j];
  }
  return s;
}

// Whether the pair (i, j) with score s takes part in the softmax (see keep_ij above).
fn kept(i: u32, j: u32, s: f32) -> bool {
  return i < params.l && j < params.s && (causal == 0u || j <= i) && s > LOWEST;
}

// Tile loaders, one per streamed matrix: rows [r0, r0 + nr) x columns [c0, c0 + nc) of head h.
// The barriers before and after keep a tile from changing while another invocation reads it.
fn load_k(lidx: u32, h: u32, r0: u32, nr: u32, c0: u32, nc: u32) {
  workgroupBarrier();
  for (var t = lidx; t < BLOCK * CHUNK; t += wg) {
    let r = t / CHUNK;
    let c = t % CHUNK;
    if (r < nr && c < nc) {
      tile[t] = k[(h * params.s + r0 + r) * params.e + c0 + c];
    }
  }
  workgroupBarrier();
}

fn load_v(lidx: u32, h: u32, r0: u32, nr: u32, c0: u32, nc: u32) {
  workgroupBarrier();
  for (var t = lidx; t < BLOCK * CHUNK; t += wg) {
    let r = t / CHUNK;
    let c = t % CHUNK;
    if (r < nr && c < nc) {
      tile[t] = v[(h * params.s + r0 + r) * params.ev + c0 + c];
    }
  }
  workgroupBarrier();
}

fn load_q(lidx: u32, h: u32, r0: u32, nr: u32, c0: u32, nc: u32) {
  workgroupBarrier();
  for (var t = lidx; t < BLOCK * CHUNK; t += wg) {
    let r = t / CHUNK;
    let c = t % CHUNK;
    if (r < nr && c < nc) {
      tile[t] = q[(h * params.l + r0 + r) * params.e + c0 + c];
    }
  }
  workgroupBarrier();
}

fn load_d_o(lidx: u32, h: u32, r0: u32, nr: u32, c0: u32, nc: u32) {
  workgroupBarrier();
  for (var t = lidx; t < BLOCK * CHUNK; t += wg) {
    let r = t / CHUNK;
    let c = t % CHUNK;
    if (r < nr && c < nc) {
      tile[t] = d_o[(h * params.l + r0 + r) * params.ev + c0 + c];
    }
  }
  workgroupBarrier();
}

// out[r] += sum_c row[c0 + c] * tile[r, c]: one tile's share of nr dot products.
fn tile_dots(row: ptr<private, array<f32, MAX_DIM>>, out: ptr<private, array<f32, BLOCK>>, nr: u32, c0: u32, nc: u32) {
  for (var r = 0u; r < nr; r++) {
    var d = 0.0;
    for (var c = 0u; c < nc; c++) {
      d += (*row)[c0 + c] * tile[r * CHUNK + c];
    }
    (*out)[r] += d;
  }
}

// acc[c0 + c] += sum_r w[r] * tile[r, c]: one tile's share of a weighted sum of rows.
fn tile_axpy(acc: ptr<private, array<f32, MAX_DIM>>, w: ptr<private, array<f32, BLOCK>>, nr: u32, c0: u32, nc: u32) {
  for (var r = 0u; r < nr; r++) {
    let wr = (*w)[r];
    for (var c = 0u; c < nc; c++) {
      (*acc)[c0 + c] += wr * tile[r * CHUNK + c];
    }
  }
}

fn clear_steps() {
  for (var r = 0u; r < BLOCK; r++) {
    step_a[r] = 0.0;
    step_b[r] = 0.0;
  }
}

// Keys past the last query of workgroup wx take part in none of its rows when causal.
fn key_end(wx: u32) -> u32 {
  if (causal == 1u) {
    return min(params.s, (wx + 1u) * wg);
  }
  return params.s;
}

@compute @workgroup_size(wg)
fn attention_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let h = wid.y;
  let i = wid.x * wg + lid.x;
  // Invocations past the last query still load tiles; they read a valid row and write nothing.
  let qi = min(i, params.l - 1u);
  for (var c = 0u; c < params.e; c++) {
    row_a[c] = q[(h * params.l + qi) * params.e + c];
  }
  var m = LOWEST;
  var l = 0.0;
  let s_end = key_end(wid.x);
  for (var j0 = 0u; j0 < s_end; j0 += BLOCK) {
    let nj = min(BLOCK, params.s - j0);
    clear_steps();
    for (var c0 = 0u; c0 < params.e; c0 += CHUNK) {
      let nc = min(CHUNK, params.e - c0);
      load_k(lid.x, h, j0, nj, c0, nc);
      tile_dots(&row_a, &step_a, nj, c0, nc);
    }
    var m_new = m;
    for (var r = 0u; r < nj; r++) {
      let j = j0 + r;
      if (i < params.l) {
        let s = score(h, i, j, step_a[r]);
        step_a[r] = s;
        if (kept(i, j, s)) {
          m_new = max(m_new, s);
        }
      }
    }
    let rescale = exp(m - m_new);
    l *= rescale;
    for (var r = 0u; r < nj; r++) {
      var p = 0.0;
      if (kept(i, j0 + r, step_a[r])) {
        p = exp(step_a[r] - m_new);
      }
      step_a[r] = p;
      l += p;
    }
    for (var c = 0u; c < params.ev; c++) {
      acc_a[c] *= rescale;
    }
    m = m_new;
    for (var c0 = 0u; c0 < params.ev; c0 += CHUNK) {
      let nc = min(CHUNK, params.ev - c0);
      load_v(lid.x, h, j0, nj, c0, nc);
      tile_axpy(&acc_a, &step_a, nj, c0, nc);
    }
  }
  if (i < params.l) {
    let row = h * params.l + i;
    for (var c = 0u; c < params.ev; c++) {
      o[row * params.ev + c] = select(0.0, acc_a[c] / l, l > 0.0);
    }
    lse[row] = select(LOWEST, m + log(l), l > 0.0);
  }
}

@compute @workgroup_size(wg)
fn attention_delta(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = linear_index(wid, nwg, lid, wg);
  if (r < params.bh * params.l) {
    var d = 0.0;
    for (var c = 0u; c < params.ev; c++) {
      d += d_o[r * params.ev + c] * o_fwd[r * params.ev + c];
    }
    stats[2u * r] = lse_fwd[r];
    stats[2u * r + 1u] = d;
  }
}

@compute @workgroup_size(wg)
fn attention_grad_kv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let h = wid.y;
  let j = wid.x * wg + lid.x;
  let kj = min(j, params.s - 1u);
  for (var c = 0u; c < params.e; c++) {
    row_a[c] = k[(h * params.s + kj) * params.e + c];
  }
  for (var c = 0u; c < params.ev; c++) {
    row_b[c] = v[(h * params.s + kj) * params.ev + c];
  }
  // Queries before the workgroup's first key see none of its keys when causal.
  var i_start = 0u;
  if (causal == 1u) {
    i_start = min(params.l, wid.x * wg);
  }
  for (var i0 = i_start; i0 < params.l; i0 += BLOCK) {
    let ni = min(BLOCK, params.l - i0);
    clear_steps();
    for (var c0 = 0u; c0 < params.e; c0 += CHUNK) {
      let nc = min(CHUNK, params.e - c0);
      load_q(lid.x, h, i0, ni, c0, nc);
      tile_dots(&row_a, &step_a, ni, c0, nc);
    }
    // step_a: P_ij over the block's queries i; then step_b: dP_ij.
    for (var r = 0u; r < ni; r++) {
      let i = i0 + r;
      var p = 0.0;
      if (j < params.s) {
        let s = score(h, i, j, step_a[r]);
        if (kept(i, j, s)) {
          p = exp(s - row_stats[2u * (h * params.l + i)]);
        }
      }
      step_a[r] = p;
    }
    for (var c0 = 0u; c0 < params.ev; c0 += CHUNK) {
      let nc = min(CHUNK, params.ev - c0);
      load_d_o(lid.x, h, i0, ni, c0, nc);
      tile_axpy(&acc_b, &step_a, ni, c0, nc);
      tile_dots(&row_b, &step_b, ni, c0, nc);
    }
    // step_a becomes scale * dS_ij.
    for (var r = 0u; r < ni; r++) {
      let delta = row_stats[2u * (h * params.l + i0 + r) + 1u];
      step_a[r] = params.scale * step_a[r] * (step_b[r] - delta);
    }
    for (var c0 = 0u; c0 < params.e; c0 += CHUNK) {
      let nc = min(CHUNK, params.e - c0);
      load_q(lid.x, h, i0, ni, c0, nc);
      tile_axpy(&acc_a, &step_a, ni, c0, nc);
    }
  }
  if (j < params.s) {
    let row = h * params.s + j;
    for (var c = 0u; c < params.e; c++) {
      dk[row * params.e + c] = acc_a[c];
    }
    for (var c = 0u; c < params.ev; c++) {
      dv[row * params.ev + c] = acc_b[c];
    }
  }
}

@compute @workgroup_size(wg)
fn attention_grad_q(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let h = wid.y;
  let i = wid.x * wg + lid.x;
  let qi = min(i, params.l - 1u);
  for (var c = 0u; c < params.e; c++) {
    row_a[c] = q[(h * params.l + qi) * params.e + c];
  }
  for (var c = 0u; c < params.ev; c++) {
    row_b[c] = d_o[(h * params.l + qi) * params.ev + c];
  }
  let lse_i = row_stats[2u * (h * params.l + qi)];
  let delta = row_stats[2u * (h * params.l + qi) + 1u];
  let s_end = key_end(wid.x);
  for (var j0 = 0u; j0 < s_end; j0 += BLOCK) {
    let nj = min(BLOCK, params.s - j0);
    clear_steps();
    for (var c0 = 0u; c0 < params.e; c0 += CHUNK) {
      let nc = min(CHUNK, params.e - c0);
      load_k(lid.x, h, j0, nj, c0, nc);
      tile_dots(&row_a, &step_a, nj, c0, nc);
    }
    for (var c0 = 0u; c0 < params.ev; c0 += CHUNK) {
      let nc = min(CHUNK, params.ev - c0);
      load_v(lid.x, h, j0, nj, c0, nc);
      tile_dots(&row_b, &step_b, nj, c0, nc);
    }
    // step_a becomes scale * dS_ij over the block's keys j.
    for (var r = 0u; r < nj; r++) {
      let j = j0 + r;
      var ds = 0.0;
      if (i < params.l) {
        let s = score(h, i, j, step_a[r]);
        if (kept(i, j, s)) {
          ds = params.scale * exp(s - lse_i) * (step_b[r] - delta);
        }
      }
      step_a[r] = ds;
    }
    for (var c0 = 0u; c0 < params.e; c0 += CHUNK) {
      let nc = min(CHUNK, params.e - c0);
      load_k(lid.x, h, j0, nj, c0, nc);
      tile_axpy(&acc_a, &step_a, nj, c0, nc);
    }
  }
  if (i < params.l) {
    let row = h * params.l + i;
    for (var c = 0u; c < params.e; c++) {
      dq[row * params.e + c] = acc_a[c];
    }
  }
}
