/**
 * Losses (src/kernels/losses.ts, src/graph/ops/losses.ts, src/nn/loss.ts): the kernel twins
 * against float64 references with finite-difference gradients, the ops against torch fixtures
 * (test/fixtures/gen_losses.py) with the loss as the root of backward, finite-difference checks
 * of the ops when the loss is used further, and the loss classes.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { BufferView, DeviceBuffer } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { gradients } from '../../src/graph/autodiff.js';
import { compileGraph } from '../../src/graph/compile.js';
import { SOFTMAX_CROSS_ENTROPY } from '../../src/graph/ops/loss.js';
import { binaryCrossEntropyWithLogits, crossEntropy, l1Loss, mseLoss } from '../../src/graph/ops/losses.js';
import { Parameter } from '../../src/graph/parameter.js';
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import {
  bceTargetGrad,
  bceTargetGradLaunch,
  crossEntropyLaunch,
  type PointwiseKind,
  pointwiseLossLaunch,
  type Reduction,
  scaleGrad,
  scaleGradLaunch,
} from '../../src/kernels/losses.js';
import { BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, type Loss, MSELoss } from '../../src/nn/loss.js';
import fixture from '../fixtures/losses.json';
import { cpuBackend, expectAllClose, randomArray, rng, runKernel } from '../harness.js';
import { expectGradientsMatch } from '../op-check.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: Math.max(n, 1) * 4, label: 'shape' }, 0, Math.max(n, 1));

/** Central differences of `f` at every coordinate of `x`, in float64. */
function numericGradient(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-6): Float64Array {
  const p = Float64Array.from(x);
  return Float64Array.from(p, (v, i) => {
    p[i] = v + h;
    const up = f(p);
    p[i] = v - h;
    const down = f(p);
    p[i] = v;
    return (up - down) / (2 * h);
  });
}

// --- float64 references ------------------------------------------------------------------------

interface CeCase {
  batch: number;
  classes: number;
  inner: number;
  labelSmoothing: number;
  ignoreIndex: number;
  reduction: Reduction;
}

/** torch.nn.functional.cross_entropy over logits [N, C, D], straight from its definition. */
function ceReference(z: ArrayLike<number>, labels: Int32Array, c: CeCase): number {
  const { batch, classes, inner, labelSmoothing: eps } = c;
  let total = 0;
  let counted = 0;
  for (let n = 0; n < batch; n++) {
    for (let k = 0; k < inner; k++) {
      const t = labels[n * inner + k]!;
      if (t === c.ignoreIndex) continue;
      counted++;
      const row = Array.from({ length: classes }, (_, j) => z[(n * classes + j) * inner + k]!);
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      const logp = row.map((v) => v - lse);
      total += (1 - eps) * -logp[t]! + (eps / classes) * logp.reduce((s, v) => s - v, 0);
    }
  }
  return c.reduction === 'mean' ? total / counted : total;
}

function pointwiseReference(kind: PointwiseKind, x: ArrayLike<number>, y: ArrayLike<number>, reduction: Reduction, w: (i: number) => number = () => 1): number {
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - y[i]!;
    if (kind === 'mse') total += d * d;
    else if (kind === 'l1') total += Math.abs(d);
    else {
      const p = 1 / (1 + Math.exp(-x[i]!));
      total += -(w(i) * y[i]! * Math.log(p) + (1 - y[i]!) * Math.log(1 - p));
    }
  }
  return reduction === 'mean' ? total / x.length : total;
}

// --- kernels -----------------------------------------------------------------------------------

async function runCrossEntropy(logits: Float32Array, labels: Int32Array, c: CeCase) {
  const rows = c.batch * c.inner;
  const l = crossEntropyLaunch(
    { logits: shape(logits.length), labels: shape(rows), dlogits: shape(logits.length), correct: shape(rows), loss: shape(1) },
    c,
    c,
  );
  const out = await runKernel(cpuBackend(), l.kernel, {
    inputs: { logits, labels },
    outputs: { dlogits: logits.length, correct: rows, loss: 1 },
    params: l.params!,
    overrides: l.overrides!,
    workgroups: l.workgroups,
  });
  return { loss: out.loss![0]!, dlogits: out.dlogits as Float32Array, correct: out.correct as Float32Array };
}

