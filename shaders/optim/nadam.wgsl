// NAdam (torch.optim.NAdam; Dozat 2016), per element of a parameter group:
//   g = g_eff (optim/common.wgsl) + weight_decay * w
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   denom = sqrt(v / (1 - beta2^t)) + eps
//   w = w - c_grad * lr_factor * g / denom
//   w = w - c_avg * lr_factor * m / denom
// with mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)), c_grad = lr * (1 - mu_t) / (1 - prod_{i<=t} mu_i)
// and c_avg = lr * mu_{t+1} / (1 - prod_{i<=t+1} mu_i), computed on the host in float64. (torch 1.13
// multiplies mu_t twice into the second product; torch 2.0 fixed that, pytorch#92699, and so do we.)
//
// State: slot 0 exp_avg, slot 1 exp_avg_sq.

struct Hyper {
  l1: f32,
  l2: f32,
  bc2: f32,  // 1 - beta2^t
  c_grad: f32,
  c_avg: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  weight_decay: f32,
}

fn update4(q: u32, h: Hyper) {
  let w = weights[q];
  let g = fma(vec4<f32>(h.weight_decay), w, optimizer_grad4(q, h));
  let m = fma(vec4<f32>(h.one_minus_beta1), g, state[q] * h.beta1);
  let v = fma(h.one_minus_beta2 * g, g, state[slot(1u) + q] * h.beta2);
  state[q] = m;
  state[slot(1u) + q] = v;
  let denom = sqrt(v / h.bc2) + h.eps;
  let w1 = w + (-(h.c_grad * lr_factor())) * g / denom;
  weights[q] = w1 + (-(h.c_avg * lr_factor())) * m / denom;
}
