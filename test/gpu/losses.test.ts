/**
 * Losses on WebGPU: every kernel of shaders/losses.wgsl against its CPU twin with poisoned
 * outputs at awkward sizes, each op through the compiled graph against the CPU backend, and
 * CrossEntropyLoss() bit for bit against the fused op it replaced.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { BufferView, DeviceBuffer, KernelSpec, Launch, TypedArray } from '../../src/backend/kernel.js';
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
  type PositiveWeight,
  type Reduction,
  scaleGrad,
  scaleGradLaunch,
} from '../../src/kernels/losses.js';
import { CrossEntropyLoss } from '../../src/nn/loss.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, rng, runKernel } from '../harness.js';
import { expectBackendsAgree } from '../op-check.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

/** The launch on the GPU and on the twin, from the same inputs, outputs poisoned first. */
async function bothBackends(l: Launch, inputs: Record<string, TypedArray>, outputs: Record<string, number>, kernel: KernelSpec = l.kernel) {
  const run = { inputs, outputs, params: l.params!, overrides: l.overrides ?? {}, workgroups: l.workgroups };
  return { gpu: await runKernel(await gpuBackend(), kernel, run), cpu: await runKernel(cpuBackend(), kernel, run) };
}

function labels(rows: number, classes: number, ignore: number, ignoredEvery: number, seed: number): Int32Array {
  const next = rng(seed);
  return Int32Array.from({ length: rows }, (_, r) => (ignoredEvery > 0 && r % ignoredEvery === 0 ? ignore : Math.floor(next() * classes)));
}

describe('cross_entropy kernel', () => {
  const settings: [string, { labelSmoothing: number; ignoreIndex: number; reduction: Reduction }, number][] = [
    ['defaults', { labelSmoothing: 0, ignoreIndex: -100, reduction: 'mean' }, 0],
    ['smoothing 0.1, ignored rows, sum', { labelSmoothing: 0.1, ignoreIndex: -100, reduction: 'sum' }, 3],
    ['smoothing 0.2, ignoreIndex 1, mean', { labelSmoothing: 0.2, ignoreIndex: 1, reduction: 'mean' }, 4],
  ];
  const cases = [1, 7, 33].flatMap((n) => [2, 10, 129].flatMap((c) => settings.map(([name, s, every]) => [n, c, name, s, every] as const)));

  it.each(cases)('N=%i, C=%i, %s', async (n, c, _name, s, every) => {
    const l = crossEntropyLaunch(
      { logits: shape(n * c), labels: shape(n), dlogits: shape(n * c), correct: shape(n), loss: shape(1) },
      { batch: n, classes: c, inner: 1 },
      s,
    );
    const { gpu, cpu } = await bothBackends(l, { logits: randomArray(n * c, -5, 5, n * c), labels: labels(n, c, s.ignoreIndex, every, n + c) }, { dlogits: n * c, correct: n, loss: 1 });
    expectAllClose(gpu.loss!, cpu.loss!, { rtol: 1e-5, label: 'loss' });
    expectAllClose(gpu.dlogits!, cpu.dlogits!, { rtol: 1e-5, atol: 1e-7, label: 'dlogits' });
    expectAllClose(gpu.correct!, cpu.correct!, { rtol: 0, atol: 0, label: 'correct' });
  });

  it.each([
    [2, 3, 5],
    [7, 10, 33],
    [1, 129, 2],
  ])('[N, C, D] = [%i, %i, %i] with ignored positions', async (n, c, d) => {
    const s = { labelSmoothing: 0.1, ignoreIndex: -100, reduction: 'mean' as const };
    const l = crossEntropyLaunch(
      { logits: shape(n * c * d), labels: shape(n * d), dlogits: shape(n * c * d), correct: shape(n * d), loss: shape(1) },
      { batch: n, classes: c, inner: d },
      s,
    );
    const { gpu, cpu } = await bothBackends(l, { logits: randomArray(n * c * d, -3, 3, 9), labels: labels(n * d, c, -100, 4, 10) }, { dlogits: n * c * d, correct: n * d, loss: 1 });
    expectAllClose(gpu.loss!, cpu.loss!, { rtol: 1e-5, label: 'loss' });
    expectAllClose(gpu.dlogits!, cpu.dlogits!, { rtol: 1e-5, atol: 1e-7, label: 'dlogits' });
    expectAllClose(gpu.correct!, cpu.correct!, { rtol: 0, atol: 0, label: 'correct' });
  });

  it('every row ignored: NaN for a mean, as on the twin; out-of-range labels: NaN', async () => {
    for (const [lab, reduction] of [[Int32Array.from([-100, -100, -100]), 'mean'], [Int32Array.from([0, 7, 1]), 'sum']] as const) {
      const l = crossEntropyLaunch(
        { logits: shape(6), labels: shape(3), dlogits: shape(6), correct: shape(3), loss: shape(1) },
        { batch: 3, classes: 2, inner: 1 },
        { labelSmoothing: 0, ignoreIndex: -100, reduction },
      );
      const { gpu, cpu } = await bothBackends(l, { logits: randomArray(6, -1, 1, 3), labels: lab }, { dlogits: 6, correct: 3, loss: 1 });
      expect(gpu.loss![0]).toBeNaN();
      expect(cpu.loss![0]).toBeNaN();
      expectAllClose(gpu.dlogits!, cpu.dlogits!, { rtol: 1e-5, atol: 1e-7, label: 'dlogits' });
    }
  });
});