function labelsFor(rows: number, classes: number, seed: number, ignore: number, ignoredEvery: number): Int32Array {
  const next = rng(seed);
  return Int32Array.from({ length: rows }, (_, r) => (ignoredEvery > 0 && r % ignoredEvery === 1 ? ignore : Math.floor(next() * classes)));
}

describe('cross_entropy twin', () => {
  const cases: [string, CeCase, number][] = [
    ['[1, 1]', { batch: 1, classes: 1, inner: 1, labelSmoothing: 0, ignoreIndex: -100, reduction: 'mean' }, 0],
    ['[7, 10]', { batch: 7, classes: 10, inner: 1, labelSmoothing: 0, ignoreIndex: -100, reduction: 'mean' }, 0],
    ['[7, 10] smoothing 0.1', { batch: 7, classes: 10, inner: 1, labelSmoothing: 0.1, ignoreIndex: -100, reduction: 'mean' }, 0],
    ['[33, 3] ignored rows', { batch: 33, classes: 3, inner: 1, labelSmoothing: 0, ignoreIndex: -100, reduction: 'mean' }, 3],
    ['[33, 3] ignoreIndex 0, sum', { batch: 33, classes: 3, inner: 1, labelSmoothing: 0, ignoreIndex: 0, reduction: 'sum' }, 5],
    ['[7, 129] smoothing 0.25, ignored, sum', { batch: 7, classes: 129, inner: 1, labelSmoothing: 0.25, ignoreIndex: -1, reduction: 'sum' }, 2],
    ['[3, 5, 7] smoothing 0.1, ignored', { batch: 3, classes: 5, inner: 7, labelSmoothing: 0.1, ignoreIndex: -100, reduction: 'mean' }, 4],
    ['[300, 2] (more rows than invocations)', { batch: 300, classes: 2, inner: 1, labelSmoothing: 0.2, ignoreIndex: -100, reduction: 'mean' }, 7],
  ];
  it.each(cases)('%s: loss and correct match float64, dlogits match finite differences', async (_name, c, ignoredEvery) => {
    const rows = c.batch * c.inner;
    const logits = randomArray(rows * c.classes, -4, 4, 11);
    const labels = labelsFor(rows, c.classes, 12, c.ignoreIndex, ignoredEvery);
    const got = await runCrossEntropy(logits, labels, c);
    expectAllClose([got.loss], [ceReference(logits, labels, c)], { rtol: 1e-5, label: 'loss' });
    expectAllClose(got.dlogits, numericGradient((z) => ceReference(z, labels, c), logits), { rtol: 1e-4, atol: 1e-7, label: 'dlogits' });
    const correct = Float64Array.from({ length: rows }, (_, r) => {
      const n = Math.floor(r / c.inner);
      const k = r % c.inner;
      const row = Array.from({ length: c.classes }, (_, j) => logits[(n * c.classes + j) * c.inner + k]!);
      return labels[r] !== c.ignoreIndex && row.indexOf(Math.max(...row)) === labels[r] ? 1 : 0;
    });
    expectAllClose(got.correct, correct, { label: 'correct' });
  });

  it('a mean over no counted row is NaN with zero gradients (torch); a sum is 0', async () => {
    const base = { batch: 4, classes: 3, inner: 1, labelSmoothing: 0.1, ignoreIndex: -100 };
    const logits = randomArray(12, -1, 1, 5);
    const labels = new Int32Array(4).fill(-100);
    const mean = await runCrossEntropy(logits, labels, { ...base, reduction: 'mean' });
    expect(mean.loss).toBeNaN();
    expect(Array.from(mean.dlogits)).toEqual(new Array(12).fill(0));
    expect(Array.from(mean.correct)).toEqual([0, 0, 0, 0]);
    const sum = await runCrossEntropy(logits, labels, { ...base, reduction: 'sum' });
    expect(sum.loss).toBe(0);
  });

  it('a label outside [0, C) that is not ignored makes the loss NaN and its row gradient 0', async () => {
    const c: CeCase = { batch: 3, classes: 4, inner: 1, labelSmoothing: 0, ignoreIndex: -100, reduction: 'mean' };
    const got = await runCrossEntropy(randomArray(12, -1, 1, 6), Int32Array.from([1, 4, 2]), c);
    expect(got.loss).toBeNaN();
    expect(Array.from(got.dlogits.subarray(4, 8))).toEqual([0, 0, 0, 0]);
    expect(got.dlogits.subarray(0, 4).some((v) => v !== 0)).toBe(true);
  });

  it('logits of size 1e4 stay finite', async () => {
    const c: CeCase = { batch: 2, classes: 3, inner: 1, labelSmoothing: 0.1, ignoreIndex: -100, reduction: 'mean' };
    const logits = Float32Array.from([1e4, -1e4, 0, -5e3, 5e3, 1e4]);
    const labels = Int32Array.from([1, 2]);
    const got = await runCrossEntropy(logits, labels, c);
    expectAllClose([got.loss], [ceReference(logits, labels, c)], { rtol: 1e-6, label: 'loss' });
    expect(got.dlogits.every(Number.isFinite)).toBe(true);
  });
});

