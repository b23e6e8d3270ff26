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

@compute @workgroup_size(wg)
fn rmsprop_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let range = update_range(wid, nwg, lid);
  let s = slot(1u);
  let grad_avg_at = slot(select(1u, 2u, has_momentum));
  let h = hyper;
  let lr = h.lr * lr_factor();
  for (var q = range.x; q < range.y; q++) {
    let w = weights[q];
    let g = fma(vec4<f32>(h.weight_decay), w, optimizer_grad4(q));
    let sq = fma(h.one_minus_alpha * g, g, state[q] * h.alpha);
    state[q] = sq;
    var avg = sqrt(sq);
    if (centered) {
      let ga = fma(vec4<f32>(h.one_minus_alpha), g, state[grad_avg_at + q] * h.alpha);
      state[grad_avg_at + q] = ga;
      avg = sqrt(fma(-ga, ga, sq));
    }
    avg = avg + h.eps;
    if (has_momentum) {
      let b = state[s + q] * h.momentum + g / avg;
      state[s + q] = b;
      weights[q] = fma(vec4<f32>(-lr), b, w);
    } else {
      weights[q] = w + (-lr) * g / avg;
    }
  }
}
