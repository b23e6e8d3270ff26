/**
 * Held-out evaluation on the CPU: a plain TypeScript forward pass of the MLP over the weights
 * of `model.stateDict()` (torch names and [out, in] layouts), used for the accuracy curve, the
 * decision boundary and the digit predictions while the device keeps training.
 */
import { nn } from '../../src/index.js';

type Weights = Record<string, Float32Array>;

/** erf by Abramowitz & Stegun 7.1.26 (error below 1.5e-7), for the exact GELU x·Φ(x). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const y = 1 - poly * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

function activation(module: nn.Module): ((v: number) => number) | null {
  if (module instanceof nn.ReLU) return (v) => (v > 0 ? v : 0);
  if (module instanceof nn.LeakyReLU) return (v) => (v > 0 ? v : module.negativeSlope * v);
  if (module instanceof nn.Tanh) return Math.tanh;
  if (module instanceof nn.Sigmoid) return (v) => 1 / (1 + Math.exp(-v));
  if (module instanceof nn.GELU) return (v) => 0.5 * v * (1 + erf(v / Math.SQRT2));
  // Evaluation runs in eval mode, where dropout is the identity.
  if (module instanceof nn.Identity || module instanceof nn.Flatten || module instanceof nn.Dropout) return (v) => v;
  return null;
}

/** y = x·Wᵀ + b for n rows of `inputs` values. */
function linear(x: Float32Array, n: number, layer: nn.Linear, weights: Weights, prefix: string): Float32Array {
  const { inFeatures: k, outFeatures: m } = layer;
  const w = weights[`${prefix}weight`];
  const b = weights[`${prefix}bias`];
  if (!w) throw new Error(`cpu-forward: the state dict has no '${prefix}weight'`);
  const y = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    const row = i * k;
    for (let j = 0; j < m; j++) {
      const col = j * k;
      let sum = b ? b[j]! : 0;
      for (let p = 0; p < k; p++) sum += x[row + p]! * w[col + p]!;
      y[i * m + j] = sum;
    }
  }
  return y;
}

function apply(module: nn.Module, x: Float32Array, n: number, weights: Weights, prefix: string): Float32Array {
  if (module instanceof nn.Linear) return linear(x, n, module, weights, prefix);
  if (module instanceof nn.Sequential) {
    return module.children().reduce((h, [name, child]) => apply(child, h, n, weights, `${prefix}${name}.`), x);
  }
  if (module instanceof nn.Residual) {
    const y = apply(module.fn, x, n, weights, `${prefix}fn.`);
    return y.map((v, i) => v + x[i]!);
  }
  const f = activation(module);
  if (!f) throw new Error(`cpu-forward: no CPU forward for ${module.describe()}`);
  return x.map(f);
}

/** The logits, n × classes, for n samples back to back in `x`. */
export function forward(model: nn.Module, weights: Weights, x: Float32Array, n: number): Float32Array {
  return apply(model, x, n, weights, '');
}

/** Row-wise softmax probabilities of n rows of logits, in place. */
export function softmaxRows(logits: Float32Array, n: number): Float32Array {
  const c = logits.length / n;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * c, (i + 1) * c);
    const max = Math.max(...row);
    let sum = 0;
    for (let j = 0; j < c; j++) sum += row[j] = Math.exp(row[j]! - max);
    for (let j = 0; j < c; j++) row[j]! /= sum;
  }
  return logits;
}

export function argmaxRows(values: Float32Array, n: number): Int32Array {
  const c = values.length / n;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (values[i * c + j]! > values[i * c + best]!) best = j;
    out[i] = best;
  }
  return out;
}

export interface Evaluation {
  /** Fraction of samples whose largest logit is the label. */
  accuracy: number;
  /** Mean cross-entropy, −log softmax(logits)[label]. */
  loss: number;
}

/**
 * Accuracy and loss over a labelled set, `chunk` samples at a time with a pause between chunks
 * so the page stays responsive.
 */
export async function evaluate(
  model: nn.Module, weights: Weights, set: { x: Float32Array; y: Int32Array; n: number },
  pause: () => Promise<void>, chunk = 250,
): Promise<Evaluation> {
  const size = set.x.length / set.n;
  let correct = 0;
  let loss = 0;
  for (let start = 0; start < set.n; start += chunk) {
    const n = Math.min(chunk, set.n - start);
    const probs = softmaxRows(forward(model, weights, set.x.subarray(start * size, (start + n) * size), n), n);
    const predicted = argmaxRows(probs, n);
    const c = probs.length / n;
    for (let i = 0; i < n; i++) {
      const label = set.y[start + i]!;
      if (predicted[i] === label) correct++;
      loss -= Math.log(Math.max(probs[i * c + label]!, 1e-30));
    }
    await pause();
  }
  return { accuracy: correct / set.n, loss: loss / set.n };
}