async function runPointwise(kind: PointwiseKind, x: Float32Array, y: Float32Array, reduction: Reduction, posWeights?: Float32Array | number) {
  const n = x.length;
  const pw = posWeights === undefined ? { scalar: 1 } : typeof posWeights === 'number' ? { scalar: posWeights } : { period: posWeights.length };
  const l = pointwiseLossLaunch({ x: shape(n), y: shape(n), pos_weights: shape(typeof posWeights === 'object' ? posWeights.length : 1), dx: shape(n), loss: shape(1) }, n, kind, reduction, pw);
  const out = await runKernel(cpuBackend(), l.kernel, {
    inputs: { x, y, pos_weights: typeof posWeights === 'object' ? posWeights : new Float32Array(1) },
    outputs: { dx: n, loss: 1 },
    params: l.params!,
    overrides: l.overrides!,
    workgroups: l.workgroups,
  });
  return { loss: out.loss![0]!, dx: out.dx as Float32Array };
}

describe('pointwise_loss twin', () => {
  const cases: [PointwiseKind, number, Reduction, Float32Array | number | undefined][] = [
    ['mse', 1, 'mean', undefined],
    ['mse', 33, 'sum', undefined],
    ['l1', 7, 'mean', undefined],
    ['l1', 300, 'sum', undefined],
    ['bce', 1, 'mean', undefined],
    ['bce', 33, 'sum', 2.5],
    ['bce', 35, 'mean', Float32Array.from([0.5, 1, 3, 0.25, 2])],
    ['bce', 300, 'mean', Float32Array.from([4])],
  ];
  it.each(cases)('%s over %i elements, %s, positive weight %s', async (kind, n, reduction, pw) => {
    const x = randomArray(n, -6, 6, 21);
    const y = kind === 'bce' ? randomArray(n, 0, 1, 22) : randomArray(n, -2, 2, 22);
    const w = (i: number) => (pw === undefined ? 1 : typeof pw === 'number' ? pw : pw[i % pw.length]!);
    const got = await runPointwise(kind, x, y, reduction, pw);
    expectAllClose([got.loss], [pointwiseReference(kind, x, y, reduction, w)], { rtol: 1e-5, label: 'loss' });
    expectAllClose(got.dx, numericGradient((v) => pointwiseReference(kind, v, y, reduction, w), x), { rtol: 1e-4, atol: 1e-7, label: 'dx' });
  });

  it('l1: the gradient is 0 where x = y, ±1/n elsewhere', async () => {
    const x = Float32Array.from([1, 2, 3, -1]);
    const got = await runPointwise('l1', x, Float32Array.from([1, 3, 3, -2]), 'mean');
    expect(Array.from(got.dx)).toEqual([0, -0.25, 0, 0.25]);
  });

  it('bce: logits of size 100 give finite losses and gradients', async () => {
    const x = Float32Array.from([100, -100, 50, -50]);
    const y = Float32Array.from([1, 0, 0, 1]);
    const got = await runPointwise('bce', x, y, 'sum');
    expectAllClose([got.loss], [100], { rtol: 1e-6, label: 'loss' });
    expectAllClose(got.dx, [0, 0, 1, -1], { atol: 1e-7, label: 'dx' });
  });
});

