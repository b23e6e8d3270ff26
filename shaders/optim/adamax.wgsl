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

@compute @workgroup_size(wg)
fn adamax_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let range = update_range(wid, nwg, lid);
  let s = slot(1u);
  let h = hyper;
  let clr = h.clr * lr_factor();
  for (var q = range.x; q < range.y; q++) {
    let w = weights[q];
    let g = fma(vec4<f32>(h.weight_decay), w, optimizer_grad4(q));
    let m = fma(vec4<f32>(h.one_minus_beta1), g, state[q] * h.beta1);
    let u = max(state[s + q] * h.beta2, abs(g) + h.eps);
    state[q] = m;
    state[s + q] = u;
    weights[q] = w + (-clr) * m / u;
  }
}
