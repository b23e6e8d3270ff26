/** Scalar twins of shaders/activations.wgsl, rounded through float32 like the GPU. */

const f32 = Math.fround;

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

export function actForward(kind: number, x: number, alpha: number): number {
  switch (kind) {
    case 1: return f32(Math.max(x, 0));
    case 2: return f32(x > 0 ? x : alpha * x);
    case 3: return f32(sigmoid(x));
    case 4: return f32(Math.tanh(x));
    case 5: return f32(0.5 * x * (1 + erfApprox(x * Math.SQRT1_2)));
    default: return f32(x);
  }
}

export function actGrad(kind: number, v: number, alpha: number): number {
  switch (kind) {
    case 1: return v > 0 ? 1 : 0;
    case 2: return v > 0 ? 1 : alpha;
    case 3: return f32(v * (1 - v));
    case 4: return f32(1 - v * v);
    case 5: {
      const cdf = 0.5 * (1 + erfApprox(v * Math.SQRT1_2));
      const pdf = 0.3989422804014327 * Math.exp(-0.5 * v * v);
      return f32(cdf + v * pdf);
    }
    default: return 1;
  }
}
