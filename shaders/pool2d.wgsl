// 2-D pooling over channels-first planes, as torch.nn.MaxPool2d, AvgPool2d and
// AdaptiveAvgPool2d: x [planes, h, w] -> y [planes, oh, ow], planes = batch * channels.
//
// Window of output (oy, ox) in max_pool2d and avg_pool2d: the taps
//   iy = oy * sh - ph + ky * dh,  ix = ox * sw - pw + kx * dw,   ky < kh, kx < kw
// (avg_pool2d has dh = dw = 1). Taps outside the input are padding.
//   max_pool2d:  y = the largest tap inside the input (padding is -inf, so it never wins); ties
//                go to the first maximum in row-major window order; -inf when every tap is padding.
//   avg_pool2d:  y = (sum of the taps inside the input) / divisor, where the divisor counts the
//                taps inside the padded input [-ph, h + ph) x [-pw, w + pw) (count_include_pad)
//                or inside the input; y = 0 for a window with no tap inside the input.
//   adaptive_avg_pool2d: the mean over rows [floor(oy * h / oh), ceil((oy + 1) * h / oh)) and
//                columns [floor(ox * w / ow), ceil((ox + 1) * w / ow)).
//
// The backward passes GATHER: one invocation per input element sums, in a fixed order, the
// contributions of the output windows that hold it, so there are no atomics and no races and
// the result is deterministic.
//   max_pool2d_grad:  dx[i] = sum of dy[o] over the windows o whose maximum is i. The argmax is
//                     recomputed from x rather than stored, by the function the forward pass uses.
//   avg_pool2d_grad:  dx[i] = sum of dy[o] / divisor(o) over the windows o with a tap at i.
//   adaptive_avg_pool2d_grad: the same over adaptive windows. Output rows holding input row iy
//                     are [floor(iy * oh / h), ceil((iy + 1) * oh / h)): the window formula with
//                     the roles of h and oh swapped (start(o) <= iy iff o < (iy + 1) * oh / h, and
//                     end(o) > iy iff o + 1 > iy * oh / h).
//
// Bindings (by name):
//   params  uniform               PoolParams below (kernel fields unused by the adaptive kernels)
//   x       storage, read         input, planes * h * w (forward; max_pool2d_grad's argmax)
//   y       storage, read_write   output, planes * oh * ow
//   dy      storage, read         gradient of the output, planes * oh * ow
//   dx      storage, read_write   gradient of the input, planes * h * w
//
// Launch: grid1d(count, wg) workgroups; count = planes * oh * ow (forward) or planes * h * w
// (backward).

struct PoolParams {
  count: u32,  // invocations
  h: u32,      // input rows
  w: u32,      // input columns
  oh: u32,     // output rows
  ow: u32,     // output columns
  kh: u32,     // kernel rows
  kw: u32,     // kernel columns
  sh: u32,     // stride between windows, rows
  sw: u32,     // stride between windows, columns
  ph: u32,     // padding rows on each side
  pw: u32,     // padding columns on each side
  dh: u32,     // dilation between taps, rows
  dw: u32,     // dilation between taps, columns
}

override wg: u32 = 256u;
// avg_pool2d's divisor: taps inside the padded input (torch's default), or inside the input.
override count_include_pad: bool = true;

@group(0) @binding(0) var<uniform> params: PoolParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // input
@group(0) @binding(2) var<storage, read_write> y: array<f32>;    // output
@group(0) @binding(3) var<storage, read> dy: array<f32>;         // gradient of the output
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;   // gradient of the input

// Index within its plane of the maximum of window (oy, ox); -1 when every tap is padding.
fn window_argmax(base: u32, oy: u32, ox: u32) -> i32 {
  let y0 = i32(oy * params.sh) - i32(params.ph);
  let x0 = i32(ox * params.sw) - i32(params.pw);
  var best = 0.0;
  var arg = -1;
  for (var ky = 0u; ky < params.kh; ky++) {
    let iy = y0 + i32(ky * params.dh);
    if (iy < 0 || iy >= i32(params.h)) {
      continue;
    }
    for (var kx = 0u; kx < params.kw; kx++) {
      let ix = x0 + i32(kx * params.dw);
      if (ix < 0 || ix >= i32(params.w)) {
        continue;
      }
      let at = iy * i32(params.w) + ix;
      let v = x[base + u32(at)];
      if (arg < 0 || v > best) {
        best = v;
        arg = at;
      }
    }
  }
  return arg;
}

// Taps of window (oy, ox) inside the input: [y0, y1) x [x0, x1), and avg_pool2d's divisor.
struct AvgWindow {
  y0: i32,
  y1: i32,
  x0: i32,
  x1: i32,
  divisor: f32,
}

fn avg_window(oy: u32, ox: u32) -> AvgWindow {
  let ya = i32(oy * params.sh) - i32(params.ph);
  let xa = i32(ox * params.sw) - i32(params.pw);
  // Clipped to the padded input: with ceil_mode the last window may reach past it.
  let yb = min(ya + i32(params.kh), i32(params.h + params.ph));
  let xb = min(xa + i32(params.kw), i32(params.w + params.pw));
  var win: AvgWindow;
  win.y0 = max(ya, 0);
  win.x0 = max(xa, 0);
  win.y1 = min(yb, i32(params.h));
  win.x1 = min(xb, i32(params.w));
  let inside = max(win.y1 - win.y0, 0) * max(win.x1 - win.x0, 0);
  win.divisor = f32(select(inside, (yb - ya) * (xb - xa), count_include_pad));
  return win;
}