describe('gradient kernels for a loss used further', () => {
  it.each([
    [1, 1, 0.5],
    [33, -1, 2],
    [300, 1, null],
  ])('scale_grad over %i elements, factor %i, incoming %s', async (n, factor, gout) => {
    const unit = randomArray(n, -1, 1, 31);
    const l = scaleGradLaunch({ gout: gout === null ? null : shape(1), dummy: shape(1), unit: shape(n), grad: shape(n) }, n, factor);
    const out = await runKernel(cpuBackend(), scaleGrad, {
      inputs: { gout: Float32Array.from([gout ?? 123]), unit },
      outputs: { grad: n },
      params: l.params!,
      overrides: l.overrides!,
      workgroups: l.workgroups,
    });
    expectAllClose(out.grad!, Array.from(unit, (u) => factor * (gout ?? 1) * u), { label: 'grad' });
  });

  it.each([
    [7, 'mean', undefined, 0.5],
    [33, 'sum', 3, null],
    [12, 'mean', Float32Array.from([0.5, 2, 4]), -1.5],
  ] as const)('bce_target_grad over %i elements, %s, positive weight %s, incoming %s', async (n, reduction, pw, gout) => {
    const x = randomArray(n, -5, 5, 41);
    const y = randomArray(n, 0, 1, 42);
    const weights = typeof pw === 'object' ? pw : new Float32Array(1);
    const l = bceTargetGradLaunch(
      { x: shape(n), pos_weights: shape(weights.length), gout: gout === null ? null : shape(1), dummy: shape(1), grad: shape(n) },
      n,
      reduction,
      pw === undefined ? { scalar: 1 } : typeof pw === 'number' ? { scalar: pw } : { period: pw.length },
    );
    const out = await runKernel(cpuBackend(), bceTargetGrad, {
      inputs: { x, pos_weights: weights, gout: Float32Array.from([gout ?? 123]) },
      outputs: { grad: n },
      params: l.params!,
      overrides: l.overrides!,
      workgroups: l.workgroups,
    });
    const w = (i: number) => (pw === undefined ? 1 : typeof pw === 'number' ? pw : pw[i % pw.length]!);
    const numeric = numericGradient((v) => pointwiseReference('bce', x, v, reduction, w), y);
    expectAllClose(out.grad!, Array.from(numeric, (d) => (gout ?? 1) * d), { rtol: 1e-4, atol: 1e-7, label: 'd loss / d target' });
  });
});

// --- ops: torch fixtures, the loss as the root of backward ---------------------------------------

interface Feed {
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
  readonly grad?: boolean;
}

/** Compiles `build` over `feeds` with the loss as the root of backward; returns loss, gradients and extra outputs. */
async function runLoss(
  backend: Backend,
  feeds: readonly Feed[],
  build: (...t: Tensor[]) => { loss: Tensor; extra?: readonly Tensor[] },
): Promise<{ loss: number; grads: (Float32Array | null)[]; extra: Float32Array[]; launches: string[] }> {
  const g = new Graph();
  const params = feeds.map((f, i) => (f.grad ? new Parameter(Float32Array.from(f.data), f.shape, `in${i}`) : null));
  const tensors = feeds.map((f, i) => (params[i] ? g.param(params[i]!) : g.input(`in${i}`, f.shape, f.data instanceof Int32Array ? 'i32' : 'f32')));
  const { loss, extra = [] } = build(...tensors);
  const wrt = tensors.filter((_, i) => params[i]);
  const grads = gradients(g, loss, wrt);
  const made: DeviceBuffer[] = [];
  const buffer = (data: Float32Array | Int32Array): BufferView => {
    const b = backend.createBuffer(Math.max(256, data.byteLength), 'feed');
    backend.write(b, data);
    made.push(b);
    return { buffer: b, offset: 0, length: data.length };
  };
  const bound = new Map<Tensor, BufferView>(tensors.map((t, i) => [t, buffer(feeds[i]!.data)]));
  for (const [b, t] of g.buffers) bound.set(t, buffer(b.data));
  const outputs = [loss, ...extra, ...grads.filter((d): d is Tensor => d !== null)];
  const compiled = compileGraph(backend, { graph: g, bound, outputs, label: 'losses', poison: true });
  const program = backend.compile(compiled.launches, 'losses');
  backend.run(program);
  const read = async (t: Tensor) => {
    const v = compiled.views.get(t) ?? bound.get(t)!;
    return new Float32Array(await backend.read(v.buffer, v.offset * 4, t.numel * 4));
  };
  let k = 0;
  const result = {
    loss: (await read(loss))[0]!,
    grads: await Promise.all(params.map((p) => (p ? (grads[k++] ? read(grads[k - 1]!) : Promise.resolve(null)) : Promise.resolve(null)))),
    extra: await Promise.all(extra.map(read)),
    launches: compiled.launches.map((l) => l.kernel.name),
  };
  program.dispose();
  compiled.dispose();
  for (const b of made) backend.destroyBuffer(b);
  return result;
}

