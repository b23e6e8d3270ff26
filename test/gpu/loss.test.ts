import { describe, it } from 'vitest';
import type { BufferView } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { mseLaunch, softmaxXentLaunch } from '../../src/kernels/loss.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, rng, runKernel } from '../harness.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

function randomLabels(rows: number, cols: number, seed = (Math.random() * 2 ** 31) | 0): Int32Array {
  const next = rng(seed);
  return Int32Array.from({ length: rows }, () => Math.floor(next() * cols));
}

const BATCHES = [1, 7, 33, 129];
const CLASSES = [1, 3, 10, 129];

describe('softmax_xent', () => {
  const cases = BATCHES.flatMap((rows) => CLASSES.map((cols) => [rows, cols] as const));

  async function compare(rows: number, cols: number, overrides: Record<string, number> = {}): Promise<void> {
    const launch = softmaxXentLaunch(
      { logits: shape(rows * cols), labels: shape(rows), dlogits: shape(rows * cols), correct: shape(rows), loss: shape(1) },
      rows,
      cols,
    );
    const run = {
      inputs: { logits: randomArray(rows * cols, -5, 5), labels: randomLabels(rows, cols) },
      outputs: { dlogits: rows * cols, correct: rows, loss: 1 },
      params: launch.params!,
      overrides,
      workgroups: launch.workgroups,
    };
    const gpu = await runKernel(await gpuBackend(), launch.kernel, run);
    const cpu = await runKernel(cpuBackend(), launch.kernel, run);
    expectAllClose(gpu.loss!, cpu.loss!, { label: 'loss' });
    expectAllClose(gpu.dlogits!, cpu.dlogits!, { label: 'dlogits' });
    expectAllClose(gpu.correct!, cpu.correct!, { rtol: 0, atol: 0, label: 'correct' });
  }

  it.each(cases)('matches the CPU twin for B=%i, C=%i', async (rows, cols) => {
    await compare(rows, cols);
  });

  it('strides over more rows than invocations (B=129, C=10, wg=32)', async () => {
    await compare(129, 10, { wg: 32 });
  });

  it('stays finite with logits of 1e4', async () => {
    const launch = softmaxXentLaunch(
      { logits: shape(9), labels: shape(3), dlogits: shape(9), correct: shape(3), loss: shape(1) },
      3,
      3,
    );
    const run = {
      inputs: { logits: Float32Array.of(1e4, -1e4, 0, 1e4, 1e4, 1e4, -1e4, 0, 5e3), labels: Int32Array.of(1, 2, 0) },
      outputs: { dlogits: 9, correct: 3, loss: 1 },
      params: launch.params!,
      workgroups: launch.workgroups,
    };
    const gpu = await runKernel(await gpuBackend(), launch.kernel, run);
    const cpu = await runKernel(cpuBackend(), launch.kernel, run);
    expectAllClose(gpu.loss!, cpu.loss!, { label: 'loss' });
    expectAllClose(gpu.dlogits!, cpu.dlogits!, { label: 'dlogits' });
    expectAllClose(gpu.correct!, cpu.correct!, { rtol: 0, atol: 0, label: 'correct' });
  });
});

describe('mse', () => {
  async function compare(n: number, overrides: Record<string, number> = {}): Promise<void> {
    const launch = mseLaunch({ pred: shape(n), targets: shape(n), dpred: shape(n), loss: shape(1) }, n);
    const run = {
      inputs: { pred: randomArray(n, -3, 3), targets: randomArray(n, -3, 3) },
      outputs: { dpred: n, loss: 1 },
      params: launch.params!,
      overrides,
      workgroups: launch.workgroups,
    };
    const gpu = await runKernel(await gpuBackend(), launch.kernel, run);
    const cpu = await runKernel(cpuBackend(), launch.kernel, run);
    expectAllClose(gpu.loss!, cpu.loss!, { label: 'loss' });
    expectAllClose(gpu.dpred!, cpu.dpred!, { label: 'dpred' });
  }

  it.each([1, 7, 33, 129, 1000])('matches the CPU twin at n=%i', async (n) => {
    await compare(n);
  });

  it('follows the workgroup size it is given (n=1000, wg=32)', async () => {
    await compare(1000, { wg: 32 });
  });
});
