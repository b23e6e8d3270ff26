import { describe, it } from 'vitest';
import type { BufferView, Launch, TypedArray } from '../../src/backend/kernel.js';
import { grid1d, view } from '../../src/backend/kernel.js';
import {
  addLaunch,
  addScaledLaunch,
  axpyLaunch,
  copyLaunch,
  fill,
  mulLaunch,
  scaleLaunch,
} from '../../src/kernels/elementwise.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, runKernel } from '../harness.js';

/** A view that only carries a length, to let the launch helpers plan a dispatch. */
const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

const launches: Record<string, (n: number) => Launch> = {
  copy: (n) => copyLaunch({ x: shape(n), out: shape(n) }, n),
  add: (n) => addLaunch({ a: shape(n), b: shape(n), out: shape(n) }, n),
  mul: (n) => mulLaunch({ a: shape(n), b: shape(n), out: shape(n) }, n),
  scale: (n) => scaleLaunch({ x: shape(n), out: shape(n) }, n, -1.7),
  add_scaled: (n) => addScaledLaunch({ a: shape(n), b: shape(n), out: shape(n) }, n, 0.37),
  axpy: (n) => axpyLaunch({ x: shape(n), y: shape(n) }, n, -0.6),
};

/** Runs `launch` on both backends with the same random inputs; `y` of axpy starts with data. */
async function compare(launch: Launch, n: number, grid?: { wg: number }): Promise<void> {
  const inputs: Record<string, TypedArray> = {};
  const outputs: Record<string, number> = {};
  for (const b of launch.kernel.bindings) {
    if (b.access === 'read' || b.name === 'y') inputs[b.name] = randomArray(n, -3, 3);
    else outputs[b.name] = n;
  }
  const overrides: Record<string, number> = grid ? { wg: grid.wg } : {};
  const run = {
    inputs,
    outputs,
    params: launch.params!,
    overrides,
    workgroups: grid ? grid1d(n, grid.wg) : launch.workgroups,
  };
  const gpu = await runKernel(await gpuBackend(), launch.kernel, run);
  const cpu = await runKernel(cpuBackend(), launch.kernel, run);
  for (const name of Object.keys(gpu)) expectAllClose(gpu[name]!, cpu[name]!, { label: `${launch.kernel.name}.${name}` });
}

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

describe.each(Object.keys(launches))('%s', (name) => {
  const make = launches[name]!;

  it.each([1, 7, 33, 129, 1000, 70_000])('matches the CPU twin at n=%i', async (n) => {
    await compare(make(n), n);
  });

  // One invocation per workgroup needs more than 65535 workgroups: grid1d splits them over y.
  it('covers a grid split over y (70001 workgroups of 1)', async () => {
    await compare(make(70_001), 70_001, { wg: 1 });
  });
});
