import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { BufferView } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { gradients } from '../../src/graph/autodiff.js';
import { MSE } from '../../src/graph/ops/loss.js';
import { argmax, type Dims, logSoftmax, max, mean, min, softmax, sum, variance } from '../../src/graph/ops/reduce.js';
import { Parameter } from '../../src/graph/parameter.js';
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import { argmaxLaunch, lanesFor, reduceGradLaunch, reduceLaunch, reducePlan } from '../../src/kernels/reduce-axes.js';
import { softmaxGradLaunch, softmaxLaunch } from '../../src/kernels/softmax.js';
import fixture from '../fixtures/reduce.json';
import { cpuBackend, expectAllClose, randomArray, rng, runKernel } from '../harness.js';
import { expectGradientsMatch, runGraph, runOp } from '../op-check.js';

const fake = (n: number): BufferView => view({ id: 0, byteLength: Math.max(n, 1) * 4, label: 'fake' }, 0, Math.max(n, 1));

// ---------------------------------------------------------------------------------------------
// Naive float64 references: every element of x goes to the output element of its kept indices.

function coords(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return c;
}

function normalise(dims: Dims, rank: number): number[] {
  if (dims === undefined || (Array.isArray(dims) && dims.length === 0)) return Array.from({ length: rank }, (_, d) => d);
  return (typeof dims === 'number' ? [dims] : [...dims]).map((d) => (d < 0 ? d + rank : d));
}

/** The values of x grouped per output element, each group in row-major order of the reduced dims. */
function groups(x: ArrayLike<number>, shape: readonly number[], dims: readonly number[]): number[][] {
  const keptShape = shape.filter((_, d) => !dims.includes(d));
  const out: number[][] = Array.from({ length: keptShape.reduce((a, b) => a * b, 1) }, () => []);
  for (let i = 0; i < x.length; i++) {
    const c = coords(i, shape).filter((_, d) => !dims.includes(d));
    let o = 0;
    c.forEach((v, k) => (o = o * keptShape[k]! + v));
    out[o]!.push(x[i]!);
  }
  return out;
}

const naive = {
  sum: (v: number[]) => v.reduce((a, b) => a + b, 0),
  mean: (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length,
  max: (v: number[]) => Math.max(...v),
  min: (v: number[]) => Math.min(...v),
  varUnbiased: (v: number[]) => {
    const m = naive.mean(v);
    return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
  },
  varBiased: (v: number[]) => {
    const m = naive.mean(v);
    return v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
  },
  argmax: (v: number[]) => v.indexOf(Math.max(...v)),
};

function naiveSoftmax(x: ArrayLike<number>, shape: readonly number[], dim: number, log: boolean): Float64Array {
  const out = new Float64Array(x.length);
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const len = shape[dim] ?? 1;
  for (let row = 0; row < x.length / len; row++) {
    const start = Math.floor(row / inner) * len * inner + (row % inner);
    const at = Array.from({ length: len }, (_, k) => start + k * inner);
    const m = Math.max(...at.map((i) => x[i]!));
    const total = at.reduce((a, i) => a + Math.exp(x[i]! - m), 0);
    for (const i of at) out[i] = log ? x[i]! - m - Math.log(total) : Math.exp(x[i]! - m) / total;
  }
  return out;
}

function expectedShape(shape: readonly number[], dims: readonly number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((n, d) => (dims.includes(d) ? 1 : n)) : shape.filter((_, d) => !dims.includes(d));
}

/** f32 sums err in proportion to the magnitudes added, so atol scales with the group's Σ|x|. */
function tolerance(x: ArrayLike<number>): { rtol: number; atol: number } {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]!);
  return { rtol: 1e-5, atol: 1e-6 + 2e-7 * s };
}

// ---------------------------------------------------------------------------------------------
// A graph run where the loss is given: the op's own output (the scalar case) or MSE to a target.

interface LossRun {
  y: Float32Array | Int32Array;
  dx: Float32Array | null;
}

