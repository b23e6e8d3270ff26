// Adamax (torch.optim.Adamax, torch 1.13; Kingma & Ba 2015, section 7.1), per element:
//   g = g_eff (optim/common.wgsl) + weight_decay * w
//   m = beta1 * m + (1 - beta1) * g
//   u = max(beta2 * u, |g| + eps)
//   w = w - clr * lr_factor * m / u,   clr = lr / (1 - beta1^t)
//
// State: slot 0 exp_avg, slot 1 exp_inf.

struct Hyper {
  l1: f32,
  l2: f32,
  clr: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
}

fn update4(q: u32, h: Hyper) {
  let w = weights[q];
  let g = fma(vec4<f32>(h.weight_decay), w, optimizer_grad4(q, h));
  let m = fma(vec4<f32>(h.one_minus_beta1), g, state[q] * h.beta1);
  let u = max(state[slot(1u) + q] * h.beta2, abs(g) + h.eps);
  state[q] = m;
  state[slot(1u) + q] = u;
  weights[q] = w + (-(h.clr * lr_factor())) * m / u;
}
