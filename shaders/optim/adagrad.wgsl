// Adagrad (torch.optim.Adagrad, torch 1.13; Duchi et al. 2011), per element of a parameter group:
//   g   = g_eff (optim/common.wgsl) + weight_decay * w
//   sum = sum + g * g
//   w   = w - clr * lr_factor * g / (sqrt(sum) + eps),   clr = lr / (1 + (t - 1) * lr_decay)
//
// State: slot 0 sum (starts at initial_accumulator_value).

struct Hyper {
  l1: f32,
  l2: f32,
  clr: f32,
  eps: f32,
  weight_decay: f32,
}

fn update4(q: u32, h: Hyper) {
  let w = weights[q];
  let g = fma(vec4<f32>(h.weight_decay), w, optimizer_grad4(q, h));
  let sum = fma(g, g, state[q]);
  state[q] = sum;
  weights[q] = w + (-(h.clr * lr_factor())) * g / (sqrt(sum) + h.eps);
}
