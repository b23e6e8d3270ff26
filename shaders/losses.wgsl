// Losses of torch.nn reduced to one scalar. The forward dispatch also writes the gradient for
// d(total)/d(loss) = 1: when the loss is the root of backward (the usual case) the gradient then
// costs no pass of its own. When the loss is used further (summed with another loss), the
// gradient kernels below multiply by the incoming d(total)/d(loss), read from the binding `gout`.
//
// The forward kernels run as one workgroup of `wg` invocations (a power of two): invocation l
// handles items l, l + wg, l + 2 wg, ..., and the partial sums combine in a fixed tree
// (tree_reduce.wgsl), so results are deterministic. `mean` selects the reduction: s = 1 / counted
// terms for 'mean', s = 1 for 'sum'.
//
//   cross_entropy (torch.nn.functional.cross_entropy with class indices and label smoothing ε):
//   logits [N, C, D] with D the product of the trailing dimensions (1 for [N, C]); row r = (n, k)
//   of the n = N·D rows holds z_c = logits[(n·C + c)·D + k] and the class t = labels[r]:
//     m = max_c z_c,   S = Σ_c exp(z_c − m),   p_c = exp(z_c − m) / S
//     nll      = log S − (z_t − m)                      = −log p_t
//     smoothed = log S − (1/C) Σ_c (z_c − m)            = (1/C) Σ_c −log p_c
//     loss     = s · Σ_{r counted} (1 − ε) nll + ε smoothed        counted: t ≠ ignore_index
//     dlogits  = s · (p_c − (1 − ε) [c = t] − ε / C) on counted rows, 0 on ignored ones
//     correct  = 1.0 where the row is counted and its first argmax is t, else 0.0
//   Subtracting m keeps exp() <= 1. A mean over no counted row is 0 / 0 = NaN, as in torch. A
//   label outside [0, C) that is not ignore_index makes the loss NaN (torch raises an error);
//   the gradient of its row is 0.
//
//   pointwise_loss over n elements, kind:
//     0 mse:  term = (x − y)^2                          dx = s · 2 (x − y)
//     1 l1:   term = |x − y|                            dx = s · sign(x − y)    (0 where x = y)
//     2 bce:  term = (1 − y) x + l · softplus(−x)       dx = s · ((1 − y) − l σ(−x))
//             l = 1 + (w − 1) y, w the positive weight: pos_weights[i mod classes] when
//             pos_vector, else the scalar pos_weight; softplus(−x) = max(−x, 0) + log(1 + e^−|x|)
//     loss = s · Σ_i term_i, with s = 1 / n for 'mean'.
//
//   scale_grad:       grad[i] = factor · g · unit[i]            (factor −1: the target of mse, l1)
//   bce_target_grad:  grad[i] = g · s · (−x + (w − 1) softplus(−x))     (d bce / d y; no y in it)
//   with g = gout[0] when has_gout, else 1.
//
// Bindings (by name):
//   params       uniform               LossParams
//   logits       storage, read         f32 [N, C, D]
//   labels       storage, read         i32 [N·D], class indices or ignore_index
//   dlogits      storage, read_write   f32 [N, C, D]
//   correct      storage, read_write   f32 [N·D]
//   x            storage, read         f32 [n], the prediction (logits for bce)
//   y            storage, read         f32 [n], the target
//   pos_weights  storage, read         f32 [classes], read when pos_vector
//   dx           storage, read_write   f32 [n]
//   gout         storage, read         f32 [1], read when has_gout
//   unit         storage, read         f32 [n], the gradient for d(total)/d(loss) = 1
//   grad         storage, read_write   f32 [n]
//   loss         storage, read_write   f32 [1]
//
// Launch: cross_entropy and pointwise_loss exactly (1, 1, 1) workgroups; scale_grad and
// bce_target_grad grid1d(n, wg).

struct LossParams {
  n: u32,             // rows of cross_entropy, elements of the others
  classes: u32,       // C of cross_entropy; the period of pos_weights
  inner: u32,         // D of cross_entropy
  ignore_index: i32,
  smoothing: f32,     // ε
  pos_weight: f32,    // w when !pos_vector
  factor: f32,        // scale_grad's multiplier
}

override wg: u32 = 256;
override mean: bool = true;       // reduction 'mean' (else 'sum')
override kind: u32 = 0u;          // pointwise_loss: 0 mse, 1 l1, 2 bce
override pos_vector: bool = false; // bce: one positive weight per class, from pos_weights
override has_gout: bool = false;  // multiply gradients by gout[0]

@group(0) @binding(0) var<uniform> params: LossParams;
@group(0) @binding(1) var<storage, read> logits: array<f32>;          // [N, C, D]
@group(0) @binding(2) var<storage, read> labels: array<i32>;          // [N·D]
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;   // [N, C, D]
@group(0) @binding(4) var<storage, read_write> correct: array<f32>;   // [N·D], 1.0 or 0.0
@group(0) @binding(5) var<storage, read> x: array<f32>;               // [n]
@group(0) @binding(6) var<storage, read> y: array<f32>;               // [n]
@group(0) @binding(7) var<storage, read> pos_weights: array<f32>;     // [classes]
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;        // [n]
@group(0) @binding(9) var<storage, read> gout: array<f32>;            // [1]
@group(0) @binding(10) var<storage, read> unit: array<f32>;           // [n]
@group(0) @binding(11) var<storage, read_write> grad: array<f32>;     // [n]
@group(0) @binding(12) var<storage, read_write> loss: array<f32>;     // [1]