describe('pointwise_loss kernel', () => {
  const weights: [string, Float32Array | number | undefined][] = [
    ['none', undefined],
    ['2.5', 2.5],
    ['per class', Float32Array.from([0.5, 2, 3])],
  ];
  const cases = (['mse', 'l1', 'bce'] as PointwiseKind[]).flatMap((kind) =>
    [1, 7, 33, 300].flatMap((n) =>
      (['mean', 'sum'] as Reduction[]).flatMap((reduction) => (kind === 'bce' ? weights : weights.slice(0, 1)).map(([wName, w]) => [kind, n, reduction, wName, w] as const)),
    ),
  );
  it.each(cases)('%s, n=%i, %s, positive weight %s', async (kind, n, reduction, _wName, w) => {
    const pw: PositiveWeight = w === undefined ? { scalar: 1 } : typeof w === 'number' ? { scalar: w } : { period: w.length };
    const weightsData = typeof w === 'object' ? w : new Float32Array(1);
    const l = pointwiseLossLaunch({ x: shape(n), y: shape(n), pos_weights: shape(weightsData.length), dx: shape(n), loss: shape(1) }, n, kind, reduction, pw);
    const x = randomArray(n, -8, 8, n);
    const y = kind === 'bce' ? randomArray(n, 0, 1, n + 1) : randomArray(n, -8, 8, n + 1);
    if (kind === 'l1') y[0] = x[0]!;
    const { gpu, cpu } = await bothBackends(l, { x, y, pos_weights: weightsData }, { dx: n, loss: 1 });
    expectAllClose(gpu.loss!, cpu.loss!, { rtol: 1e-5, label: 'loss' });
    expectAllClose(gpu.dx!, cpu.dx!, { rtol: 1e-5, atol: 1e-7, label: 'dx' });
  });
});

describe('gradient kernels', () => {
  it.each([1, 7, 33, 300])('scale_grad over %i elements, with and without an incoming gradient', async (n) => {
    for (const gout of [null, -0.75]) {
      const l = scaleGradLaunch({ gout: gout === null ? null : shape(1), dummy: shape(1), unit: shape(n), grad: shape(n) }, n, -1);
      const { gpu, cpu } = await bothBackends(l, { gout: Float32Array.from([gout ?? 5]), unit: randomArray(n, -1, 1, n) }, { grad: n }, scaleGrad);
      expectAllClose(gpu.grad!, cpu.grad!, { rtol: 0, atol: 0, label: 'grad' });
    }
  });

  it.each([1, 7, 33, 300])('bce_target_grad over %i elements', async (n) => {
    for (const [reduction, pw, gout] of [
      ['mean', { scalar: 1 }, null],
      ['sum', { scalar: 3 }, 0.5],
      ['mean', { period: 3 }, -2],
    ] as const) {
      const l = bceTargetGradLaunch(
        { x: shape(n), pos_weights: shape(3), gout: gout === null ? null : shape(1), dummy: shape(1), grad: shape(n) },
        n,
        reduction,
        pw,
      );
      const inputs = { x: randomArray(n, -8, 8, n), pos_weights: Float32Array.from([0.5, 2, 4]), gout: Float32Array.from([gout ?? 5]) };
      const { gpu, cpu } = await bothBackends(l, inputs, { grad: n }, bceTargetGrad);
      expectAllClose(gpu.grad!, cpu.grad!, { rtol: 1e-5, atol: 1e-7, label: `grad (${reduction}, ${JSON.stringify(pw)})` });
    }
  });
});

