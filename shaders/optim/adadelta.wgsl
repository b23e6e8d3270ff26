// Adadelta (torch.optim.Adadelta, torch 1.13; Zeiler 2012), per element of a parameter group:
//   g     = g_eff (optim/common.wgsl) + weight_decay * w
//   sq    = rho * sq + (1 - rho) * g^2
//   delta = sqrt(acc + eps) / sqrt(sq + eps) * g
//   acc   = rho * acc + (1 - rho) * delta^2
//   w     = w - lr * lr_factor * delta
//
// State: slot 0 square_avg, slot 1 acc_delta.

struct Hyper {
  l1: f32,
  l2: f32,
  lr: f32,
  rho: f32,
  one_minus_rho: f32,
  eps: f32,
  weight_decay: f32,
}

fn update4(q: u32, h: Hyper) {
  let w = weights[q];
  let g = fma(vec4<f32>(h.weight_decay), w, optimizer_grad4(q, h));
  let sq = fma(h.one_minus_rho * g, g, state[q] * h.rho);
  state[q] = sq;
  let acc_at = slot(1u) + q;
  let acc = state[acc_at];
  let delta = sqrt(acc + h.eps) / sqrt(sq + h.eps) * g;
  state[acc_at] = fma(h.one_minus_rho * delta, delta, acc * h.rho);
  weights[q] = fma(vec4<f32>(-(h.lr * lr_factor())), delta, w);
}