interface FixtureCase {
  name: string;
  loss: 'crossEntropy' | 'binaryCrossEntropyWithLogits' | 'mseLoss' | 'l1Loss';
  options: { labelSmoothing?: number; ignoreIndex?: number; reduction?: Reduction; posWeight?: number | number[] };
  inputShape: number[];
  input: number[];
  target: number[];
  value: number | null;
  gradInput: number[];
  gradTarget?: number[];
}

const cases = (fixture as unknown as { cases: FixtureCase[] }).cases;

/** The fixture's loss through the ops, root of backward; a per-class posWeight comes in as a graph input. */
async function fixtureRun(c: FixtureCase) {
  const x: Feed = { shape: c.inputShape, data: Float32Array.from(c.input), grad: true };
  if (c.loss === 'crossEntropy') {
    const t: Feed = { shape: [c.inputShape[0]!, ...c.inputShape.slice(2)], data: Int32Array.from(c.target) };
    return runLoss(cpuBackend(), [x, t], (a, b) => ({ loss: crossEntropy(a!, b!, c.options) }));
  }
  const y: Feed = { shape: c.inputShape, data: Float32Array.from(c.target), grad: true };
  const { posWeight, reduction } = c.options;
  if (c.loss === 'binaryCrossEntropyWithLogits' && Array.isArray(posWeight)) {
    const w: Feed = { shape: [posWeight.length], data: Float32Array.from(posWeight) };
    return runLoss(cpuBackend(), [x, y, w], (a, b, pw) => ({ loss: binaryCrossEntropyWithLogits(a!, b!, { posWeight: pw!, ...(reduction ? { reduction } : {}) }) }));
  }
  const f = { binaryCrossEntropyWithLogits, mseLoss, l1Loss }[c.loss];
  return runLoss(cpuBackend(), [x, y], (a, b) => ({ loss: f(a!, b!, c.options as { posWeight?: number; reduction?: Reduction }) }));
}

describe('the ops against torch 1.13 (gen_losses.py), loss as the root of backward', () => {
  it('covers every loss, option and the [N, C, d...] case', () => {
    expect(new Set(cases.map((c) => c.loss)).size).toBe(4);
    expect(cases.some((c) => c.inputShape.length > 2 && c.loss === 'crossEntropy')).toBe(true);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const got = await fixtureRun(c);
    if (c.value === null) expect(got.loss).toBeNaN();
    else expectAllClose([got.loss], [c.value], { rtol: 1e-5, atol: 1e-6, label: 'loss' });
    const scale = Math.max(...c.gradInput.map(Math.abs));
    expectAllClose(got.grads[0]!, c.gradInput, { rtol: 1e-5, atol: 1e-6 * scale, label: 'd loss / d input' });
    if (c.gradTarget) expectAllClose(got.grads[1]!, c.gradTarget, { rtol: 1e-5, atol: 1e-6 * scale, label: 'd loss / d target' });
  });

  it('the root case costs one dispatch: the forward writes the gradient', async () => {
    const c = cases.find((k) => k.loss === 'crossEntropy')!;
    expect((await fixtureRun(c)).launches).toEqual(['cross_entropy']);
    const m = cases.find((k) => k.loss === 'mseLoss')!;
    // The target's gradient, −dx, is one more pass.
    expect((await fixtureRun(m)).launches).toEqual(['pointwise_loss', 'scale_grad']);
  });
});

