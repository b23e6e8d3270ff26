// Pointwise maps over strided tensors of up to six dimensions, with numpy/torch broadcasting:
//
//   map_unary:   out[o(i)] = unary(op, x[a(i)], value, value2)
//   map_binary:  out[o(i)] = binary(op, x[a(i)], y[b(i)], value)
//   map_where:   out[o(i)] = select(y[b(i)], x[a(i)], cond[c(i)] != 0)
//   to_f32:      out[o(i)] = f32(x_i32[a(i)])  (integer tensors used as numbers: masks from ids)
//   copy_i32:    out_i32[o(i)] = x_i32[a(i)]   (integer tensors: token ids, class indices; moved
//                                              as integers, since small ones are float denormals
//                                              that a GPU may flush to zero)
//
// for every i < n, where i runs over the output's shape d0..d5 in row-major order (leading
// dimensions of lower-rank tensors are 1) and a(i) = a_off + Σ_k idx_k(i) · a_k is the element of
// an operand under its own strides. A broadcast dimension has stride 0, a transposed view
// permuted strides, a narrowed one an offset, so views are read where they lie and never copied
// first. The output is written through strides o0..o5 and o_off too, so one launch can fill a
// slice of a larger tensor (cat, the gradient of narrow).
//
// `op` selects the function (codes in src/kernels/map.ts, UNARY_OPS and BINARY_OPS).
//
// Bindings (by name):
//   params  uniform               shape, strides and offsets of out, x, y, cond; n; value, value2
//   out     storage, read_write   the result
//   x       storage, read         first operand
//   y       storage, read         second operand (map_binary, map_where)
//   cond    storage, read         condition, non-zero for true (map_where)
//   out_i32 storage, read_write   the result of copy_i32
//   x_i32   storage, read         the operand of copy_i32
//
// Launch: grid1d(n, wg) workgroups.

struct MapParams {
  n: u32,
  d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
  o_off: u32, o0: u32, o1: u32, o2: u32, o3: u32, o4: u32, o5: u32,
  a_off: u32, a0: u32, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32,
  b_off: u32, b0: u32, b1: u32, b2: u32, b3: u32, b4: u32, b5: u32,
  c_off: u32, c0: u32, c1: u32, c2: u32, c3: u32, c4: u32, c5: u32,
  value: f32,
  value2: f32,
}

override wg: u32 = 256u;
override op: u32 = 0u;

@group(0) @binding(0) var<uniform> params: MapParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // result, through o strides
@group(0) @binding(2) var<storage, read> x: array<f32>;          // first operand, a strides
@group(0) @binding(3) var<storage, read> y: array<f32>;          // second operand, b strides
@group(0) @binding(4) var<storage, read> cond: array<f32>;       // condition, c strides
@group(0) @binding(5) var<storage, read_write> out_i32: array<i32>;  // copy_i32 result
@group(0) @binding(6) var<storage, read> x_i32: array<i32>;          // copy_i32 operand

// Element offsets of output index i in out, x, y and cond.
struct Offsets {
  o: u32,
  a: u32,
  b: u32,
  c: u32,
}

fn offsets_of(i: u32) -> Offsets {
  var r = i;
  var s = Offsets(params.o_off, params.a_off, params.b_off, params.c_off);
  var k = r % params.d5; r = r / params.d5;
  s.o += k * params.o5; s.a += k * params.a5; s.b += k * params.b5; s.c += k * params.c5;
  k = r % params.d4; r = r / params.d4;
  s.o += k * params.o4; s.a += k * params.a4; s.b += k * params.b4; s.c += k * params.c4;
  k = r % params.d3; r = r / params.d3;
  s.o += k * params.o3; s.a += k * params.a3; s.b += k * params.b3; s.c += k * params.c3;
  k = r % params.d2; r = r / params.d2;
  s.o += k * params.o2; s.a += k * params.a2; s.b += k * params.b2; s.c += k * params.c2;
  k = r % params.d1; r = r / params.d1;
  s.o += k * params.o1; s.a += k * params.a1; s.b += k * params.b1; s.c += k * params.c1;
  k = r;
  s.o += k * params.o0; s.a += k * params.a0; s.b += k * params.b0; s.c += k * params.c0;
  return s;
}

