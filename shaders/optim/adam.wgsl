// Adam and AdamW (torch.optim.Adam / AdamW, torch 1.13; Kingma & Ba 2015, Loshchilov & Hutter
// 2019), per element of a parameter group. The standard form with bias correction:
//   g = g_eff (optim/common.wgsl), + weight_decay * w for Adam (L2 coupled into the gradient)
//   w = w * (1 - lr * lr_factor * weight_decay)               for AdamW (decoupled decay)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   v_max = max(v_max, v), used instead of v                  (when amsgrad)
//   w = w - step_size * lr_factor * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with step_size = lr / (1 - beta1^t), both corrections computed on the host in float64.
//
// State: slot 0 exp_avg, slot 1 exp_avg_sq, then max_exp_avg_sq when amsgrad.

struct Hyper {
  l1: f32,
  l2: f32,
  step_size: f32,
  bc2_sqrt: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  decay: f32,  // weight_decay for Adam, lr * weight_decay for AdamW
}

override amsgrad: bool = false;

// The moment updates and the step for the four elements at vec4 `q`, shared by Adam and AdamW
// once the decay is applied.
fn adam_step(q: u32, w: vec4<f32>, g: vec4<f32>, h: Hyper) {
  let s = slot(1u);
  let m = fma(vec4<f32>(h.one_minus_beta1), g, state[q] * h.beta1);
  var v = fma(h.one_minus_beta2 * g, g, state[s + q] * h.beta2);
  state[q] = m;
  state[s + q] = v;
  if (amsgrad) {
    v = max(state[2u * s + q], v);
    state[2u * s + q] = v;
  }
  let denom = sqrt(v) / h.bc2_sqrt + h.eps;
  weights[q] = w + (-(h.step_size * lr_factor())) * m / denom;
}

@compute @workgroup_size(wg)
fn adam_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let range = update_range(wid, nwg, lid);
  let h = hyper;
  for (var q = range.x; q < range.y; q++) {
    let w = weights[q];
    adam_step(q, w, fma(vec4<f32>(h.decay), w, optimizer_grad4(q)), h);
  }
}

@compute @workgroup_size(wg)
fn adamw_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let range = update_range(wid, nwg, lid);
  let h = hyper;
  for (var q = range.x; q < range.y; q++) {
    let w = weights[q];
    let g = optimizer_grad4(q);
    adam_step(q, w * (1.0 - h.decay * lr_factor()), g, h);
  }
}
