import { describe, it } from 'vitest';
import { grid1d } from '../../src/backend/kernel.js';
import { fill } from '../../src/kernels/elementwise.js';
import { cpuBackend, expectAllClose, gpuBackend, runKernel } from '../harness.js';

describe('fill', () => {
  it.each([1, 7, 33, 129, 70_000])('matches the CPU twin at n=%i', async (n) => {
    const value = Math.random() * 10 - 5;
    const run = { outputs: { out: n }, params: { n, value }, workgroups: grid1d(n, 256) };
    const gpu = await runKernel(await gpuBackend(), fill, run);
    const cpu = await runKernel(cpuBackend(), fill, run);
    expectAllClose(gpu.out!, cpu.out!);
    expectAllClose(cpu.out!, new Float32Array(n).fill(value));
  });
});
