import { describe, expect, it } from 'vitest';
import { ACTIVATIONS, type Activation } from '../../src/kernels/activations.js';
import { matmul, matmulLaunch, type MatmulOptions } from '../../src/kernels/matmul.js';
import { cpuBackend, expectAllClose, randomArray, runKernel } from '../harness.js';

/** erf by its Taylor series (exact to ~1e-10 here), independent of the kernels' approximation. */
function erf(x: number): number {
  if (Math.abs(x) > 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

function forward(kind: Activation, x: number, alpha: number): number {
  switch (kind) {
    case 'identity': return x;
    case 'relu': return Math.max(x, 0);
    case 'leaky_relu': return x > 0 ? x : alpha * x;
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'tanh': return Math.tanh(x);
    case 'gelu': return 0.5 * x * (1 + erf(x / Math.SQRT2));
  }
}

/** d act/dx, from the output y, except gelu which takes its input x. */
function derivative(kind: Activation, v: number, alpha: number): number {
  switch (kind) {
    case 'identity': return 1;
    case 'relu': return v > 0 ? 1 : 0;
    case 'leaky_relu': return v > 0 ? 1 : alpha;
    case 'sigmoid': return v * (1 - v);
    case 'tanh': return 1 - v * v;
    case 'gelu': return 0.5 * (1 + erf(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
  }
}

interface Inputs {
  a: Float32Array;
  b: Float32Array;
  gate: Float32Array;
  bias: Float32Array;
}

/** The definition, in float64, straight from the stored layouts. */
function reference(o: Required<Omit<MatmulOptions, 'batch' | 'batchStrideA' | 'batchStrideB' | 'batchStrideC'>>, x: Inputs): { c: Float64Array; biasOut: Float64Array } {
  const { m, n, k, alpha } = o;
  const aAt = (i: number, p: number): number => {
    const s = o.transA ? p * m + i : i * k + p;
    return o.gate ? x.a[s]! * derivative(o.gate, x.gate[s]!, alpha) : x.a[s]!;
  };
  const bAt = (p: number, j: number): number => (o.transB ? x.b[j * k + p]! : x.b[p * n + j]!);
  const c = new Float64Array(m * n);
  const biasOut = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) biasOut[i] += aAt(i, p);
    for (let j = 0; j < n; j++) {
      let s = o.hasBias ? x.bias[j]! : 0;
      for (let p = 0; p < k; p++) s += aAt(i, p) * bAt(p, j);
      c[i * n + j] = forward(o.act, s, alpha);
    }
  }
  return { c, biasOut };
}

// A stand-in long enough for any shape under test: only the launch's params and grid are used.
const FAKE = { buffer: { id: 0, byteLength: 4 << 20, label: 'fake' }, offset: 0, length: 1 << 20 };

async function runTwin(o: Required<Omit<MatmulOptions, 'batch' | 'batchStrideA' | 'batchStrideB' | 'batchStrideC'>>, x: Inputs): Promise<{ c: Float32Array; biasOut: Float32Array }> {
  const launch = matmulLaunch(o, { a: FAKE, b: FAKE, c: FAKE, gate: FAKE, bias: FAKE, biasOut: FAKE }, FAKE);
  const out = await runKernel(cpuBackend(), matmul, {
    inputs: { a: x.a, b: x.b, gate: x.gate, bias: x.bias },
    outputs: { c: o.m * o.n, bias_out: o.m },
    params: launch.params!,
    overrides: launch.overrides!,
    workgroups: launch.workgroups,
  });
  return { c: out.c as Float32Array, biasOut: out.bias_out as Float32Array };
}

const acts = Object.keys(ACTIVATIONS) as Activation[];
const gates: (Activation | null)[] = [null, ...acts];
const sizes = [
  [1, 1, 1],
  [3, 5, 7],
  [9, 2, 4],
] as const;

describe.each([
  [false, false],
  [true, false],
  [false, true],
  [true, true],
])('matmul twin, transA=%s transB=%s', (transA, transB) => {
  it.each(acts)('matches a float64 reference with act=%s, every gate, bias and ones column', async (act) => {
    for (const [m, n, k] of sizes) {
      for (const gate of gates) {
        for (const hasBias of [false, true]) {
          for (const onesCol of [false, true]) {
            const o = { m, n, k, transA, transB, act, alpha: 0.1, gate, hasBias, onesCol };
            const x = { a: randomArray(m * k, -2, 2), b: randomArray(k * n), gate: randomArray(m * k, -1.5, 1.5), bias: randomArray(n) };
            const want = reference(o, x);
            const got = await runTwin(o, x);
            const label = JSON.stringify(o);
            expectAllClose(got.c, want.c, { rtol: 1e-5, atol: 1e-6, label: `${label} c` });
            if (onesCol) expectAllClose(got.biasOut, want.biasOut, { rtol: 1e-5, atol: 1e-6, label: `${label} bias_out` });
          }
        }
      }
    }
  });
});

describe('matmulLaunch', () => {
  const other = (id: number) => ({ buffer: { id, byteLength: 65536, label: `b${id}` }, offset: 0, length: 16384 });
  const [a, b, c, dummy] = [other(1), other(2), other(3), other(4)];

  it('covers C with 64 x 64 tiles and binds absent buffers where WebGPU allows it', () => {
    const launch = matmulLaunch({ m: 65, n: 130, k: 7 }, { a, b, c }, dummy);
    expect(launch.workgroups).toEqual([3, 2, 1]);
    expect(launch.bindings.gate).toBe(a);
    expect(launch.bindings.bias).toBe(a);
    expect(launch.bindings.bias_out).toBe(dummy);
    expect(launch.params).toEqual({ m: 65, n: 130, k: 7, alpha: 0.01, batch_a: 0, batch_b: 0, batch_c: 0 });
    const given = other(8);
    expect(matmulLaunch({ m: 1, n: 1, k: 1 }, { a, b, c, biasOut: given }, dummy).bindings.bias_out).toBe(given);
  });

  it('narrows the tile on a side of 16 or less, and never past the 64 x 64 tile', () => {
    const tile = (m: number, n: number) => {
      const l = matmulLaunch({ m, n, k: 3 }, { a, b, c }, dummy);
      return [l.overrides!.wg_x, l.overrides!.wg_y, ...l.workgroups.slice(0, 2)];
    };
    // [wg_x, wg_y, workgroups x, workgroups y]: 16 x 16 outputs per invocation.
    expect(tile(128, 10)).toEqual([1, 4, 1, 2]);
    expect(tile(10, 256)).toEqual([4, 1, 4, 1]);
    expect(tile(17, 32)).toEqual([2, 2, 1, 1]);
    expect(tile(300, 33)).toEqual([4, 4, 1, 5]);
  });

  it('sets the override codes from the options', () => {
    const launch = matmulLaunch(
      { m: 1, n: 1, k: 1, transA: true, gate: 'gelu', act: 'sigmoid', hasBias: true, onesCol: true, alpha: 0.2 },
      { a, b, c, gate: other(5), bias: other(6), biasOut: other(7) },
      dummy,
    );
    expect(launch.overrides).toEqual({ trans_a: 1, trans_b: 0, gate_a: 1, act_gate: 5, act: 3, has_bias: 1, ones_col: 1, wg_x: 1, wg_y: 1 });
    expect(launch.bindings.bias_out!.buffer.id).toBe(7);
  });

  it('rejects missing buffers and empty shapes', () => {
    expect(() => matmulLaunch({ m: 2, n: 2, k: 2, hasBias: true }, { a, b, c }, dummy)).toThrow(/bias/);
    expect(() => matmulLaunch({ m: 2, n: 2, k: 2, gate: 'relu' }, { a, b, c }, dummy)).toThrow(/gate/);
    expect(() => matmulLaunch({ m: 2, n: 2, k: 2, onesCol: true }, { a, b, c }, dummy)).toThrow(/biasOut/);
    expect(() => matmulLaunch({ m: 0, n: 2, k: 2 }, { a, b, c }, dummy)).toThrow(/m must be/);
  });

  it('sets batch strides and a z grid for a batch of matrices, and checks the buffers hold them all', () => {
    const launch = matmulLaunch({ m: 3, n: 4, k: 5, batch: 6, batchStrideA: 15, batchStrideB: 0 }, { a, b, c }, dummy);
    expect(launch.workgroups[2]).toBe(6);
    expect(launch.params).toMatchObject({ batch_a: 15, batch_b: 0, batch_c: 12 });
    const short = { ...a, length: 15 * 5 + 14 };
    expect(() => matmulLaunch({ m: 3, n: 4, k: 5, batch: 6 }, { a: short, b, c }, dummy)).toThrow(/'a' holds 89 elements, needs 90/);
    expect(() => matmulLaunch({ m: 3, n: 4, k: 5, batch: 2, hasBias: true }, { a, b, c, bias: a }, dummy)).toThrow(/batch of 1/);
  });
});