// A NaN made at run time from a finite value (a NaN constant is a shader-creation error).
fn nan_from(finite: f32) -> f32 {
  let zero = finite - finite;
  return zero / zero;
}

// softplus(−v) = log(1 + e^−v), without overflow for either sign of v.
fn softplus_neg(v: f32) -> f32 {
  return max(-v, 0.0) + log(1.0 + exp(-abs(v)));
}

fn positive_weight(i: u32) -> f32 {
  if (pos_vector) {
    return pos_weights[i % params.classes];
  }
  return params.pos_weight;
}

fn incoming() -> f32 {
  if (has_gout) {
    return gout[0];
  }
  return 1.0;
}

// (term, d term / dx) of element i.
fn pointwise_term(i: u32) -> vec2f {
  let xi = x[i];
  let yi = y[i];
  if (kind == 0u) {
    let d = xi - yi;
    return vec2f(d * d, 2.0 * d);
  }
  if (kind == 1u) {
    let d = xi - yi;
    return vec2f(abs(d), sign(d));
  }
  let e = exp(-abs(xi));
  let l = 1.0 + (positive_weight(i) - 1.0) * yi;
  let term = (1.0 - yi) * xi + l * softplus_neg(xi);
  let sigmoid_neg = select(1.0 / (1.0 + e), e / (1.0 + e), xi >= 0.0);
  return vec2f(term, (1.0 - yi) - l * sigmoid_neg);
}

@compute @workgroup_size(wg)
fn cross_entropy(@builtin(local_invocation_id) lid: vec3u) {
  let rows = params.n;
  let classes = params.classes;
  let inner = params.inner;
  let eps = params.smoothing;
  let on = 1.0 - eps;
  let off = eps / f32(classes);

  var counted = 0.0;
  for (var r = lid.x; r < rows; r += wg) {
    counted = counted + select(1.0, 0.0, labels[r] == params.ignore_index);
  }
  partial[lid.x] = counted;
  tree_reduce(lid.x);
  let total_counted = partial[0];
  workgroupBarrier();  // all have read partial[0] before the second reduction overwrites it
  let s = select(1.0, 1.0 / total_counted, mean);

  var acc = 0.0;
  for (var r = lid.x; r < rows; r += wg) {
    let n = r / inner;
    let base = n * classes * inner + (r - n * inner);
    var m = logits[base];
    var arg = 0u;
    for (var c = 1u; c < classes; c++) {
      let z = logits[base + c * inner];
      if (z > m) {
        m = z;
        arg = c;
      }
    }
    var sum_exp = 0.0;
    var shifted = 0.0;
    for (var c = 0u; c < classes; c++) {
      let z = logits[base + c * inner] - m;
      sum_exp = sum_exp + exp(z);
      shifted = shifted + z;
    }
    let log_s = log(sum_exp);
    let inv_s = 1.0 / sum_exp;
    let t = labels[r];
    let counts = t != params.ignore_index;
    let valid = t >= 0 && t < i32(classes);
    let hot = select(0u, u32(t), valid);
    let keep = counts && valid;
    for (var c = 0u; c < classes; c++) {
      let p = exp(logits[base + c * inner] - m) * inv_s;
      let g = (p - select(0.0, on, c == hot) - off) * s;
      dlogits[base + c * inner] = select(0.0, g, keep);
    }
    let nll = log_s - (logits[base + hot * inner] - m);
    let smoothed = log_s - shifted / f32(classes);
    let row = on * nll + eps * smoothed;
    if (counts) {
      acc = acc + select(nan_from(sum_exp), row, valid);
    }
    correct[r] = select(0.0, 1.0, keep && arg == hot);
  }
  partial[lid.x] = acc;
  tree_reduce(lid.x);
  if (lid.x == 0u) {
    let total = partial[0];
    loss[0] = select(total * s, total / total_counted, mean && total_counted == 0.0);
  }
}

@compute @workgroup_size(wg)
fn pointwise_loss(@builtin(local_invocation_id) lid: vec3u) {
  let n = params.n;
  let s = select(1.0, 1.0 / f32(n), mean);
  var acc = 0.0;
  for (var i = lid.x; i < n; i += wg) {
    let t = pointwise_term(i);
    dx[i] = t.y * s;
    acc = acc + t.x;
  }
  partial[lid.x] = acc;
  tree_reduce(lid.x);
  if (lid.x == 0u) {
    loss[0] = partial[0] * s;
  }
}

@compute @workgroup_size(wg)
fn scale_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    grad[i] = params.factor * incoming() * unit[i];
  }
}

@compute @workgroup_size(wg)
fn bce_target_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    let s = select(1.0, 1.0 / f32(params.n), mean);
    let xi = x[i];
    grad[i] = incoming() * s * (-xi + (positive_weight(i) - 1.0) * softplus_neg(xi));
  }
}
