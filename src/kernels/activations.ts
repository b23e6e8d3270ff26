/**
 * Activation codes shared by WGSL (`shaders/activations.wgsl`) and the CPU twins, and the scalar
 * twins of that file's act_forward and act_grad. The backward of kinds other than gelu is
 * computed from the activation's output, so a fused forward needs to keep only its output.
 */
export const ACTIVATIONS = {
  identity: 0,
  relu: 1,
  leaky_relu: 2,
  sigmoid: 3,
  tanh: 4,
  gelu: 5,
} as const;

export type Activation = keyof typeof ACTIVATIONS;

/** True when the derivative is expressed through the output y (so backward needs only y). */
export function gradFromOutput(act: Activation): boolean {
  return act !== 'gelu';
}

const f32 = Math.fround;

/** The erf approximation of activations.wgsl (Abramowitz & Stegun 7.1.26). */
export function erfApprox(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1 - poly * Math.exp(-a * a));
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** act(x) for the activation code `kind`, rounded through float32 like the GPU. */
export function actForward(kind: number, x: number, alpha: number): number {
  switch (kind) {
    case ACTIVATIONS.relu: return f32(Math.max(x, 0));
    case ACTIVATIONS.leaky_relu: return f32(x > 0 ? x : alpha * x);
    case ACTIVATIONS.sigmoid: return f32(sigmoid(x));
    case ACTIVATIONS.tanh: return f32(Math.tanh(x));
    case ACTIVATIONS.gelu: return f32(0.5 * x * (1 + erfApprox(x * Math.SQRT1_2)));
    default: return f32(x);
  }
}

/** act'(x), from the output y = v, or from the input x = v for gelu (see gradFromOutput). */
export function actGrad(kind: number, v: number, alpha: number): number {
  switch (kind) {
    case ACTIVATIONS.relu: return v > 0 ? 1 : 0;
    case ACTIVATIONS.leaky_relu: return v > 0 ? 1 : alpha;
    case ACTIVATIONS.sigmoid: return f32(v * (1 - v));
    case ACTIVATIONS.tanh: return f32(1 - v * v);
    case ACTIVATIONS.gelu: {
      const cdf = 0.5 * (1 + erfApprox(v * Math.SQRT1_2));
      const pdf = 0.3989422804014327 * Math.exp(-0.5 * v * v);
      return f32(cdf + v * pdf);
    }
    default: return 1;
  }
}