// --- ops: finite differences with the loss used further ------------------------------------------

describe('gradients by finite differences, the loss feeding a further loss', () => {
  const ceLabels = Int32Array.from([2, -100, 0, 1, 3, -100, 1]);
  it.each([
    ['defaults', {}],
    ['labelSmoothing 0.2', { labelSmoothing: 0.2 }],
    ['ignored rows', { ignoreIndex: -100 }],
    ['sum', { reduction: 'sum' as const }],
    ['smoothing 0.1, ignored rows, sum', { labelSmoothing: 0.1, reduction: 'sum' as const }],
  ])('crossEntropy [7, 4], %s', async (_name, options) => {
    await expectGradientsMatch((x, t) => crossEntropy(x!, t!, options), [{ shape: [7, 4], lo: -2, hi: 2 }, { shape: [7], dtype: 'i32', data: ceLabels }], { seed: 3 });
  });

  it('crossEntropy [2, 3, 4] with smoothing and an ignored index', async () => {
    const labels = Int32Array.from([0, 2, 1, 1, 1, 0, 2, 0]);
    await expectGradientsMatch((x, t) => crossEntropy(x!, t!, { labelSmoothing: 0.15, ignoreIndex: 1 }), [{ shape: [2, 3, 4] }, { shape: [2, 4], dtype: 'i32', data: labels }], { seed: 4 });
  });

  it.each([
    ['mean', 'mse'],
    ['sum', 'mse'],
    ['mean', 'l1'],
    ['sum', 'l1'],
  ] as const)('%s %s loss, with respect to input and target', async (reduction, kind) => {
    const f = kind === 'mse' ? mseLoss : l1Loss;
    // |x − y| >= 0.1 everywhere, both signs: the differences step by 0.01 and must not cross L1's kink.
    const x = randomArray(15, -1, 1, 51);
    const next = rng(52);
    const y = x.map((v, i) => v + (i % 2 ? 1 : -1) * (0.1 + 0.4 * next()));
    await expectGradientsMatch((a, b) => f(a!, b!, { reduction }), [{ shape: [3, 5], data: x }, { shape: [3, 5], data: y }], { seed: 5 });
  });

  it.each([
    ['mean', 1],
    ['sum', 1],
    ['mean', 2.5],
    ['sum', 0.5],
  ] as const)('binaryCrossEntropyWithLogits, %s, posWeight %d, with respect to input and target', async (reduction, posWeight) => {
    await expectGradientsMatch((x, y) => binaryCrossEntropyWithLogits(x!, y!, { posWeight, reduction }), [{ shape: [4, 3], lo: -3, hi: 3 }, { shape: [4, 3], lo: 0, hi: 1 }], { seed: 6 });
  });

  it.each([
    ['[3]', [3]],
    ['[1]', [1]],
  ])('binaryCrossEntropyWithLogits with a posWeight tensor %s', async (_name, wShape) => {
    await expectGradientsMatch(
      (x, y, w) => binaryCrossEntropyWithLogits(x!, y!, { posWeight: w! }),
      [{ shape: [4, 3], lo: -3, hi: 3 }, { shape: [4, 3], lo: 0, hi: 1 }, { shape: wShape, lo: 0.5, hi: 3, grad: false }],
      { seed: 7 },
    );
  });

  it('two losses summed: each gets the incoming gradient', async () => {
    const labels = Int32Array.from([1, 0, 2]);
    await expectGradientsMatch(
      (x, t, y) => crossEntropy(x!, t!, { labelSmoothing: 0.1 }).add(mseLoss(x!, y!).mul(0.5)),
      [{ shape: [3, 3] }, { shape: [3], dtype: 'i32', data: labels }, { shape: [3, 3], grad: false }],
      { seed: 8 },
    );
  });
});

