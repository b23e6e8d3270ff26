import { describe, expect, it } from 'vitest';
import { countingGpu } from '../../bench/counting-gpu.js';
import type { Backend } from '../../src/backend/backend.js';
import { alignUp, VIEW_ALIGN, view } from '../../src/backend/kernel.js';
import { createDevice, type Device } from '../../src/device.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { ACTIVATION_STRIDE, activationStatsLaunches, decodeActivationStats } from '../../src/kernels/activation-stats.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import type { LayerStatsOptions } from '../../src/train/layer-stats.js';
import { type StepRecord, Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, rng } from '../harness.js';

function device(backend: Backend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

/** Each tensor in a buffer of its own, `out` poisoned (0x7fffffff) with a margin on both sides. */
async function runActivationStats(backend: Backend, tensors: Float32Array[]) {
  const buffers = tensors.map((t, i) => {
    const b = backend.createBuffer(alignUp(t.length, VIEW_ALIGN) * 4, `x${i}`);
    backend.write(b, t);
    return b;
  });
  const words = ACTIVATION_STRIDE * tensors.length;
  const out = backend.createBuffer((alignUp(words, VIEW_ALIGN) + 2 * VIEW_ALIGN) * 4, 'out');
  backend.write(out, new Uint32Array(out.byteLength / 4).fill(0x7fffffff));
  const program = backend.compile(
    activationStatsLaunches(
      buffers.map((b, i) => view(b, 0, tensors[i]!.length)),
      view(out, VIEW_ALIGN, words),
    ),
    'test/activation-stats',
  );
  backend.run(program);
  const all = new Uint32Array(await backend.read(out));
  await backend.health();
  program.dispose();
  for (const b of [...buffers, out]) backend.destroyBuffer(b);
  return all;
}

/** Awkward sizes and hard values: an offset mean, 1e-25 and 1e25 magnitudes, zeros, non-finite values. */
function cases(): Float32Array[] {
  return [
    randomArray(1, -1, 1, 1),
    randomArray(7, -3, 5, 2),
    randomArray(33, 1e4 - 1, 1e4 + 1, 3),
    randomArray(300, -1, 1, 4).map((v) => Math.max(v, 0)),
    randomArray(129, -1e-25, 2e-25, 5),
    randomArray(1000, -1e25, 3e25, 6),
    Float32Array.from([0, -0, 1e-45, -2, 0, 3, -0]),
    new Float32Array(65),
    Float32Array.from([1, NaN, 0, Infinity, 0]),
    randomArray(4097, -0.5, 1, 7),
  ];
}

describe('activation_stats kernel: WebGPU equals the CPU twin', () => {
  it('10 tensors of 1 to 4097 elements in two dispatches', async () => {
    const tensors = cases();
    const gpu = await runActivationStats(await gpuBackend(), tensors);
    const cpu = await runActivationStats(cpuBackend(), tensors);
    const end = VIEW_ALIGN + ACTIVATION_STRIDE * tensors.length;
    expect(Array.from(gpu.subarray(0, VIEW_ALIGN))).toEqual(Array.from(cpu.subarray(0, VIEW_ALIGN)));
    expect(Array.from(gpu.subarray(end))).toEqual(Array.from(cpu.subarray(end)));
    tensors.forEach((t, i) => {
      const base = VIEW_ALIGN + ACTIVATION_STRIDE * i;
      const label = `tensor ${i} (${t.length})`;
      // The scale and the zero count are exact; the sums agree to rounding.
      expect(gpu[base + 2], `${label} scale`).toBe(cpu[base + 2]);
      expect(gpu[base + 3], `${label} zeros`).toBe(cpu[base + 3]);
      const g = decodeActivationStats(gpu.subarray(VIEW_ALIGN, end), i, t.length);
      const c = decodeActivationStats(cpu.subarray(VIEW_ALIGN, end), i, t.length);
      expectAllClose([g.mean, g.std, g.zeroFraction], [c.mean, c.std, c.zeroFraction], { rtol: 1e-5, atol: 0, label });
    });
  });
});

/** Columns 10..13 of its input: a strided view. */
class Narrow extends nn.Module {
  forward(x: Tensor): Tensor {
    return x.narrow(1, 10, 4);
  }
}

/** The CPU tier's model (test/cpu/activation-stats.test.ts): 12 of 16 ReLU units dead. */
function trainer(backend: Backend, layerStats: LayerStatsOptions) {
  nn.manualSeed(5);
  const first = new nn.Linear(3, 16);
  const next = rng(8);
  first.loadStateDict({
    weight: Float32Array.from({ length: 48 }, () => 2 * next() - 1),
    bias: Float32Array.from({ length: 16 }, (_, j) => (j < 12 ? -10 : 5)),
  });
  const model = new nn.Sequential(first, new nn.ReLU(), new Narrow(), new nn.Linear(4, 4), new nn.Flatten(), new nn.Linear(4, 2));
  return new Trainer(device(backend), model, {
    loss: new nn.CrossEntropyLoss(),
    optimizer: new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }),
    inputShape: [3],
    layerStats,
  });
}