async function runLoss(
  backend: Backend,
  build: (x: Tensor) => Tensor,
  shape: readonly number[],
  data: Float32Array,
  target?: Float32Array,
): Promise<LossRun> {
  const g = new Graph();
  const p = new Parameter(Float32Array.from(data), shape, 'x');
  const xt = g.param(p);
  const y = build(xt);
  let loss: Tensor | null = null;
  if (target) {
    loss = g.apply(MSE, [y, g.input('target', y.shape)], {}, 'loss')[0]!;
  } else if (y.dtype === 'f32') {
    loss = y;
  }
  const [dx] = loss ? gradients(g, loss, [xt]) : [null];
  const { values } = await runGraph(backend, g, target ? { target } : {}, [y, ...(dx ? [dx] : [])], 'test');
  return { y: values[0]!, dx: dx ? (values[1] as Float32Array) : null };
}

// ---------------------------------------------------------------------------------------------

const CASES: [string, number[], Dims][] = [
  ['one vector, all dims', [7], undefined],
  ['one vector, dim 0', [7], 0],
  ['last dim', [3, 5], -1],
  ['first dim', [3, 5], 0],
  ['every dim listed', [3, 5], [0, 1]],
  ['an empty list (all dims, as torch)', [3, 5], []],
  ['the middle dim', [2, 3, 4], 1],
  ['first and last', [2, 3, 4], [0, 2]],
  ['negative dims', [2, 3, 4], [-1, -3]],
  ['two trailing dims', [2, 3, 4], [1, 2]],
  ['a size-1 dim', [4, 1, 3], 1],
  ['a size-1 dim with another', [4, 1, 3], [0, 1]],
  ['keeping a size-1 dim', [4, 1, 3], 2],
  ['rank 6', [2, 1, 3, 1, 2, 2], [0, 2, 4]],
  ['rank 6, unordered dims', [2, 2, 3, 1, 2, 2], [5, 1, 3]],
  ['a long row (lanes > 1)', [3, 200], -1],
  ['a long column (lanes > 1)', [300, 2], 0],
  ['a 0-d tensor', [], undefined],
];

describe('reductions match float64 references', () => {
  describe.each(CASES)('%s: shape %j, dims %j', (_name, shape, dims) => {
    const d = normalise(dims, shape.length);
    it.each([false, true])('sum, mean, max, min, var (keepdim %s)', async (keepdim) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = randomArray(n, -2, 2);
      const fns: [keyof typeof naive, (t: Tensor) => Tensor][] = [
        ['sum', (t) => sum(t, dims, keepdim)],
        ['mean', (t) => mean(t, dims, keepdim)],
        ['max', (t) => max(t, dims, keepdim)],
        ['min', (t) => min(t, dims, keepdim)],
        ['varUnbiased', (t) => variance(t, dims, { keepdim })],
        ['varBiased', (t) => variance(t, dims, { unbiased: false, keepdim })],
      ];
      const per = groups(x, shape, d);
      for (const [name, fn] of fns) {
        let outShape: readonly number[] = [];
        const run = await runOp(cpuBackend(), (t) => {
          const y = fn(t);
          outShape = y.shape;
          return y;
        }, [{ shape }], [x]);
        expect(outShape, name).toEqual(expectedShape(shape, d, keepdim));
        const want = per.map(naive[name]);
        per.forEach((v, o) => expectAllClose([run.outputs[0]![o]!], [want[o]!], { ...tolerance(v), label: `${name}[${o}]` }));
      }
    });
  });
});

