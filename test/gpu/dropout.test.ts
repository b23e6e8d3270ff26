import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { BufferView, TypedArray } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import type { Device } from '../../src/device.js';
import { dropoutBitsLaunch, dropoutLaunch } from '../../src/kernels/dropout.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { forwardBackward } from '../graph-runner.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, runKernel } from '../harness.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

const SIZES = [1, 7, 33, 129, 70_000];
const TRIPLES: [seed: number, step: number, stream: number][] = [
  [0, 0, 0],
  [42, 7, 3],
  [0xfffffff0, 123_456, 1],
];

/** Bit patterns, so that -0, NaN payloads and last-bit differences all count. */
function expectSameBits(actual: TypedArray, expected: TypedArray, label: string): void {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  expect(a.length, label).toBe(e.length);
  const bad = a.findIndex((v, i) => v !== e[i]);
  if (bad >= 0) expect.fail(`${label}: first difference at [${bad}]: got 0x${a[bad]!.toString(16)}, expected 0x${e[bad]!.toString(16)}`);
}

async function onBoth(launch: ReturnType<typeof dropoutLaunch>, inputs: Record<string, TypedArray>, outputs: Record<string, number>) {
  const run = { inputs, outputs, params: launch.params!, overrides: launch.overrides ?? {}, workgroups: launch.workgroups };
  return { gpu: await runKernel(await gpuBackend(), launch.kernel, run), cpu: await runKernel(cpuBackend(), launch.kernel, run) };
}

describe.each(TRIPLES)('seed %i, step %i, stream %i', (seed, step, stream) => {
  const stepInfo = new Uint32Array([seed, step, 0, 0]);

  it.each(SIZES)('dropout_bits: WGSL Philox words equal the CPU twin at n=%i', async (n) => {
    const launch = dropoutBitsLaunch({ step_info: shape(4), bits: shape(n) }, n, stream);
    const { gpu, cpu } = await onBoth(launch, { step_info: stepInfo }, { bits: n });
    expectSameBits(gpu.bits!, cpu.bits!, 'bits');
  });

  it.each(SIZES)('dropout: masks (x = 1) and outputs (random x) bit-identical to the CPU twin at n=%i', async (n) => {
    const launch = dropoutLaunch({ step_info: shape(4), input: shape(n), output: shape(n) }, n, 0.3, stream);
    const mask = await onBoth(launch, { step_info: stepInfo, input: new Float32Array(n).fill(1) }, { output: n });
    expectSameBits(mask.gpu.output!, mask.cpu.output!, 'mask');
    const values = await onBoth(launch, { step_info: stepInfo, input: randomArray(n, -3, 3) }, { output: n });
    expectSameBits(values.gpu.output!, values.cpu.output!, 'output');
  });
});

it.each([0, 1, 0.9])('dropout with p = %f equals the CPU twin', async (p) => {
  const n = 1000;
  const launch = dropoutLaunch({ step_info: shape(4), input: shape(n), output: shape(n) }, n, p, 5);
  const { gpu, cpu } = await onBoth(launch, { step_info: new Uint32Array([9, 9, 0, 0]), input: randomArray(n, -3, 3) }, { output: n });
  expectSameBits(gpu.output!, cpu.output!, 'output');
});

function classes(n: number, k: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(Math.random() * k));
}

function mlp(): nn.Sequential {
  nn.manualSeed(8);
  return new nn.Sequential(
    new nn.Linear(13, 33), new nn.ReLU(), new nn.Dropout(0.3),
    new nn.Residual(new nn.Sequential(new nn.Linear(33, 33), new nn.Tanh(), new nn.Dropout(0.5))),
    new nn.Linear(33, 5));
}

describe('models with dropout on WebGPU equal the CPU twin', () => {
  it.each([1, 7, 33])('forward + backward at batch %i', async (batch) => {
    const model = mlp();
    const x = randomArray(batch * 13);
    const y = classes(batch, 5);
    const at = { seed: 1234, step: 17 };
    const gpu = await forwardBackward(await gpuBackend(), model, new nn.CrossEntropyLoss(), x, [13], y, at);
    const cpu = await forwardBackward(cpuBackend(), model, new nn.CrossEntropyLoss(), x, [13], y, at);
    expectAllClose([gpu.loss], [cpu.loss], { rtol: 1e-4, label: 'loss' });
    expectAllClose(gpu.output, cpu.output, { rtol: 1e-4, atol: 1e-5, label: 'output' });
    for (const name of Object.keys(cpu.grads)) expectAllClose(gpu.grads[name]!, cpu.grads[name]!, { rtol: 1e-4, atol: 1e-6, label: `grad ${name}` });
  });

  it('three Trainer steps with SGD at seed 77: losses and parameters within 1e-4', async () => {
    const data = Array.from({ length: 3 }, () => ({ x: randomArray(16 * 13), y: classes(16, 5) }));
    const run = async (backend: Backend) => {
      const model = mlp();
      const device: Device = { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
      const trainer = new Trainer(device, model, {
        loss: new nn.CrossEntropyLoss(),
        optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }),
        inputShape: [13],
        seed: 77,
      });
      const losses = await Promise.all(data.map(({ x, y }) => trainer.step(x, y).loss));
      const state = await model.stateDict();
      await trainer.dispose();
      return { losses, state };
    };
    const gpu = await run(await gpuBackend());
    const cpu = await run(cpuBackend());
    expectAllClose(gpu.losses, cpu.losses, { rtol: 1e-4, label: 'losses' });
    for (const name of Object.keys(cpu.state)) expectAllClose(gpu.state[name]!, cpu.state[name]!, { rtol: 1e-4, atol: 1e-6, label: `param ${name}` });
  });
});
