import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { BufferView, Launch, TypedArray } from '../../src/backend/kernel.js';
import type { Device } from '../../src/device.js';
import { batchNorm, layerNorm } from '../../src/graph/ops/norm.js';
import { ModuleBuffer } from '../../src/graph/parameter.js';
import type { Tensor } from '../../src/graph/tensor.js';
import {
  batchNormBackwardInputLaunch,
  batchNormBackwardReduceLaunch,
  batchNormForwardLaunch,
  batchNormRunningLaunches,
  batchNormStatsLaunch,
} from '../../src/kernels/batch-norm.js';
import { layerNormBackwardInputLaunch, layerNormBackwardParamsLaunch, layerNormForwardLaunch } from '../../src/kernels/layer-norm.js';
import { Flatten, Sequential } from '../../src/nn/container.js';
import { ReLU } from '../../src/nn/activation.js';
import { manualSeed } from '../../src/nn/init.js';
import { Linear } from '../../src/nn/linear.js';
import { MSELoss } from '../../src/nn/loss.js';
import { BatchNorm1d, BatchNorm2d, LayerNorm } from '../../src/nn/norm.js';
import { SGD } from '../../src/optim/sgd.js';
import { Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, runKernel } from '../harness.js';
import { expectBackendsAgree } from '../op-check.js';

let fakeId = 1_000_000;
function fake(length: number, buffer = { id: fakeId++, byteLength: 1 << 20, label: 'fake' }, offset = 0): BufferView {
  return { buffer, offset, length };
}

/** The launch on WebGPU and on the CPU twin, bindings without data poisoned: every output agrees. */
async function compare(l: Launch, data: Record<string, TypedArray>, tol = { rtol: 1e-4, atol: 1e-5 }): Promise<Record<string, Float32Array>> {
  const outputs: Record<string, number> = {};
  for (const b of l.kernel.bindings) if (!data[b.name]) outputs[b.name] = l.bindings[b.name]!.length;
  const run = { inputs: data, outputs, params: { ...l.params }, overrides: { ...l.overrides }, workgroups: l.workgroups };
  const gpu = (await runKernel(await gpuBackend(), l.kernel, run)) as Record<string, Float32Array>;
  const cpu = (await runKernel(cpuBackend(), l.kernel, run)) as Record<string, Float32Array>;
  for (const b of l.kernel.bindings) {
    if (b.access === 'read_write') expectAllClose(gpu[b.name]!, cpu[b.name]!, { ...tol, label: `${l.kernel.name}.${b.name}` });
  }
  return cpu;
}