describe('argmax', () => {
  it.each([
    [[7], undefined],
    [[3, 5], 1],
    [[3, 5], -2],
    [[2, 3, 4], 1],
    [[2, 3, 4], undefined],
    [[4, 1, 3], 1],
    [[3, 300], 1],
  ] as [number[], number | undefined][])('shape %j, dim %j: first maximum, int32', async (shape, dim) => {
    const n = shape.reduce((a, b) => a * b, 1);
    // Few distinct values, so ties are common and the first index must win.
    const x = Float32Array.from(randomArray(n, 0, 4), (v) => Math.floor(v));
    for (const keepdim of [false, true]) {
      let out: Tensor | null = null;
      const run = await runOp(cpuBackend(), (t) => (out = argmax(t, dim, keepdim)), [{ shape, grad: false }], [x]);
      const d = normalise(dim, shape.length);
      expect(out!.dtype).toBe('i32');
      expect(out!.shape).toEqual(dim === undefined ? (keepdim ? shape.map(() => 1) : []) : expectedShape(shape, d, keepdim));
      expect(Array.from(run.outputs[0]!)).toEqual(groups(x, shape, d).map(naive.argmax));
    }
  });

  it('counts NaN as the largest value, and max and min propagate it, as torch does', async () => {
    const x = new Float32Array([1, NaN, 3, 2, 5, NaN]);
    const run = await runOp(cpuBackend(), (t) => argmax(t, 1), [{ shape: [2, 3], grad: false }], [x]);
    expect(Array.from(run.outputs[0]!)).toEqual([1, 2]);
    const high = await runOp(cpuBackend(), (t) => [max(t, 1), min(t, 1)], [{ shape: [2, 3], grad: false }], [x]);
    expect(Array.from(high.outputs[0]!)).toEqual([NaN, NaN]);
    expect(Array.from(high.outputs[1]!)).toEqual([NaN, NaN]);
  });
});

describe('softmax and logSoftmax match float64 references', () => {
  it.each([
    [[7], 0],
    [[3, 5], -1],
    [[3, 5], 0],
    [[2, 3, 4], 1],
    [[4, 1, 3], 1],
    [[2, 300], 1],
    [[300, 2], 0],
    [[], 0],
  ] as [number[], number][])('shape %j along dim %i', async (shape, dim) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomArray(n, -6, 6);
    const d = shape.length === 0 ? 0 : dim < 0 ? dim + shape.length : dim;
    for (const log of [false, true]) {
      const run = await runOp(cpuBackend(), (t) => (log ? logSoftmax(t, dim) : softmax(t, dim)), [{ shape }], [x]);
      expectAllClose(run.outputs[0]!, naiveSoftmax(x, shape.length ? shape : [1], d, log), { rtol: 1e-5, atol: 1e-6, label: log ? 'logSoftmax' : 'softmax' });
    }
  });

  it('stays finite for logits far beyond exp range', async () => {
    const x = new Float32Array([1000, 1001, 999, -1000, -1001, -999]);
    const run = await runOp(cpuBackend(), (t) => softmax(t, 1), [{ shape: [2, 3] }], [x]);
    expectAllClose(run.outputs[0]!, naiveSoftmax(x, [2, 3], 1, false), { rtol: 1e-5, atol: 1e-7 });
    const logRun = await runOp(cpuBackend(), (t) => logSoftmax(t, 0), [{ shape: [2, 3] }], [x]);
    expectAllClose(logRun.outputs[0]!, [0, 0, 0, -2000, -2002, -1998], { rtol: 1e-6, atol: 1e-4 });
  });
});

describe('shape checks', () => {
  const traced = (shape: number[], dtype: 'f32' | 'i32' = 'f32'): Tensor => new Graph().input('x', shape, dtype);
  const inLayer = <T>(t: Tensor, body: () => T): T => t.graph.scope('Head', body);

  it('names the layer, the dims and the shape for an out-of-range dim', () => {
    const x = traced([2, 3]);
    expect(() => inLayer(x, () => sum(x, [0, 2]))).toThrow(/^Head: sum: dim 2 is out of range \(expected -2\.\.1\) in dims \[0, 2\] for shape \[2, 3\]$/);
    expect(() => mean(x, -3)).toThrow(/mean: dim -3 is out of range .* for shape \[2, 3\]/);
    expect(() => max(x, 0.5)).toThrow(/max: dim 0\.5 is out of range/);
    expect(() => argmax(x, 2)).toThrow(/argmax: dim 2 is out of range/);
    expect(() => softmax(x, 2)).toThrow(/softmax: dim 2 is out of range .* for shape \[2, 3\]/);
    expect(() => logSoftmax(x, -3)).toThrow(/logSoftmax: dim -3 is out of range/);
  });

  it('rejects a dim named twice, even through a negative alias', () => {
    const x = traced([2, 3, 4]);
    expect(() => inLayer(x, () => min(x, [1, -2]))).toThrow(/^Head: min: dim -2 appears twice in dims \[1, -2\] for shape \[2, 3, 4\]$/);
    expect(() => variance(x, [0, 0])).toThrow(/variance: dim 0 appears twice in dims \[0, 0\]/);
  });

  it('rejects ranks above 6, int32 inputs and a missing softmax dim', () => {
    expect(() => sum(traced([1, 1, 1, 1, 1, 1, 2]), 0)).toThrow(/rank at most 6, got shape \[1, 1, 1, 1, 1, 1, 2\]/);
    expect(() => sum(traced([3], 'i32'))).toThrow(/sum needs a float tensor, got i32 \[3\]/);
    expect(() => softmax(traced([3]), undefined as unknown as number)).toThrow(/softmax needs a dim for shape \[3\]/);
  });

  it('accepts dim 0 and -1 on a 0-d tensor, as torch does', () => {
    const x = traced([]);
    expect(sum(x, 0).shape).toEqual([]);
    expect(sum(x, -1, true).shape).toEqual([]);
    expect(() => sum(x, 1)).toThrow(/dim 1 is out of range \(expected -1\.\.0\)/);
  });
});