describe('op validation', () => {
  const g = new Graph();
  const x = g.input('x', [4, 3]);
  const t = g.input('t', [4], 'i32');
  it('names the option and the value', () => {
    expect(() => crossEntropy(x, t, { labelSmoothing: 1.5 })).toThrow(/labelSmoothing must be a number in \[0, 1\], got 1.5/);
    expect(() => crossEntropy(x, t, { ignoreIndex: 0.5 })).toThrow(/ignoreIndex must be a 32-bit integer, got 0.5/);
    expect(() => crossEntropy(x, t, { reduction: 'none' as Reduction })).toThrow(/reduction must be 'mean' or 'sum', got "none"/);
    expect(() => mseLoss(x, x, { reduction: 'avg' as Reduction })).toThrow(/mseLoss: reduction must be 'mean' or 'sum', got "avg"/);
    expect(() => binaryCrossEntropyWithLogits(x, x, { posWeight: NaN })).toThrow(/posWeight must be a finite number or a tensor, got NaN/);
  });
  it('names the shapes', () => {
    expect(() => crossEntropy(x, g.input('t2', [3], 'i32'))).toThrow(/int32 class indices \[4\] for logits \[4, 3\], got i32 \[3\]/);
    expect(() => crossEntropy(x, g.input('t3', [4]))).toThrow(/got f32 \[4\]/);
    expect(() => crossEntropy(g.input('v', [5]), t)).toThrow(/logits \[N, C\] or \[N, C, d1, \.\.\.\], got f32 \[5\]/);
    expect(() => l1Loss(x, g.input('y', [3, 4]))).toThrow(/l1_loss expects f32 input and target of one shape, got f32 \[4, 3\] and f32 \[3, 4\]/);
    expect(() => binaryCrossEntropyWithLogits(x, x, { posWeight: g.input('w', [4]) })).toThrow(/pos_weight f32 \[3\] or \[1\] for input \[4, 3\], got f32 \[4\]/);
  });
  it('refuses a gradient with respect to posWeight', () => {
    const h = new Graph();
    const w = h.param(new Parameter(Float32Array.from([1, 2, 3]), [3], 'w'));
    const a = h.param(new Parameter(new Float32Array(12), [4, 3], 'a'));
    const loss = binaryCrossEntropyWithLogits(a, h.input('y', [4, 3]), { posWeight: w });
    expect(() => gradients(h, loss, [a, w])).toThrow(/no gradient with respect to pos_weight/);
  });
});

// --- loss classes ------------------------------------------------------------------------------

async function applyLoss(loss: Loss, x: Feed, y: Feed) {
  return runLoss(cpuBackend(), [x, y], (a, b) => {
    const out = loss.apply(a!, b!);
    return { loss: out.loss, extra: out.correct ? [out.correct] : [] };
  });
}