describe('batch norm kernels: WebGPU against the CPU twin', () => {
  it.each([
    { n: 1, c: 1, s: 1 },
    { n: 1, c: 3, s: 1 },
    { n: 5, c: 7, s: 1 },
    { n: 2, c: 3, s: 35 },
    { n: 3, c: 1, s: 100 },
    { n: 4, c: 7, s: 33 },
  ])('[batch, C, spatial] = %o', async (d) => {
    const s = { batch: d.n, channels: d.c, spatial: d.s };
    const n = d.n * d.c * d.s;
    const x = randomArray(n, -2, 3);
    const dy = randomArray(n, -1, 1);
    const w = randomArray(d.c, 0.5, 1.5);
    const b = randomArray(d.c, -1, 1);
    const stats = await compare(batchNormStatsLaunch(s, { x: fake(n), mean_out: fake(d.c), variance_out: fake(d.c) }), { x });
    const mean = stats.mean_out!;
    const variance = stats.variance_out!;
    for (const affine of [true, false]) {
      const fwd = batchNormForwardLaunch(
        s,
        1e-5,
        { x: fake(n), mean: fake(d.c), variance: fake(d.c), ...(affine ? { weight: fake(d.c), bias: fake(d.c) } : {}), y: fake(n) },
        fake(64),
      );
      await compare(fwd, { x, mean, variance, ...(affine ? { weight: w, bias: b } : {}) });
    }
    const sums = await compare(
      batchNormBackwardReduceLaunch(s, 1e-5, { x: fake(n), dy: fake(n), mean: fake(d.c), variance: fake(d.c), sum_dy_out: fake(d.c), sum_dy_xhat_out: fake(d.c) }),
      { x, dy, mean, variance },
    );
    for (const training of [true, false]) {
      const l = batchNormBackwardInputLaunch(
        s,
        1e-5,
        { x: fake(n), dy: fake(n), mean: fake(d.c), variance: fake(d.c), weight: fake(d.c), dx: fake(n) },
        training ? { sum_dy: fake(d.c), sum_dy_xhat: fake(d.c) } : null,
        fake(64),
      );
      await compare(l, { x, dy, mean, variance, weight: w, ...(training ? { sum_dy: sums.sum_dy_out!, sum_dy_xhat: sums.sum_dy_xhat_out! } : {}) });
    }
    for (const momentum of [0.1, null]) {
      const shared = { id: fakeId++, byteLength: 1 << 20, label: 'module-buffers' };
      const at = [0, 64 * Math.ceil(d.c / 64), 128 * Math.ceil(d.c / 64)];
      const [l] = batchNormRunningLaunches(
        { channels: d.c, count: Math.max(2, d.n * d.s), momentum },
        { mean: fake(d.c), variance: fake(d.c), runningMean: fake(d.c, shared, at[0]), runningVar: fake(d.c, shared, at[1]), tracked: fake(1, shared, at[2]) },
        fake(64),
      );
      const state = randomArray(at[2]! + 1, 0.5, 2);
      state[at[2]!] = 3;
      const out = await compare(l!, { mean, variance, state }, { rtol: 1e-5, atol: 1e-6 });
      expect(out.state![at[2]!]).toBe(4);
    }
  });
});

describe('layer norm kernels: WebGPU against the CPU twin', () => {
  it.each([
    [1, 1],
    [3, 7],
    [33, 5],
    [2, 300],
  ])('[rows, cols] = [%i, %i]', async (rows, cols) => {
    const s = { rows, cols };
    const n = rows * cols;
    const x = randomArray(n, -2, 3);
    const dy = randomArray(n, -1, 1);
    const w = randomArray(cols, 0.5, 1.5);
    const b = randomArray(cols, -1, 1);
    for (const affine of [true, false]) {
      const fwd = await compare(
        layerNormForwardLaunch(
          s,
          1e-5,
          { x: fake(n), ...(affine ? { weight: fake(cols), bias: fake(cols) } : {}), y: fake(n), mean_out: fake(rows), rstd_out: fake(rows) },
          fake(64),
        ),
        { x, ...(affine ? { weight: w, bias: b } : {}) },
      );
      const saved = { mean: fwd.mean_out!, rstd: fwd.rstd_out! };
      await compare(
        layerNormBackwardInputLaunch(s, { x: fake(n), dy: fake(n), ...(affine ? { weight: fake(cols) } : {}), mean: fake(rows), rstd: fake(rows), dx: fake(n) }, fake(64)),
        { x, dy, ...(affine ? { weight: w } : {}), ...saved },
      );
    }
    const fwd = await compare(
      layerNormForwardLaunch(s, 1e-5, { x: fake(n), y: fake(n), mean_out: fake(rows), rstd_out: fake(rows) }, fake(64)),
      { x },
    );
    await compare(
      layerNormBackwardParamsLaunch(s, { x: fake(n), dy: fake(n), mean: fake(rows), rstd: fake(rows), dweight: fake(cols), dbias: fake(cols) }),
      { x, dy, mean: fwd.mean_out!, rstd: fwd.rstd_out! },
    );
  });
});

