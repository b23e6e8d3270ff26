// SGD with momentum (torch.optim.SGD, torch 1.13), per element of a parameter group:
//   g = g_eff (optim/common.wgsl) + weight_decay * w
//   b = g on the first step, else momentum * b + (1 - dampening) * g       (when has_momentum)
//   g = g + momentum * b when nesterov, else b                              (when has_momentum)
//   w = w - lr * lr_factor * g
//
// State: slot 0 momentum_buffer (touched only when has_momentum).

struct Hyper {
  l1: f32,
  l2: f32,
  lr: f32,
  first_step: f32,  // 1 on the optimizer's first step, else 0
  momentum: f32,
  one_minus_dampening: f32,
  weight_decay: f32,
}

override has_momentum: bool = false;
override nesterov: bool = false;

fn update4(q: u32, h: Hyper) {
  let w = weights[q];
  var d = fma(vec4<f32>(h.weight_decay), w, optimizer_grad4(q, h));
  if (has_momentum) {
    var b = d;
    if (h.first_step == 0.0) {
      b = fma(vec4<f32>(h.one_minus_dampening), d, state[q] * h.momentum);
    }
    state[q] = b;
    d = select(b, fma(vec4<f32>(h.momentum), b, d), nesterov);
  }
  weights[q] = fma(vec4<f32>(-(h.lr * lr_factor())), d, w);
}
