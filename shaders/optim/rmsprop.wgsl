// RMSprop (torch.optim.RMSprop, torch 1.13; Hinton's lecture 6e, centered form of Graves 2013),
// per element of a parameter group:
//   g   = g_eff (optim/common.wgsl) + weight_decay * w
//   sq  = alpha * sq + (1 - alpha) * g^2
//   ga  = alpha * ga + (1 - alpha) * g                     (when centered)
//   avg = sqrt(sq - ga^2) + eps when centered, else sqrt(sq) + eps
//   b   = momentum * b + g / avg;  w = w - lr * lr_factor * b      (when has_momentum)
//   w   = w - lr * lr_factor * g / avg                              (otherwise)
//
// State: slot 0 square_avg, then momentum_buffer when has_momentum, then grad_avg when centered.

struct Hyper {
  l1: f32,
  l2: f32,
  lr: f32,
  alpha: f32,
  one_minus_alpha: f32,
  eps: f32,
  weight_decay: f32,
  momentum: f32,
}

override has_momentum: bool = false;
override centered: bool = false;

fn update4(q: u32, h: Hyper) {
  let w = weights[q];
  let g = fma(vec4<f32>(h.weight_decay), w, optimizer_grad4(q, h));
  let sq = fma(h.one_minus_alpha * g, g, state[q] * h.alpha);
  state[q] = sq;
  var avg = sqrt(sq);
  if (centered) {
    let ga_at = slot(select(1u, 2u, has_momentum)) + q;
    let ga = fma(vec4<f32>(h.one_minus_alpha), g, state[ga_at] * h.alpha);
    state[ga_at] = ga;
    avg = sqrt(fma(-ga, ga, sq));
  }
  avg = avg + h.eps;
  let lr = h.lr * lr_factor();
  if (has_momentum) {
    let b = state[slot(1u) + q] * h.momentum + g / avg;
    state[slot(1u) + q] = b;
    weights[q] = fma(vec4<f32>(-lr), b, w);
  } else {
    weights[q] = w + (-lr) * g / avg;
  }
}
