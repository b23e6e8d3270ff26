import { describe, expect, it } from 'vitest';
import type { BufferView } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { type Activation, ACTIVATIONS, gradFromOutput } from '../../src/kernels/activations.js';
import { actBackwardLaunch, actForwardLaunch } from '../../src/kernels/unary.js';
import { cpuBackend, expectAllClose, randomArray, runKernel } from '../harness.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

/**
 * The standard normal CDF, accurate in relative terms in both tails: erfc by its Maclaurin series
 * where that is well conditioned, by its continued fraction (Abramowitz & Stegun 7.1.14) beyond.
 */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

function erfc(z: number): number {
  if (z <= -2.5) return 2 - erfc(-z);
  if (z >= 2.5) {
    let cf = z;
    for (let k = 60; k >= 1; k--) cf = z + k / 2 / cf;
    return Math.exp(-z * z) / (Math.sqrt(Math.PI) * cf);
  }
  let term = z;
  let erf = z;
  for (let k = 1; k < 200 && Math.abs(term) > 1e-18; k++) {
    term *= (-z * z) / k;
    erf += term / (2 * k + 1);
  }
  return 1 - (2 / Math.sqrt(Math.PI)) * erf;
}

/** The activations as torch defines them, in float64. */
function reference(act: Activation, x: number, alpha: number): number {
  switch (act) {
    case 'identity': return x;
    case 'relu': return x > 0 ? x : 0;
    case 'leaky_relu': return x > 0 ? x : alpha * x;
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'tanh': return (Math.exp(2 * x) - 1) / (Math.exp(2 * x) + 1);
    case 'gelu': return x * normalCdf(x);
  }
}

const ALPHA = 0.13;
const ACTS = Object.keys(ACTIVATIONS) as Activation[];

/** Inputs in [-5, 5], away from relu's kink so that finite differences are meaningful. */
function inputs(n: number): Float32Array {
  const x = randomArray(n, -5, 5);
  for (let i = 0; i < n; i++) if (Math.abs(x[i]!) < 1e-2) x[i] = 0.5;
  return x;
}

async function forward(act: Activation, x: Float32Array): Promise<Float32Array> {
  const n = x.length;
  const launch = actForwardLaunch({ input: shape(n), output: shape(n) }, n, act, ALPHA);
  const out = await runKernel(cpuBackend(), launch.kernel, {
    inputs: { input: x },
    outputs: { output: n },
    params: launch.params!,
    overrides: launch.overrides!,
    workgroups: launch.workgroups,
  });
  return out.output as Float32Array;
}

async function backward(act: Activation, dy: Float32Array, v: Float32Array): Promise<Float32Array> {
  const n = dy.length;
  const launch = actBackwardLaunch({ dy: shape(n), v: shape(n), dx: shape(n) }, n, act, ALPHA);
  const out = await runKernel(cpuBackend(), launch.kernel, {
    inputs: { dy, v },
    outputs: { dx: n },
    params: launch.params!,
    overrides: launch.overrides!,
    workgroups: launch.workgroups,
  });
  return out.dx as Float32Array;
}

describe.each(ACTS)('%s twin', (act) => {
  it('act_forward matches the float64 definition', async () => {
    const x = Float32Array.of(...inputs(200), 0, -0, 1e-3, -1e-3, 20, -20);
    const y = await forward(act, x);
    expectAllClose(y, Float64Array.from(x, (v) => reference(act, v, ALPHA)), { label: act });
  });

  it('act_backward matches central finite differences of the float64 definition', async () => {
    const n = 300;
    const x = inputs(n);
    const dy = randomArray(n, -2, 2);
    const y = await forward(act, x);
    const dx = await backward(act, dy, gradFromOutput(act) ? y : x);
    const h = 1e-6;
    const slope = (v: number) => (reference(act, v + h, ALPHA) - reference(act, v - h, ALPHA)) / (2 * h);
    const expected = Float64Array.from(x, (v, i) => dy[i]! * slope(v));
    expectAllClose(dx, expected, { rtol: 1e-4, label: `${act} dx` });
  });
});

describe('unary launch helpers', () => {
  it('set the activation code as the `act` override and alpha as a param', () => {
    for (const act of ACTS) {
      const launch = actBackwardLaunch({ dy: shape(9), v: shape(9), dx: shape(9) }, 9, act, 0.2, 'relu1/grad');
      expect(launch.overrides).toEqual({ act: ACTIVATIONS[act] });
      expect(launch.params).toEqual({ n: 9, alpha: 0.2 });
      expect(launch.label).toBe('relu1/grad');
    }
    expect(actForwardLaunch({ input: shape(1), output: shape(1) }, 1, 'leaky_relu').params!.alpha).toBe(0.01);
  });

  it('reject a binding shorter than n', () => {
    expect(() => actForwardLaunch({ input: shape(8), output: shape(7) }, 8, 'relu')).toThrow(/'output'.* holds 7/);
  });
});