// First input index of adaptive window o along an axis of n_in inputs and n_out outputs.
fn start_index(o: u32, n_in: u32, n_out: u32) -> u32 {
  return (o * n_in) / n_out;
}

// One past the last input index of adaptive window o.
fn end_index(o: u32, n_in: u32, n_out: u32) -> u32 {
  return ((o + 1u) * n_in + n_out - 1u) / n_out;
}

fn adaptive_divisor(oy: u32, ox: u32) -> f32 {
  let rows = end_index(oy, params.h, params.oh) - start_index(oy, params.h, params.oh);
  let cols = end_index(ox, params.w, params.ow) - start_index(ox, params.w, params.ow);
  return f32(rows * cols);
}

// The output window row oy (column ox) that has a tap at input row iy (column ix) through kernel
// row ky: -1 when none does. Shared by the gathers of max_pool2d_grad and avg_pool2d_grad.
fn window_of_tap(i: u32, k: u32, pad: u32, stride: u32, dilation: u32, n_out: u32) -> i32 {
  let t = i32(i + pad) - i32(k * dilation);
  if (t < 0 || t % i32(stride) != 0) {
    return -1;
  }
  let o = t / i32(stride);
  return select(-1, o, o < i32(n_out));
}

@compute @workgroup_size(wg)
fn max_pool2d(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.count) {
    return;
  }
  let outs = params.oh * params.ow;
  let o = i % outs;
  let base = (i / outs) * params.h * params.w;
  let arg = window_argmax(base, o / params.ow, o % params.ow);
  if (arg < 0) {
    // Built at run time: a constant infinity is a WGSL shader-creation error.
    var bits = 0xff800000u;
    y[i] = bitcast<f32>(bits);
  } else {
    y[i] = x[base + u32(arg)];
  }
}

@compute @workgroup_size(wg)
fn avg_pool2d(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.count) {
    return;
  }
  let outs = params.oh * params.ow;
  let o = i % outs;
  let base = (i / outs) * params.h * params.w;
  let win = avg_window(o / params.ow, o % params.ow);
  var sum = 0.0;
  for (var iy = win.y0; iy < win.y1; iy++) {
    for (var ix = win.x0; ix < win.x1; ix++) {
      sum += x[base + u32(iy * i32(params.w) + ix)];
    }
  }
  y[i] = select(0.0, sum / win.divisor, win.y0 < win.y1 && win.x0 < win.x1);
}

@compute @workgroup_size(wg)
fn adaptive_avg_pool2d(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.count) {
    return;
  }
  let outs = params.oh * params.ow;
  let o = i % outs;
  let oy = o / params.ow;
  let ox = o % params.ow;
  let base = (i / outs) * params.h * params.w;
  var sum = 0.0;
  for (var iy = start_index(oy, params.h, params.oh); iy < end_index(oy, params.h, params.oh); iy++) {
    for (var ix = start_index(ox, params.w, params.ow); ix < end_index(ox, params.w, params.ow); ix++) {
      sum += x[base + iy * params.w + ix];
    }
  }
  y[i] = sum / adaptive_divisor(oy, ox);
}

@compute @workgroup_size(wg)
fn max_pool2d_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.count) {
    return;
  }
  let ins = params.h * params.w;
  let at = i % ins;
  let plane = i / ins;
  let iy = at / params.w;
  let ix = at % params.w;
  var sum = 0.0;
  for (var ky = 0u; ky < params.kh; ky++) {
    let oy = window_of_tap(iy, ky, params.ph, params.sh, params.dh, params.oh);
    if (oy < 0) {
      continue;
    }
    for (var kx = 0u; kx < params.kw; kx++) {
      let ox = window_of_tap(ix, kx, params.pw, params.sw, params.dw, params.ow);
      if (ox < 0) {
        continue;
      }
      if (window_argmax(plane * ins, u32(oy), u32(ox)) == i32(at)) {
        sum += dy[(plane * params.oh + u32(oy)) * params.ow + u32(ox)];
      }
    }
  }
  dx[i] = sum;
}

@compute @workgroup_size(wg)
fn avg_pool2d_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.count) {
    return;
  }
  let ins = params.h * params.w;
  let at = i % ins;
  let plane = i / ins;
  let iy = at / params.w;
  let ix = at % params.w;
  var sum = 0.0;
  for (var ky = 0u; ky < params.kh; ky++) {
    let oy = window_of_tap(iy, ky, params.ph, params.sh, 1u, params.oh);
    if (oy < 0) {
      continue;
    }
    for (var kx = 0u; kx < params.kw; kx++) {
      let ox = window_of_tap(ix, kx, params.pw, params.sw, 1u, params.ow);
      if (ox < 0) {
        continue;
      }
      let win = avg_window(u32(oy), u32(ox));
      sum += dy[(plane * params.oh + u32(oy)) * params.ow + u32(ox)] / win.divisor;
    }
  }
  dx[i] = sum;
}

@compute @workgroup_size(wg)
fn adaptive_avg_pool2d_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i >= params.count) {
    return;
  }
  let ins = params.h * params.w;
  let at = i % ins;
  let plane = i / ins;
  let iy = at / params.w;
  let ix = at % params.w;
  var sum = 0.0;
  for (var oy = start_index(iy, params.oh, params.h); oy < end_index(iy, params.oh, params.h); oy++) {
    for (var ox = start_index(ix, params.ow, params.w); ox < end_index(ix, params.ow, params.w); ox++) {
      sum += dy[(plane * params.oh + oy) * params.ow + ox] / adaptive_divisor(oy, ox);
    }
  }
  dx[i] = sum;
}
