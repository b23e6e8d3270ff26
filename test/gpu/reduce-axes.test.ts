import { describe, expect, it } from 'vitest';
import type { BufferView, Launch, TypedArray } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { argmax, logSoftmax, max, mean, min, softmax, sum, variance } from '../../src/graph/ops/reduce.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { argmaxLaunch, type GradMode, type ReduceOp, reduceGradLaunch, reduceLaunch, reducePlan } from '../../src/kernels/reduce-axes.js';
import { softmaxGradLaunch, softmaxLaunch } from '../../src/kernels/softmax.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, runKernel } from '../harness.js';
import { expectBackendsAgree } from '../op-check.js';

const fake = (n: number): BufferView => view({ id: 0, byteLength: Math.max(n, 1) * 4, label: 'fake' }, 0, Math.max(n, 1));

/** Runs `launch` on both backends over the same inputs (outputs poisoned first by runKernel). */
async function both(launch: Launch, inputs: Record<string, TypedArray>, outputs: Record<string, number>) {
  const run = { inputs, outputs, params: launch.params!, overrides: launch.overrides!, workgroups: launch.workgroups };
  const gpu = await runKernel(await gpuBackend(), launch.kernel, run);
  const cpu = await runKernel(cpuBackend(), launch.kernel, run);
  return { gpu, cpu };
}

/** Output counts 1, 7, 33, 129 and reductions of 1, 7, 33, 129 and ≥ 5000 elements into one. */
const LAYOUTS: [string, number[], number[]][] = [
  ['[1] into 1', [1], [0]],
  ['[7, 33] over dim 1', [7, 33], [1]],
  ['[33, 7] over dim 0', [33, 7], [0]],
  ['[3, 129, 7] over the middle dim', [3, 129, 7], [1]],
  ['[7, 3, 33] over dims 0 and 2', [7, 3, 33], [0, 2]],
  ['[129, 2] over dim 1', [129, 2], [1]],
  ['[5003] into 1', [5003], [0]],
  ['[2, 71, 73] into 1', [2, 71, 73], [0, 1, 2]],
  ['[5001, 2] over dim 0', [5001, 2], [0]],
];

/** Few distinct values (multiples of 1/4 in [-2, 2)), so maxima tie. */
function coarse(n: number): Float32Array {
  return Float32Array.from(randomArray(n, -2, 2), (v) => Math.floor(v * 4) / 4);
}

describe('reduce_axes matches its twin', () => {
  it.each(LAYOUTS)('%s', async (_name, shape, dims) => {
    const plan = reducePlan(shape, dims);
    const x = coarse(plan.nIn);
    const tol = { rtol: 1e-5, atol: 1e-6 * Math.sqrt(plan.nRed) * 4 };
    const results: Partial<Record<ReduceOp, TypedArray>> = {};
    for (const op of ['sum', 'max', 'min'] as const) {
      const launch = reduceLaunch(op, { x: fake(plan.nIn), anchor: fake(1), out: fake(plan.nOut) }, shape, dims, op === 'sum' ? 1 / plan.nRed : 1);
      const { gpu, cpu } = await both(launch, { x, anchor: new Float32Array(1) }, { out: plan.nOut });
      expectAllClose(gpu.out!, cpu.out!, { ...tol, label: op });
      results[op] = cpu.out!;
    }
    for (const [op, anchor] of [['sqDev', results.sum!], ['countEq', results.max!]] as const) {
      const launch = reduceLaunch(op, { x: fake(plan.nIn), anchor: fake(plan.nOut), out: fake(plan.nOut) }, shape, dims, 1);
      const { gpu, cpu } = await both(launch, { x, anchor: Float32Array.from(anchor) }, { out: plan.nOut });
      expectAllClose(gpu.out!, cpu.out!, { rtol: 1e-5, atol: 1e-5, label: op });
    }
    const arg = argmaxLaunch({ x: fake(plan.nIn), index: fake(plan.nOut) }, shape, dims);
    const { gpu, cpu } = await both(arg, { x }, { index: plan.nOut });
    expect(Array.from(gpu.index!)).toEqual(Array.from(cpu.index!));
  });

  it('gives the same sums with one invocation per output (lanes = 1) on a long reduction', async () => {
    const x = randomArray(5000);
    const launch = reduceLaunch('sum', { x: fake(5000), anchor: fake(1), out: fake(1) }, [5000], [0], 1, undefined, 1);
    const { gpu, cpu } = await both(launch, { x, anchor: new Float32Array(1) }, { out: 1 });
    expectAllClose(gpu.out!, cpu.out!, { rtol: 1e-6, atol: 1e-5 });
  });
});