fn as_float(b: bool) -> f32 {
  return select(0.0, 1.0, b);
}

// x^p for any real p; a negative base with an integral exponent keeps its sign as in torch.
fn power(base: f32, p: f32) -> f32 {
  if (p == 0.0) {
    return 1.0;
  }
  if (p == 1.0) {
    return base;
  }
  if (p == 2.0) {
    return base * base;
  }
  if (base >= 0.0 || p != floor(p)) {
    return pow(base, p);
  }
  let m = pow(-base, p);
  return select(m, -m, (i32(p) & 1) == 1);
}

fn softplus(v: f32, beta: f32, threshold: f32) -> f32 {
  let z = beta * v;
  if (z > threshold) {
    return v;
  }
  return (max(z, 0.0) + log(1.0 + exp(-abs(z)))) / beta;
}

fn unary(code: u32, v: f32, s: f32, t: f32) -> f32 {
  switch code {
    case 1u: { return -v; }
    case 2u: { return exp(v); }
    case 3u: { return log(v); }
    case 4u: { return sqrt(v); }
    case 5u: { return inverseSqrt(v); }
    case 6u: { return abs(v); }
    case 7u: { return sign(v); }
    case 8u: { return v + s; }
    case 9u: { return v * s; }
    case 10u: { return s - v; }
    case 11u: { return s / v; }
    case 12u: { return power(v, s); }
    case 13u: { return power(s, v); }
    case 14u: { return min(max(v, s), t); }
    case 15u: { return as_float(v >= s && v <= t); }
    case 16u: { return as_float(v > s); }
    case 17u: { return as_float(v < s); }
    case 18u: { return as_float(v >= s); }
    case 19u: { return as_float(v <= s); }
    case 20u: { return as_float(v == s); }
    case 21u: { return as_float(v != s); }
    case 22u: { return v * sigmoid_stable(v); }
    case 23u: {
      let g = sigmoid_stable(v);
      return g * (1.0 + v * (1.0 - g));
    }
    case 24u: { return softplus(v, s, t); }
    case 25u: { return select(sigmoid_stable(s * v), 1.0, s * v > t); }
    case 26u: { return sin(v); }
    case 27u: { return cos(v); }
    default: { return v; }
  }
}

fn binary(code: u32, u: f32, v: f32, s: f32) -> f32 {
  switch code {
    case 1u: { return u - v; }
    case 2u: { return u * v; }
    case 3u: { return u / v; }
    case 4u: { return power(u, v); }
    case 5u: { return select(max(u, v), u + v, u != u || v != v); }
    case 6u: { return select(min(u, v), u + v, u != u || v != v); }
    case 7u: { return as_float(u > v); }
    case 8u: { return as_float(u < v); }
    case 9u: { return as_float(u >= v); }
    case 10u: { return as_float(u <= v); }
    case 11u: { return as_float(u == v); }
    case 12u: { return as_float(u != v); }
    case 13u: { return select(u, s, v != 0.0); }
    default: { return u + v; }
  }
}

@compute @workgroup_size(wg)
fn map_unary(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    let s = offsets_of(i);
    out[s.o] = unary(op, x[s.a], params.value, params.value2);
  }
}

@compute @workgroup_size(wg)
fn map_binary(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    let s = offsets_of(i);
    out[s.o] = binary(op, x[s.a], y[s.b], params.value);
  }
}

@compute @workgroup_size(wg)
fn map_where(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    let s = offsets_of(i);
    out[s.o] = select(y[s.b], x[s.a], cond[s.c] != 0.0);
  }
}

@compute @workgroup_size(wg)
fn copy_i32(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    let s = offsets_of(i);
    out_i32[s.o] = x_i32[s.a];
  }
}

@compute @workgroup_size(wg)
fn to_f32(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid, wg);
  if (i < params.n) {
    let s = offsets_of(i);
    out[s.o] = f32(x_i32[s.a]);
  }
}
