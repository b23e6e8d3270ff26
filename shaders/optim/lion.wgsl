// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2), per
// element of a parameter group:
//   g = g_eff (optim/common.wgsl)
//   c = beta1 * m + (1 - beta1) * g
//   w = w - lr * lr_factor * (sign(c) + weight_decay * w)
//   m = beta2 * m + (1 - beta2) * g
//
// State: slot 0 exp_avg.

struct Hyper {
  l1: f32,
  l2: f32,
  lr: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  weight_decay: f32,
}

fn update4(q: u32, h: Hyper) {
  let w = weights[q];
  let g = optimizer_grad4(q, h);
  let m = state[q];
  let c = m * h.beta1 + h.one_minus_beta1 * g;
  weights[q] = w - (h.lr * lr_factor()) * (sign(c) + h.weight_decay * w);
  state[q] = m * h.beta2 + h.one_minus_beta2 * g;
}