describe('loss classes', () => {
  it('CrossEntropyLoss() gives bit for bit what the previous fused op gave', async () => {
    for (const [n, c] of [[1, 1], [7, 10], [33, 3], [300, 129]] as const) {
      const x: Feed = { shape: [n, c], data: randomArray(n * c, -5, 5, n + c), grad: true };
      const y: Feed = { shape: [n], data: labelsFor(n, c, n * c, -100, 0) };
      const now = await applyLoss(new CrossEntropyLoss(), x, y);
      const before = await runLoss(cpuBackend(), [x, y], (a, b) => {
        const [loss, , correct] = a!.graph.apply(SOFTMAX_CROSS_ENTROPY, [a!, b!], {}, 'before');
        return { loss: loss!, extra: [correct!] };
      });
      expect(now.launches).toEqual(['cross_entropy']);
      expect(now.loss).toBe(before.loss);
      expect(Array.from(now.grads[0]!)).toEqual(Array.from(before.grads[0]!));
      expect(Array.from(now.extra[0]!)).toEqual(Array.from(before.extra[0]!));
    }
  });

  it('CrossEntropyLoss options reach the op (fixture values)', async () => {
    for (const name of ['ce [9, 5] smoothing 0.3, ignored, mean', 'ce [7, 4] ignoreIndex 2 (a class)', 'ce [9, 5] smoothing 0.2, ignored, sum']) {
      const c = cases.find((k) => k.name === name)!;
      const got = await applyLoss(
        new CrossEntropyLoss(c.options),
        { shape: c.inputShape, data: Float32Array.from(c.input), grad: true },
        { shape: [c.inputShape[0]!], data: Int32Array.from(c.target) },
      );
      expectAllClose([got.loss], [c.value!], { rtol: 1e-5, label: name });
      expectAllClose(got.grads[0]!, c.gradInput, { rtol: 1e-5, atol: 1e-7, label: name });
      const ignore = c.options.ignoreIndex ?? -100;
      c.target.forEach((t, r) => {
        if (t === ignore) expect(got.extra[0]![r], `correct[${r}] of an ignored row`).toBe(0);
      });
    }
  });

  it('BCEWithLogitsLoss with a number, an array of per-class weights, and sum', async () => {
    for (const name of ['bce [6, 3] posWeight 2.5', 'bce [6, 3] posWeight [3]', 'bce [5, 4] posWeight [4], sum', 'bce [6, 3]']) {
      const c = cases.find((k) => k.name === name)!;
      const loss = new BCEWithLogitsLoss(c.options as { posWeight?: number | number[]; reduction?: Reduction });
      expect(loss.targets).toBe('value');
      expect(loss.buffers.length).toBe(Array.isArray(c.options.posWeight) ? 1 : 0);
      const got = await applyLoss(loss, { shape: c.inputShape, data: Float32Array.from(c.input), grad: true }, { shape: c.inputShape, data: Float32Array.from(c.target) });
      expectAllClose([got.loss], [c.value!], { rtol: 1e-5, label: name });
      expectAllClose(got.grads[0]!, c.gradInput, { rtol: 1e-5, atol: 1e-7, label: name });
      expect(got.extra).toEqual([]);
    }
  });

  it('L1Loss and MSELoss against the fixtures', async () => {
    for (const [name, loss] of [
      ['l1 [4, 5] with ties', new L1Loss()],
      ['l1 [4, 5] sum with ties', new L1Loss({ reduction: 'sum' })],
      ['mse [4, 5]', new MSELoss()],
    ] as const) {
      const c = cases.find((k) => k.name === name)!;
      const got = await applyLoss(loss, { shape: c.inputShape, data: Float32Array.from(c.input), grad: true }, { shape: c.inputShape, data: Float32Array.from(c.target) });
      expectAllClose([got.loss], [c.value!], { rtol: 1e-5, label: name });
      expectAllClose(got.grads[0]!, c.gradInput, { rtol: 1e-5, atol: 1e-7, label: name });
    }
  });

  it('validates options, naming the class, the option and the value', () => {
    expect(() => new CrossEntropyLoss({ labelSmoothing: -0.1 })).toThrow(/CrossEntropyLoss: labelSmoothing must be a number in \[0, 1\], got -0.1/);
    expect(() => new CrossEntropyLoss({ ignoreIndex: 2 ** 31 })).toThrow(/CrossEntropyLoss: ignoreIndex must be a 32-bit integer, got 2147483648/);
    expect(() => new CrossEntropyLoss({ reduction: 'none' as Reduction })).toThrow(/CrossEntropyLoss: reduction must be 'mean' or 'sum', got "none"/);
    expect(() => new BCEWithLogitsLoss({ posWeight: Infinity })).toThrow(/BCEWithLogitsLoss: posWeight must be a finite number or an array of them, got Infinity/);
    expect(() => new BCEWithLogitsLoss({ posWeight: [1, NaN] })).toThrow(/BCEWithLogitsLoss: posWeight must hold one finite number per class, got \[1, NaN\]/);
    expect(() => new BCEWithLogitsLoss({ posWeight: [] })).toThrow(/posWeight must hold one finite number per class, got \[\]/);
    expect(() => new L1Loss({ reduction: 'max' as Reduction })).toThrow(/L1Loss: reduction must be 'mean' or 'sum', got "max"/);
  });

  it('a per-class posWeight of the wrong length names the shapes', () => {
    const g = new Graph();
    const loss = new BCEWithLogitsLoss({ posWeight: [1, 2] });
    expect(() => loss.apply(g.input('x', [4, 3]), g.input('y', [4, 3]))).toThrow(/BCEWithLogitsLoss.*pos_weight f32 \[3\] or \[1\] for input \[4, 3\], got f32 \[2\]/);
  });
});