describe('norm ops: WebGPU and the CPU twins agree on outputs and gradients', () => {
  const bn = (training: boolean) => (x: Tensor, w: Tensor, b: Tensor) => batchNorm(x, null, null, w, b, { training });
  it('batch norm, batch statistics, [batch, C, H, W]', async () => {
    await expectBackendsAgree(await gpuBackend(), bn(true), [{ shape: [2, 7, 5, 7] }, { shape: [7] }, { shape: [7] }]);
  });
  it('batch norm, batch statistics, [batch, C], no affine, updating separate running buffers', async () => {
    const rm = new ModuleBuffer(new Float32Array(3), [3], 'rm');
    const rv = new ModuleBuffer(new Float32Array(3).fill(1), [3], 'rv');
    const nbt = new ModuleBuffer(new Float32Array(1), [], 'nbt');
    const build = (x: Tensor) => {
      const g = x.graph;
      return batchNorm(x, g.buffer(rm), g.buffer(rv), null, null, { momentum: null, numBatchesTracked: g.buffer(nbt) });
    };
    const { device } = await expectBackendsAgree(await gpuBackend(), build, [{ shape: [33, 3] }]);
    expect(device.launches).toBe(2 + 3 + 2 + 1);
  });
  it('batch norm, running statistics (evaluation)', async () => {
    const build = (x: Tensor, rm: Tensor, rv: Tensor, w: Tensor, b: Tensor) => batchNorm(x, rm, rv, w, b);
    await expectBackendsAgree(
      await gpuBackend(),
      build,
      [{ shape: [1, 3, 2, 5] }, { shape: [3], grad: false }, { shape: [3], lo: 0.5, hi: 2, grad: false }, { shape: [3] }, { shape: [3] }],
      { training: false },
    );
  });
  it('layer norm over one dim, affine', async () => {
    await expectBackendsAgree(await gpuBackend(), (x: Tensor, w: Tensor, b: Tensor) => layerNorm(x, 7, w, b), [{ shape: [5, 3, 7] }, { shape: [7] }, { shape: [7] }]);
  });
  it('layer norm over two dims, no affine', async () => {
    await expectBackendsAgree(await gpuBackend(), (x: Tensor) => layerNorm(x, [3, 33], null, null), [{ shape: [2, 3, 33] }]);
  });
});

function device(backend: Backend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

describe('BatchNorm and LayerNorm in the Trainer: WebGPU equals the CPU twin', () => {
  it.each([
    ['BatchNorm1d', [6], () => new Sequential(new Linear(6, 5), new BatchNorm1d(5), new ReLU(), new Linear(5, 3))],
    ['BatchNorm2d', [3, 4, 5], () => new Sequential(new BatchNorm2d(3, { momentum: null }), new Flatten(), new Linear(60, 3))],
    ['LayerNorm', [4, 5], () => new Sequential(new LayerNorm([4, 5]), new Flatten(), new Linear(20, 3))],
  ] as const)('%s: losses, state (running statistics included) and predictions', async (_name, inputShape, make) => {
    const sample = inputShape.reduce((a, b) => a * b, 1);
    const data = [1, 2, 3].map((k) => ({ x: randomArray(8 * sample, -k, 2 * k, 80 + k), y: randomArray(8 * 3, -1, 1, 90 + k) }));
    const probe = randomArray(4 * sample, -1, 1, 99);
    const run = async (backend: Backend) => {
      manualSeed(3);
      const model = make();
      const trainer = new Trainer(device(backend), model, { loss: new MSELoss(), optimizer: new SGD(model.parameters(), { lr: 0.1 }), inputShape: [...inputShape] });
      const losses = [];
      for (const { x, y } of data) losses.push(await trainer.step(x, y).loss);
      const out = { losses, state: await model.stateDict(), predicted: await trainer.predict(probe) };
      await trainer.dispose();
      return out;
    };
    const gpu = await run(await gpuBackend());
    const cpu = await run(cpuBackend());
    expectAllClose(gpu.losses, cpu.losses, { rtol: 1e-4, atol: 1e-6, label: 'losses' });
    expect(Object.keys(gpu.state)).toEqual(Object.keys(cpu.state));
    for (const [name, v] of Object.entries(cpu.state)) expectAllClose(gpu.state[name]!, v, { rtol: 1e-4, atol: 1e-5, label: name });
    expectAllClose(gpu.predicted, cpu.predicted, { rtol: 1e-4, atol: 1e-5, label: 'predict' });
    for (const name of Object.keys(cpu.state).filter((k) => k.endsWith('num_batches_tracked'))) expect(Array.from(gpu.state[name]!)).toEqual([3]);
  });
});
