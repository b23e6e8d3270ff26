import { describe, it } from 'vitest';
import type { BufferView } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { type Activation, ACTIVATIONS, gradFromOutput } from '../../src/kernels/activations.js';
import { actBackwardLaunch, actForwardLaunch } from '../../src/kernels/unary.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, runKernel } from '../harness.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

const SIZES = [1, 7, 33, 129, 1000];
const ALPHA = 0.13;

describe.each(Object.keys(ACTIVATIONS) as Activation[])('%s', (act) => {
  it.each(SIZES)('act_forward matches the CPU twin at n=%i', async (n) => {
    const launch = actForwardLaunch({ input: shape(n), output: shape(n) }, n, act, ALPHA);
    const run = {
      inputs: { input: randomArray(n, -4, 4) },
      outputs: { output: n },
      params: launch.params!,
      overrides: launch.overrides!,
      workgroups: launch.workgroups,
    };
    const gpu = await runKernel(await gpuBackend(), launch.kernel, run);
    const cpu = await runKernel(cpuBackend(), launch.kernel, run);
    expectAllClose(gpu.output!, cpu.output!, { label: `${act} y` });
  });

  it.each(SIZES)('act_backward matches the CPU twin at n=%i', async (n) => {
    const x = randomArray(n, -4, 4);
    const forward = actForwardLaunch({ input: shape(n), output: shape(n) }, n, act, ALPHA);
    const { output: y } = await runKernel(cpuBackend(), forward.kernel, {
      inputs: { input: x },
      outputs: { output: n },
      params: forward.params!,
      overrides: forward.overrides!,
      workgroups: forward.workgroups,
    });
    const launch = actBackwardLaunch({ dy: shape(n), v: shape(n), dx: shape(n) }, n, act, ALPHA);
    const run = {
      inputs: { dy: randomArray(n, -2, 2), v: gradFromOutput(act) ? y! : x },
      outputs: { dx: n },
      params: launch.params!,
      overrides: launch.overrides!,
      workgroups: launch.workgroups,
    };
    const gpu = await runKernel(await gpuBackend(), launch.kernel, run);
    const cpu = await runKernel(cpuBackend(), launch.kernel, run);
    expectAllClose(gpu.dx!, cpu.dx!, { label: `${act} dx` });
  });
});
