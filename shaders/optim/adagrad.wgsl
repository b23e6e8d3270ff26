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

@compute @workgroup_size(wg)
fn adagrad_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let range = update_range(wid, nwg, lid);
  let h = hyper;
  let clr = h.clr * lr_factor();
  for (var q = range.x; q < range.y; q++) {
    let w = weights[q];
    let g = fma(vec4<f32>(h.weight_decay), w, optimizer_grad4(q));
    let sum = fma(g, g, state[q]);
    state[q] = sum;
    weights[q] = w + (-clr) * g / (sqrt(sum) + h.eps);
  }
}