// ---------------------------------------------------------------------------------------------
// Gradients: finite differences through the CPU twins, the analytic rule for ties, the scalar
// loss seed, and torch.

/** n distinct values 0.05 apart, shuffled. */
function spaced(n: number): Float32Array {
  const next = rng((Math.random() * 2 ** 31) | 0);
  const v = Float32Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return v;
}

describe('gradients match finite differences', () => {
  const fns: [string, (t: Tensor) => Tensor, number[]][] = [
    ['sum over the middle dim', (t) => sum(t, 1), [2, 3, 4]],
    ['sum of everything, keepdim', (t) => sum(t, undefined, true), [3, 4]],
    ['mean over dims 0 and 2', (t) => mean(t, [0, 2]), [2, 3, 4]],
    ['mean over a long row', (t) => mean(t, -1, true), [2, 40]],
    ['max over the last dim', (t) => max(t, -1), [3, 5]],
    ['max over dims 0 and 2', (t) => max(t, [0, 2], true), [2, 3, 4]],
    ['min over the first dim', (t) => min(t, 0), [4, 3]],
    ['min of everything', (t) => min(t), [3, 4]],
    ['var unbiased over dim 1', (t) => variance(t, 1), [3, 5]],
    ['var biased over dims 0 and 2, keepdim', (t) => variance(t, [0, 2], { unbiased: false, keepdim: true }), [2, 3, 4]],
    ['var of everything', (t) => variance(t), [3, 4]],
    ['softmax over the last dim', (t) => softmax(t, -1), [3, 5]],
    ['softmax over the middle dim', (t) => softmax(t, 1), [2, 3, 4]],
    ['logSoftmax over dim 0', (t) => logSoftmax(t, 0), [4, 3]],
    ['logSoftmax over dim 1 of a 3-D tensor', (t) => logSoftmax(t, 1), [2, 4, 3]],
  ];
  it.each(fns)('%s', async (name, fn, shape) => {
    // Finite differences across a tie (or a near one) are not the gradient of either side, so
    // max and min get distinct values at least 4h apart.
    const extremum = name.startsWith('max') || name.startsWith('min');
    await expectGradientsMatch(fn, [{ shape, ...(extremum ? { data: spaced(shape.reduce((a, b) => a * b, 1)) } : {}) }]);
  });

  it('argmax beside a differentiable output passes no gradient of its own', async () => {
    const x = randomArray(6);
    const both = await runOp(cpuBackend(), (t) => [argmax(t, 1), sum(t, 1)], [{ shape: [2, 3] }], [x]);
    const alone = await runOp(cpuBackend(), (t) => sum(t, 1), [{ shape: [2, 3] }], [x]);
    expectAllClose(both.grads[0]!, alone.grads[0]!, { rtol: 0, atol: 0 });
  });
});