describe('reduce_grad matches its twin', () => {
  it.each(LAYOUTS.filter(([name]) => !name.startsWith('[5001')))('%s', async (_name, shape, dims) => {
    const plan = reducePlan(shape, dims);
    const x = coarse(plan.nIn);
    const dy = randomArray(plan.nOut);
    const y = Float32Array.from({ length: plan.nOut }, (_, o) => x[o % plan.nIn]!);
    const count = Float32Array.from({ length: plan.nOut }, (_, o) => 1 + (o % 3));
    for (const mode of ['broadcast', 'tie', 'deviation'] as GradMode[]) {
      for (const unit of [false, true]) {
        const launch = reduceGradLaunch(
          mode,
          { dy: fake(plan.nOut), x: fake(plan.nIn), y: fake(plan.nOut), count: fake(plan.nOut), dx: fake(plan.nIn) },
          shape,
          dims,
          { scale: 0.375, unit },
        );
        const { gpu, cpu } = await both(launch, { dy, x, y, count }, { dx: plan.nIn });
        expectAllClose(gpu.dx!, cpu.dx!, { rtol: 1e-6, atol: 1e-7, label: `${mode}${unit ? ' (unit)' : ''}` });
      }
    }
  });
});

describe('softmax kernels match their twins', () => {
  it.each([
    [[1], 0],
    [[7, 33], 1],
    [[33, 7], 0],
    [[3, 129, 7], 1],
    [[129, 5], -1],
    [[2, 5003], 1],
    [[5001, 1], 0],
  ] as [number[], number][])('shape %j along dim %i', async (shape, dimArg) => {
    const dim = dimArg < 0 ? dimArg + shape.length : dimArg;
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomArray(n, -8, 8);
    const dy = randomArray(n);
    for (const log of [false, true]) {
      const fwd = softmaxLaunch({ x: fake(n), out: fake(n) }, shape, dim, log);
      const f = await both(fwd, { x }, { out: n });
      expectAllClose(f.gpu.out!, f.cpu.out!, { rtol: 1e-5, atol: 1e-6, label: log ? 'logSoftmax' : 'softmax' });
      const back = softmaxGradLaunch({ dy: fake(n), y: fake(n), dx: fake(n) }, shape, dim, log);
      const b = await both(back, { dy, y: f.cpu.out! }, { dx: n });
      expectAllClose(b.gpu.dx!, b.cpu.dx!, { rtol: 1e-4, atol: 1e-5, label: log ? 'logSoftmax grad' : 'softmax grad' });
    }
  });
});

describe('ops agree between WebGPU and the CPU twins', () => {
  const ops: [string, (t: Tensor) => Tensor, number[]][] = [
    ['sum over dim 1', (t) => sum(t, 1), [7, 33]],
    ['sum of everything', (t) => sum(t), [5003]],
    ['mean over dims 0 and 2, keepdim', (t) => mean(t, [0, 2], true), [7, 3, 33]],
    ['max over dim 0', (t) => max(t, 0), [33, 7]],
    ['max of everything', (t) => max(t), [71, 73]],
    ['min over the last dim', (t) => min(t, -1, true), [129, 5]],
    ['variance unbiased over dim 1', (t) => variance(t, 1), [7, 129]],
    ['variance biased of everything', (t) => variance(t, undefined, { unbiased: false }), [5003]],
    ['softmax over the middle dim', (t) => softmax(t, 1), [3, 33, 7]],
    ['logSoftmax over the last dim', (t) => logSoftmax(t, -1), [7, 129]],
    ['logSoftmax over a long row', (t) => logSoftmax(t, 0), [5003]],
  ];
  it.each(ops)('%s', async (_name, fn, shape) => {
    await expectBackendsAgree(await gpuBackend(), fn, [{ shape }], { rtol: 1e-4, atol: 1e-5 });
  });

  it('argmax along a dim and over the flattened tensor', async () => {
    await expectBackendsAgree(await gpuBackend(), (t) => [argmax(t, 1), argmax(t, undefined, true)], [{ shape: [7, 129], grad: false }]);
  });
});
