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

@compute @workgroup_size(wg)
fn adadelta_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let range = update_range(wid, nwg, lid);
  let s = slot(1u);
  let h = hyper;
  let lr = h.lr * lr_factor();
  for (var q = range.x; q < range.y; q++) {
    let w = weights[q];
    let g = fma(vec4<f32>(h.weight_decay), w, optimizer_grad4(q));
    let sq = fma(h.one_minus_rho * g, g, state[q] * h.rho);
    state[q] = sq;
    let rms_grad = sqrt(sq + h.eps);
    let acc = state[s + q];
    let delta = sqrt(acc + h.eps) / rms_grad * g;
    state[s + q] = fma(h.one_minus_rho * delta, delta, acc * h.rho);
    weights[q] = fma(vec4<f32>(-lr), delta, w);
  }
}