describe('tied extrema share the gradient evenly', () => {
  it('max and min split d loss / dy among the ties', async () => {
    const x = new Float32Array([1, 3, 3, 2, /**/ 0, 0, 0, -1, /**/ 5, 4, 5, 5]);
    const target = new Float32Array([0.5, -1, 2]);
    const { y, dx } = await runLoss(cpuBackend(), (t) => max(t, 1), [3, 4], x, target);
    expect(Array.from(y)).toEqual([3, 0, 5]);
    // d mse / dy = 2 (y − t) / 3, split among 2, 3 and 3 tied maxima.
    const g = [0, 1, 2].map((o) => (2 * (y[o]! - target[o]!)) / 3);
    const want = [0, g[0]! / 2, g[0]! / 2, 0, g[1]! / 3, g[1]! / 3, g[1]! / 3, 0, g[2]! / 3, 0, g[2]! / 3, g[2]! / 3];
    expectAllClose(dx!, want, { rtol: 1e-6, atol: 1e-7 });
    const low = await runLoss(cpuBackend(), (t) => min(t, 0), [3, 4], x, new Float32Array(4));
    expect(Array.from(low.y)).toEqual([0, 0, 0, -1]);
    const gl = Array.from(low.y, (v) => (2 * v) / 4);
    expectAllClose(low.dx!, [0, 0, 0, 0, gl[0]!, gl[1]!, gl[2]!, gl[3]!, 0, 0, 0, 0], { rtol: 1e-6, atol: 1e-7 });
  });
});

describe('a reduction that is the loss itself', () => {
  const x = new Float32Array([1, -2, 3, 3, 0.5, -1]);
  it('sum, mean and keepdim sums give d loss / dx without a gradient tensor', async () => {
    expect(Array.from((await runLoss(cpuBackend(), (t) => sum(t), [2, 3], x)).dx!)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from((await runLoss(cpuBackend(), (t) => sum(t, [0, 1], true), [2, 3], x)).dx!)).toEqual([1, 1, 1, 1, 1, 1]);
    expectAllClose((await runLoss(cpuBackend(), (t) => mean(t), [2, 3], x)).dx!, new Float32Array(6).fill(1 / 6));
  });

  it('max shares the seed among ties; var gives 2 (x − mean) / (N − 1)', async () => {
    expectAllClose((await runLoss(cpuBackend(), (t) => max(t), [2, 3], x)).dx!, [0, 0, 0.5, 0.5, 0, 0]);
    const m = x.reduce((a, b) => a + b, 0) / 6;
    expectAllClose((await runLoss(cpuBackend(), (t) => variance(t), [2, 3], x)).dx!, Array.from(x, (v) => (2 * (v - m)) / 5), { rtol: 1e-5, atol: 1e-6 });
    expectAllClose((await runLoss(cpuBackend(), (t) => variance(t, undefined, { unbiased: false }), [2, 3], x)).dx!, Array.from(x, (v) => (2 * (v - m)) / 6), { rtol: 1e-5, atol: 1e-6 });
  });

  it('var of one element is NaN unbiased and 0 biased, as in torch', async () => {
    const one = new Float32Array([2.5]);
    expect(Number.isNaN((await runLoss(cpuBackend(), (t) => variance(t), [1], one)).y[0])).toBe(true);
    expect(Array.from((await runLoss(cpuBackend(), (t) => variance(t, 0, { unbiased: false }), [1], one)).y)).toEqual([0]);
  });

  it('a softmax output cannot seed backward', () => {
    const g = new Graph();
    const x = g.param(new Parameter(new Float32Array(1), [1]));
    expect(() => gradients(g, softmax(x, 0), [x])).toThrow(/softmax output cannot be the loss/);
  });
});

interface FixtureCase {
  name: string;
  op: 'sum' | 'mean' | 'max' | 'min' | 'variance' | 'argmax' | 'softmax' | 'logSoftmax';
  shape: number[];
  x: number[];
  yShape: number[];
  y: number[];
  target?: number[];
  dx?: number[];
  dims?: number | number[] | null;
  dim?: number | null;
  keepdim?: boolean;
  unbiased?: boolean;
}

