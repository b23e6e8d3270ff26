// Activation functions and their derivatives, shared by the matmul epilogue/prologue and the
// unary kernels. `kind` codes match ACTIVATIONS in src/kernels/activations.ts:
//   0 identity   1 relu   2 leaky_relu(alpha)   3 sigmoid   4 tanh   5 gelu (erf form, as torch)
//
// act_grad(kind, v, alpha) is d act / dx expressed through `v`, which is the activation's OUTPUT
// y for kinds 0-4 (so backward needs no pre-activation buffer) and its INPUT x for gelu.

const ACT_IDENTITY: u32 = 0u;
const ACT_RELU: u32 = 1u;
const ACT_LEAKY_RELU: u32 = 2u;
const ACT_SIGMOID: u32 = 3u;
const ACT_TANH: u32 = 4u;
const ACT_GELU: u32 = 5u;

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
fn erf_approx(x: f32) -> f32 {
  let s = sign(x);
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1.0 - poly * exp(-a * a));
}

fn sigmoid_stable(x: f32) -> f32 {
  if (x >= 0.0) {
    return 1.0 / (1.0 + exp(-x));
  }
  let e = exp(x);
  return e / (1.0 + e);
}

fn act_forward(kind: u32, x: f32, alpha: f32) -> f32 {
  switch kind {
    case 1u: { return max(x, 0.0); }
    case 2u: { return select(alpha * x, x, x > 0.0); }
    case 3u: { return sigmoid_stable(x); }
    case 4u: { return tanh(x); }
    case 5u: { return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752)); }
    default: { return x; }
  }
}

fn act_grad(kind: u32, v: f32, alpha: f32) -> f32 {
  switch kind {
    case 1u: { return select(0.0, 1.0, v > 0.0); }
    case 2u: { return select(alpha, 1.0, v > 0.0); }
    case 3u: { return v * (1.0 - v); }
    case 4u: { return 1.0 - v * v; }
    case 5u: {
      let cdf = 0.5 * (1.0 + erf_approx(v * 0.70710678118654752));
      let pdf = 0.39894228040143268 * exp(-0.5 * v * v);
      return cdf + v * pdf;
    }
    default: { return 1.0; }
  }
}
