import { describe, it } from 'vitest';
import type { BufferView, Launch } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { colSumLaunch, meanLaunch, sumLaunch, sumSquaresLaunch } from '../../src/kernels/reduce.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, runKernel } from '../harness.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

/** Runs `launch` on both backends over the same random input `x` of n elements. */
async function compare(launch: Launch, n: number, outLength: number, overrides: Record<string, number> = {}): Promise<void> {
  const run = {
    inputs: { x: randomArray(n, -2, 2) },
    outputs: { out: outLength },
    params: launch.params!,
    overrides,
    workgroups: launch.workgroups,
  };
  const gpu = await runKernel(await gpuBackend(), launch.kernel, run);
  const cpu = await runKernel(cpuBackend(), launch.kernel, run);
  expectAllClose(gpu.out!, cpu.out!, { rtol: n > 1000 ? 1e-4 : 1e-5, label: launch.kernel.name });
}

describe('col_sum', () => {
  it.each([
    [1, 1],
    [7, 33],
    [33, 7],
    [129, 10],
    [3, 1000],
    [1000, 3],
  ])('matches the CPU twin for [%i, %i]', async (rows, cols) => {
    const launch = colSumLaunch({ x: shape(rows * cols), out: shape(cols) }, rows, cols, 0.5);
    await compare(launch, rows * cols, cols);
  });
});

const totals: Record<string, (n: number) => Launch> = {
  sum: (n) => sumLaunch({ x: shape(n), out: shape(1) }, n),
  mean: (n) => meanLaunch({ x: shape(n), out: shape(1) }, n),
  sum_squares: (n) => sumSquaresLaunch({ x: shape(n), out: shape(1) }, n, 0.5),
};

describe.each(Object.keys(totals))('%s', (name) => {
  it.each([1, 7, 33, 129, 1000, 5000])('matches the CPU twin at n=%i', async (n) => {
    await compare(totals[name]!(n), n, 1);
  });

  it('follows the workgroup size it is given (wg = 32, n = 1000)', async () => {
    await compare(totals[name]!(1000), 1000, 1, { wg: 32 });
  });
});