function fromFixture(c: FixtureCase): (t: Tensor) => Tensor {
  const dims = c.dims === null ? undefined : c.dims;
  const keepdim = c.keepdim ?? false;
  switch (c.op) {
    case 'sum': return (t) => sum(t, dims, keepdim);
    case 'mean': return (t) => mean(t, dims, keepdim);
    case 'max': return (t) => max(t, dims, keepdim);
    case 'min': return (t) => min(t, dims, keepdim);
    case 'variance': return (t) => variance(t, dims, { unbiased: c.unbiased!, keepdim });
    case 'argmax': return (t) => argmax(t, c.dim ?? undefined, keepdim);
    case 'softmax': return (t) => softmax(t, c.dim!);
    case 'logSoftmax': return (t) => logSoftmax(t, c.dim!);
  }
}

describe(`torch ${fixture.torch} fixtures (gen_reduce.py)`, () => {
  it.each((fixture.cases as FixtureCase[]).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    let shape: readonly number[] = [];
    const build = fromFixture(c);
    const run = await runLoss(cpuBackend(), (t) => {
      const y = build(t);
      shape = y.shape;
      return y;
    }, c.shape, Float32Array.from(c.x), c.target ? Float32Array.from(c.target) : undefined);
    expect(shape).toEqual(c.yShape);
    if (c.op === 'argmax') {
      expect(Array.from(run.y)).toEqual(c.y);
      return;
    }
    expectAllClose(run.y, c.y, { rtol: 1e-5, atol: 1e-5, label: 'y' });
    expectAllClose(run.dx!, c.dx!, { rtol: 1e-5, atol: 1e-5, label: 'dx' });
  });
});

// ---------------------------------------------------------------------------------------------
// Kernel level: the plan, the lane count, and the twins' lane trees at forced lane counts.

describe('reducePlan', () => {
  it('drops size-1 dims and merges neighbours of one kind', () => {
    const plan = reducePlan([2, 1, 3, 4, 5], [2, 3]);
    expect([plan.nOut, plan.nRed, plan.nIn]).toEqual([10, 12, 120]);
    const p = plan.layout;
    expect([p.k4, p.ks4, p.k5, p.ks5]).toEqual([2, 60, 5, 1]);
    expect([p.r5, p.rs5, p.r4]).toEqual([12, 5, 1]);
    expect([p.e3, p.e4, p.e5, p.os3, p.os4, p.os5]).toEqual([2, 12, 5, 5, 0, 1]);
  });

  it('rejects empty tensors and ranks above 6', () => {
    expect(() => reducePlan([2, 0], [1], 'L')).toThrow(/L: cannot reduce an empty tensor of shape \[2, 0\]/);
    expect(() => reducePlan([1, 1, 1, 1, 1, 1, 1], [0], 'L')).toThrow(/maximum rank 6/);
  });

  it('spreads long reductions over up to a workgroup of lanes, at least 16 elements each', () => {
    expect([1, 31, 32, 64, 200, 4096, 100000].map((n) => lanesFor(n))).toEqual([1, 1, 2, 4, 8, 256, 256]);
  });
});

