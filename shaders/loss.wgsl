// Losses with their gradient fused: ONE dispatch writes the (mean-reduced) loss and the gradient
// wrt the loss's input, taking d(total)/d(loss) = 1. Each runs as one workgroup of `wg`
// invocations (a power of two); invocation l handles items l, l + wg, l + 2 wg, ... and the
// per-invocation partial losses combine in a fixed tree, so results are deterministic.
//
//   softmax_xent (torch.nn.CrossEntropyLoss, class indices, reduction 'mean'), logits [rows, cols]:
//     m_r          = max_c logits[r, c]
//     s_r          = sum_c exp(logits[r, c] - m_r)
//     loss[0]      = (1 / rows) sum_r (log(s_r) - (logits[r, labels[r]] - m_r))
//     dlogits[r,c] = (exp(logits[r, c] - m_r) / s_r - (c == labels[r])) / rows
//     correct[r]   = 1.0 if the first index of the row's maximum is labels[r], else 0.0
//   Subtracting m_r keeps exp() <= 1, so logits of any magnitude stay finite.
//   labels[r] must lie in [0, cols).
//
//   mse (torch.nn.MSELoss, reduction 'mean'), over all n = rows * cols elements:
//     loss[0]  = (1 / n) sum_i (pred[i] - targets[i])^2
//     dpred[i] = 2 (pred[i] - targets[i]) / n
//
// Bindings (by name):
//   params    uniform               { rows: u32, cols: u32 }
//   logits    storage, read         f32 [rows, cols]
//   labels    storage, read         i32 [rows], class indices
//   dlogits   storage, read_write   f32 [rows, cols]
//   correct   storage, read_write   f32 [rows]
//   pred      storage, read         f32 [n]
//   targets   storage, read         f32 [n]
//   dpred     storage, read_write   f32 [n]
//   loss      storage, read_write   f32 [1]
//
// Launch: exactly (1, 1, 1) workgroups.

struct LossParams {
  rows: u32,
  cols: u32,
}

override wg: u32 = 256;

@group(0) @binding(0) var<uniform> params: LossParams;
@group(0) @binding(1) var<storage, read> logits: array<f32>;          // [rows, cols]
@group(0) @binding(2) var<storage, read> labels: array<i32>;          // [rows]
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;   // [rows, cols]
@group(0) @binding(4) var<storage, read_write> correct: array<f32>;   // [rows], 1.0 or 0.0
@group(0) @binding(5) var<storage, read> pred: array<f32>;            // [n]
@group(0) @binding(6) var<storage, read> targets: array<f32>;         // [n]
@group(0) @binding(7) var<storage, read_write> dpred: array<f32>;     // [n]
@group(0) @binding(8) var<storage, read_write> loss: array<f32>;      // [1], the mean loss

@compute @workgroup_size(wg)
fn softmax_xent(@builtin(local_invocation_id) lid: vec3u) {
  let rows = params.rows;
  let cols = params.cols;
  let inv_rows = 1.0 / f32(rows);
  var acc = 0.0;
  for (var r = lid.x; r < rows; r += wg) {
    let base = r * cols;
    var m = logits[base];
    var arg = 0u;
    for (var c = 1u; c < cols; c++) {
      let z = logits[base + c];
      if (z > m) {
        m = z;
        arg = c;
      }
    }
    var s = 0.0;
    for (var c = 0u; c < cols; c++) {
      s = s + exp(logits[base + c] - m);
    }
    let inv_s = 1.0 / s;
    let t = u32(labels[r]);
    for (var c = 0u; c < cols; c++) {
      let p = exp(logits[base + c] - m) * inv_s;
      dlogits[base + c] = (p - select(0.0, 1.0, c == t)) * inv_rows;
    }
    acc = acc + (log(s) - (logits[base + t] - m));
    correct[r] = select(0.0, 1.0, arg == t);
  }
  partial[lid.x] = acc;
  tree_reduce(lid.x);
  if (lid.x == 0u) {
    loss[0] = partial[0] * inv_rows;
  }
}

@compute @workgroup_size(wg)
fn mse(@builtin(local_invocation_id) lid: vec3u) {
  let n = params.rows * params.cols;
  let inv_n = 1.0 / f32(n);
  var acc = 0.0;
  for (var i = lid.x; i < n; i += wg) {
    let d = pred[i] - targets[i];
    dpred[i] = 2.0 * d * inv_n;
    acc = acc + d * d;
  }
  partial[lid.x] = acc;
  tree_reduce(lid.x);
  if (lid.x == 0u) {
    loss[0] = partial[0] * inv_n;
  }
}