function batch(n: number, seed: number) {
  const next = rng(seed);
  return {
    x: Float32Array.from({ length: n * 3 }, () => 2 * next() - 1),
    y: Int32Array.from({ length: n }, (_, i) => i % 2),
  };
}

describe('Trainer layerStats.activations on WebGPU', () => {
  it('figures equal the CPU backend within 1e-4', async () => {
    const data = batch(9, 1);
    const run = async (backend: Backend) => {
      const t = trainer(backend, { every: 2, activations: true });
      const records: StepRecord[] = [];
      for (let step = 0; step < 3; step++) records.push(await t.step(data.x, data.y).record);
      await t.dispose();
      return records;
    };
    const gpu = await run(await gpuBackend());
    const cpu = await run(cpuBackend());
    expect(gpu[1]!.activationStats).toBeUndefined();
    for (const step of [0, 2]) {
      const want = cpu[step]!.activationStats!;
      expect(Object.keys(gpu[step]!.activationStats!)).toEqual(Object.keys(want));
      for (const [path, s] of Object.entries(want)) {
        const g = gpu[step]!.activationStats![path]!;
        expectAllClose([g.mean, g.std], [s.mean, s.std], { rtol: 1e-4, atol: 1e-6, label: `step ${step} '${path}'` });
        expect(g.zeroFraction, `step ${step} '${path}' zeroFraction`).toBe(s.zeroFraction);
      }
      expect(gpu[step]!.activationStats!['1']!.zeroFraction).toBe(0.75);
    }
  });

  it('tracked steps dispatch the statistics, untracked steps nothing more, and create nothing', async () => {
    const webgpu = await import('webgpu');
    Object.assign(globalThis, webgpu.globals);
    const { gpu, counter } = countingGpu(webgpu.create([]) as GPU);
    const dev = await createDevice({ backend: 'webgpu', gpu });
    const t = trainer(dev.backend, { every: 3, activations: true });
    const data = batch(6, 2);
    for (let i = 0; i < 3; i++) await t.step(data.x, data.y).record;
    const d = t.describeStep(6);
    expect(d.trackedDispatches).toBe(4);
    const perStep: number[] = [];
    let before = counter.snapshot();
    for (let i = 3; i < 9; i++) {
      await t.step(data.x, data.y).record;
      const used = counter.since(before);
      expect(used.buffers + used.bindGroups + used.pipelines, `step ${i}`).toBe(0);
      perStep.push(used.dispatches - d.dispatches);
      before = counter.snapshot();
    }
    expect(perStep).toEqual([4, 0, 0, 4, 0, 0]);
    await t.dispose();
    dev.dispose();
  });
});