describe('twins at forced lane counts', () => {
  const shape = [3, 37, 5];
  const dims = [1];
  const x = randomArray(3 * 37 * 5, -2, 2);
  const per = groups(x, shape, dims);

  it.each([1, 2, 8, 64, 256])('reduce_axes, argmax_axes and softmax with lanes = %i', async (lanes) => {
    const ops = [
      ['sum', naive.sum],
      ['max', naive.max],
      ['min', naive.min],
    ] as const;
    for (const [op, ref] of ops) {
      const launch = reduceLaunch(op, { x: fake(x.length), anchor: fake(1), out: fake(15) }, shape, dims, 1, undefined, lanes);
      expect(launch.workgroups).toEqual([Math.ceil(15 / (256 / lanes)), 1, 1]);
      const out = await runKernel(cpuBackend(), launch.kernel, { inputs: { x, anchor: new Float32Array(1) }, outputs: { out: 15 }, params: launch.params!, overrides: launch.overrides!, workgroups: launch.workgroups });
      per.forEach((v, o) => expectAllClose([out.out![o]!], [ref(v)], { ...tolerance(v), label: `${op}[${o}]` }));
    }
    const arg = argmaxLaunch({ x: fake(x.length), index: fake(15) }, shape, dims, undefined, lanes);
    const idx = await runKernel(cpuBackend(), arg.kernel, { inputs: { x }, outputs: { index: 15 }, params: arg.params!, overrides: arg.overrides!, workgroups: arg.workgroups });
    expect(Array.from(idx.index!)).toEqual(per.map(naive.argmax));
    const sm = softmaxLaunch({ x: fake(x.length), out: fake(x.length) }, shape, 1, false, undefined, lanes);
    const y = await runKernel(cpuBackend(), sm.kernel, { inputs: { x }, outputs: { out: x.length }, params: sm.params!, overrides: sm.overrides!, workgroups: sm.workgroups });
    expectAllClose(y.out!, naiveSoftmax(x, shape, 1, false), { rtol: 1e-5, atol: 1e-7 });
    const dy = randomArray(x.length);
    const back = softmaxGradLaunch({ dy: fake(x.length), y: fake(x.length), dx: fake(x.length) }, shape, 1, false, undefined, lanes);
    const dx = await runKernel(cpuBackend(), back.kernel, { inputs: { dy, y: y.out! }, outputs: { dx: x.length }, params: back.params!, overrides: back.overrides!, workgroups: back.workgroups });
    const ys = y.out!;
    const want = new Float64Array(x.length);
    for (let a = 0; a < 3; a++) {
      for (let c = 0; c < 5; c++) {
        let dot = 0;
        for (let k = 0; k < 37; k++) dot += dy[a * 185 + k * 5 + c]! * ys[a * 185 + k * 5 + c]!;
        for (let k = 0; k < 37; k++) want[a * 185 + k * 5 + c] = ys[a * 185 + k * 5 + c]! * (dy[a * 185 + k * 5 + c]! - dot);
      }
    }
    expectAllClose(dx.dx!, want, { rtol: 1e-5, atol: 1e-6 });
  });

  it('reduce_grad covers every element exactly once in each mode', async () => {
    const dy = randomArray(15);
    const ymax = Float32Array.from(per.map(naive.max));
    const count = Float32Array.from(per.map((v) => v.filter((e) => e === Math.max(...v)).length));
    for (const mode of ['broadcast', 'tie', 'deviation'] as const) {
      const launch = reduceGradLaunch(mode, { dy: fake(15), x: fake(x.length), y: fake(15), count: fake(15), dx: fake(x.length) }, shape, dims, { scale: 0.5 });
      const out = await runKernel(cpuBackend(), launch.kernel, { inputs: { dy, x, y: ymax, count }, outputs: { dx: x.length }, params: launch.params!, overrides: launch.overrides!, workgroups: launch.workgroups });
      const want = Array.from(x, (v, i) => {
        const [a, , c] = coords(i, shape) as [number, number, number];
        const o = a * 5 + c;
        if (mode === 'broadcast') return 0.5 * dy[o]!;
        if (mode === 'tie') return v === ymax[o] ? dy[o]! / count[o]! : 0;
        return 0.5 * (v - ymax[o]!) * dy[o]!;
      });
      expectAllClose(out.dx!, want, { rtol: 1e-6, atol: 1e-7, label: mode });
    }
  });

  it('checks lane counts and binding lengths', () => {
    expect(() => reduceLaunch('sum', { x: fake(6), anchor: fake(1), out: fake(2) }, [2, 3], [1], 1, 'L', 3)).toThrow(/L: lanes must be a power of two/);
    expect(() => reduceLaunch('sum', { x: fake(5), anchor: fake(1), out: fake(2) }, [2, 3], [1], 1, 'L')).toThrow(/binding 'x' .* holds 5 elements, needs 6/);
    expect(() => reduceLaunch('sqDev', { x: fake(6), anchor: fake(1), out: fake(2) }, [2, 3], [1], 1, 'L')).toThrow(/'anchor' .* holds 1 elements, needs 2/);
  });
});