describe('ops: the GPU agrees with the CPU twins, the loss feeding a further loss', () => {
  const gpu = () => gpuBackend();
  it.each([
    [7, 10, {}],
    [33, 2, { labelSmoothing: 0.1, reduction: 'sum' as const }],
    [1, 129, { labelSmoothing: 0.2 }],
  ])('crossEntropy [%i, %i] %j, targets of -1 ignored', async (n, c, options) => {
    const ignoring = { ...options, ignoreIndex: -1 };
    await expectBackendsAgree(await gpu(), (x, t) => crossEntropy(x!, t!, ignoring), [{ shape: [n, c], lo: -4, hi: 4 }, { shape: [n], dtype: 'i32', lo: -1, hi: c }], {
      seed: n + c,
    });
  });

  it('crossEntropy [3, 4, 5] with an ignored class', async () => {
    await expectBackendsAgree(await gpu(), (x, t) => crossEntropy(x!, t!, { ignoreIndex: 0, labelSmoothing: 0.05 }), [{ shape: [3, 4, 5] }, { shape: [3, 5], dtype: 'i32', lo: 0, hi: 4 }], { seed: 2 });
  });

  it.each([
    ['mse', 33],
    ['l1', 7],
  ] as const)('%s loss over [%i, 3], input and target gradients', async (kind, n) => {
    const f = kind === 'mse' ? mseLoss : l1Loss;
    await expectBackendsAgree(await gpu(), (x, y) => f(x!, y!, { reduction: 'sum' }), [{ shape: [n, 3] }, { shape: [n, 3] }], { seed: 3 });
  });

  it('binaryCrossEntropyWithLogits with a scalar and a tensor positive weight', async () => {
    await expectBackendsAgree(await gpu(), (x, y) => binaryCrossEntropyWithLogits(x!, y!, { posWeight: 2 }), [{ shape: [33, 3], lo: -6, hi: 6 }, { shape: [33, 3], lo: 0, hi: 1 }], { seed: 4 });
    await expectBackendsAgree(
      await gpu(),
      (x, y, w) => binaryCrossEntropyWithLogits(x!, y!, { posWeight: w!, reduction: 'sum' }),
      [{ shape: [7, 3], lo: -6, hi: 6 }, { shape: [7, 3], lo: 0, hi: 1 }, { shape: [3], lo: 0.5, hi: 3, grad: false }],
      { seed: 5 },
    );
  });
});

/** Loss, logits gradient and correctness of `build`, the loss as the root of backward. */
async function rootRun(backend: Backend, logits: Float32Array, target: Int32Array, n: number, c: number, build: (x: Tensor, t: Tensor) => [Tensor, Tensor]) {
  const g = new Graph();
  const p = new Parameter(Float32Array.from(logits), [n, c], 'logits');
  const x = g.param(p);
  const t = g.input('t', [n], 'i32');
  const [loss, correct] = build(x, t);
  const [grad] = gradients(g, loss, [x]);
  const made: DeviceBuffer[] = [];
  const buffer = (data: Float32Array | Int32Array): BufferView => {
    const b = backend.createBuffer(Math.max(256, data.byteLength), 'feed');
    backend.write(b, data);
    made.push(b);
    return { buffer: b, offset: 0, length: data.length };
  };
  const bound = new Map<Tensor, BufferView>([
    [x, buffer(logits)],
    [t, buffer(target)],
  ]);
  const compiled = compileGraph(backend, { graph: g, bound, outputs: [loss, correct, grad!], label: 'root', poison: true });
  const program = backend.compile(compiled.launches, 'root');
  backend.run(program);
  const read = async (v: Tensor) => {
    const at = compiled.views.get(v)!;
    return new Float32Array(await backend.read(at.buffer, at.offset * 4, v.numel * 4));
  };
  const out = { loss: await read(loss), correct: await read(correct), grad: await read(grad!) };
  program.dispose();
  compiled.dispose();
  for (const b of made) backend.destroyBuffer(b);
  return out;
}

describe('CrossEntropyLoss() on the GPU', () => {
  it.each([
    [1, 2],
    [7, 10],
    [33, 129],
  ])('N=%i, C=%i: bit for bit what the previous fused op gave', async (n, c) => {
    const backend = await gpuBackend();
    const logits = randomArray(n * c, -5, 5, 7 * n + c);
    const target = labels(n, c, -100, 0, n * c);
    const now = await rootRun(backend, logits, target, n, c, (x, t) => {
      const { loss, correct } = new CrossEntropyLoss().apply(x, t);
      return [loss, correct!];
    });
    const before = await rootRun(backend, logits, target, n, c, (x, t) => {
      const [loss, , correct] = x.graph.apply(SOFTMAX_CROSS_ENTROPY, [x, t], {}, 'before');
      return [loss!, correct!];
    });
    expect(Array.from(now.loss)).toEqual(Array.from(before.loss));
    expect(Array.from(now.grad)).toEqual(Array.from(before.grad));
    expect(Array.from(now.correct)).toEqual(Array.from(before.correct));
  });
});
