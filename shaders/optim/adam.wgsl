// Adam and AdamW (torch.optim.Adam / AdamW, torch 1.13; Kingma & Ba 2015, Loshchilov & Hutter
// 2019), per element of a parameter group. The standard form with bias correction:
//   g = g_eff (optim/common.wgsl), + weight_decay * w for Adam (L2 coupled into the gradient)
//   w = w * (1 - lr * lr_factor * weight_decay)               for AdamW (when decoupled)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   v_max = max(v_max, v), used instead of v                  (when amsgrad)
//   w = w - step_size * lr_factor * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with step_size = lr / (1 - beta1^t), both corrections computed on the host in float64.
//
// State: slot 0 exp_avg, slot 1 exp_avg_sq, then max_exp_avg_sq when amsgrad.

struct Hyper {
  l1: f32,
  l2: f32,
  step_size: f32,
  bc2_sqrt: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  decay: f32,  // weight_decay for Adam, lr * weight_decay for AdamW
}

override amsgrad: bool = false;
override decoupled: bool = false;  // AdamW: decay the weights instead of adding decay * w to g

fn update4(q: u32, h: Hyper) {
  var w = weights[q];
  var g = optimizer_grad4(q, h);
  if (decoupled) {
    w = w * (1.0 - h.decay * lr_factor());
  } else {
    g = fma(vec4<f32>(h.decay), w, g);
  }
  let s = slot(1u);
  let m = fma(vec4<f32>(h.one_minus_beta1), g, state[q] * h.beta1);
  var v = fma(h.one_minus_beta2 * g, g, state[s + q] * h.beta2);
  state[q] = m;
  state[s + q] = v;
  if (amsgrad) {
    v = max(state[2u * s + q], v);
    state[2u * s + q] = v;
  }
  let denom = sqrt(v) / h.bc2_sqrt + h.eps;
  weights[q] = w + (-(h.step_size * lr_factor())) * m / denom;
}
