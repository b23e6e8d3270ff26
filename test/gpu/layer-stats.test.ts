import { describe, expect, it } from 'vitest';
import { countingGpu } from '../../bench/counting-gpu.js';
import type { Backend } from '../../src/backend/backend.js';
import { alignUp, VIEW_ALIGN, view } from '../../src/backend/kernel.js';
import { createDevice, type Device } from '../../src/device.js';
import { layerStatsLaunches, STATS_HEADER, type StatsSegment, segmentTable, statsStride } from '../../src/kernels/layer-stats.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import type { LayerStatsOptions } from '../../src/train/layer-stats.js';
import { type StepRecord, Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, rng } from '../harness.js';

function device(backend: Backend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));

interface Case {
  w: Float32Array;
  g: Float32Array;
  after: Float32Array;
  range: number;
}

/**
 * Both launches as a tracked step runs them, with `snapshot` and `out` poisoned first (NaN and
 * 0x7fffffff, the padding between tensors included); the weights become `after` in between.
 */
async function runStats(backend: Backend, tensors: Case[], bins: number) {
  const segments: StatsSegment[] = [];
  let at = VIEW_ALIGN;
  for (const t of tensors) {
    segments.push({ offset: at, length: t.w.length, range: t.range });
    at = alignUp(at + t.w.length, VIEW_ALIGN);
  }
  const words = statsStride(bins) * tensors.length;
  const make = (floats: number, label: string) => backend.createBuffer(floats * 4, label);
  const weights = make(at, 'w');
  const grads = make(at, 'g');
  const snapshot = make(at, 'snapshot');
  const out = make(alignUp(words, VIEW_ALIGN) + 2 * VIEW_ALIGN, 'out');
  const table = make(alignUp(4 * tensors.length, VIEW_ALIGN), 'segments');
  backend.write(table, segmentTable(segments, bins));
  backend.write(snapshot, new Float32Array(at).fill(NaN));
  backend.write(out, new Uint32Array(out.byteLength / 4).fill(0x7fffffff));
  tensors.forEach((t, i) => {
    backend.write(weights, t.w, segments[i]!.offset * 4);
    backend.write(grads, t.g, segments[i]!.offset * 4);
  });
  const { before, after } = layerStatsLaunches(
    { segments: view(table), weights: view(weights), grads: view(grads), snapshot: view(snapshot), out: view(out, VIEW_ALIGN, words) },
    segments,
    { bins, logGradRange: [-12, 2] },
  );
  const first = backend.compile([before], 'test/before');
  const second = backend.compile([after], 'test/after');
  backend.run(first);
  tensors.forEach((t, i) => backend.write(weights, t.after, segments[i]!.offset * 4));
  backend.run(second);
  const all = new Uint32Array(await backend.read(out));
  const snap = new Float32Array(await backend.read(snapshot));
  await backend.health();
  for (const p of [first, second]) p.dispose();
  for (const b of [weights, grads, snapshot, out, table]) backend.destroyBuffer(b);
  return { all, snapshot: snap };
}

function cases(): Case[] {
  const make = (n: number, scale: number, seed: number, moves = true): Case => {
    const w = randomArray(n, -scale, scale, seed);
    const after = moves ? w.map((v, i) => v + scale * 1e-2 * Math.cos(i)) : w.slice();
    return { w, g: randomArray(n, -scale * 0.3, scale * 0.3, seed + 1), after, range: scale };
  };
  return [make(1, 1, 1), make(7, 0.5, 2), make(33, 1e-20, 3), make(129, 1e20, 4), make(300, 2, 5, false), make(1000, 1, 6), make(4097, 0.1, 7)];
}

describe('layer_stats kernels: WebGPU equals the CPU twin', () => {
  it.each([0, 5, 32, 256])('awkward tensor sizes (1 to 4097 elements), %i bins', async (bins) => {
    const tensors = cases();
    const gpu = await runStats(await gpuBackend(), tensors, bins);
    const cpu = await runStats(cpuBackend(), tensors, bins);
    // Everything outside the blocks stays poisoned on both; inside, headers agree to rounding.
    const stride = statsStride(bins);
    const asFloats = (w: Uint32Array) => new Float32Array(w.buffer, w.byteOffset, w.length);
    expect(Array.from(gpu.all.subarray(0, VIEW_ALIGN))).toEqual(Array.from(cpu.all.subarray(0, VIEW_ALIGN)));
    expect(Array.from(gpu.all.subarray(VIEW_ALIGN + stride * tensors.length))).toEqual(Array.from(cpu.all.subarray(VIEW_ALIGN + stride * tensors.length)));
    expectAllClose(gpu.snapshot, cpu.snapshot, { rtol: 0, atol: 0, label: 'snapshot' });
    tensors.forEach((t, i) => {
      const base = VIEW_ALIGN + i * stride;
      const header = (w: Uint32Array) => asFloats(w).subarray(base, base + STATS_HEADER);
      expectAllClose(header(gpu.all), header(cpu.all), { rtol: 2e-6, atol: 0, label: `header of tensor ${i} (${t.w.length})` });
      const scaled = (w: Uint32Array, at: number) => asFloats(w)[base + at + 1]! * Math.sqrt(asFloats(w)[base + at]!);
      expectAllClose([scaled(gpu.all, 0), scaled(gpu.all, 2), scaled(gpu.all, 4)], [norm(t.g), norm(t.w), norm(t.after.map((v, j) => v - t.w[j]!))], {
        rtol: 1e-5,
        label: `norms of tensor ${i}`,
      });
      for (let h = 0; h < (bins > 0 ? 2 : 0); h++) {
        const at = base + STATS_HEADER + h * bins;
        const a = gpu.all.subarray(at, at + bins);
        const b = cpu.all.subarray(at, at + bins);
        expect(a.reduce((s, v) => s + v, 0)).toBe(t.w.length);
        // A value within an ulp of a bin edge may land on either side of it (the GPU's log2).
        let moved = 0;
        for (let k = 0; k < bins; k++) moved += Math.abs(a[k]! - b[k]!);
        expect(moved / 2, `histogram ${h} of tensor ${i}`).toBeLessThanOrEqual(1);
      }
    });
  });
});

function blobs(n: number, features: number, classes: number, seed: number) {
  const next = rng(seed);
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let f = 0; f < features; f++) x[i * features + f] = (f % classes === y[i] ? 1 : 0) + (next() - 0.5);
  }
  return { x, y };
}

function smallTrainer(backend: Backend, layerStats: LayerStatsOptions) {
  nn.manualSeed(3);
  const model = new nn.Sequential(new nn.Linear(5, 7), new nn.Tanh(), new nn.Linear(7, 3));
  const trainer = new Trainer(device(backend), model, {
    loss: new nn.CrossEntropyLoss(),
    optimizer: new optim.Adam(model.parameters(), { lr: 0.01 }),
    clipGradNorm: 0.5,
    inputShape: [5],
    layerStats,
  });
  return { model, trainer };
}

describe('Trainer layerStats on WebGPU', () => {
  it('figures equal those of gradients() and the state dicts, and the CPU backend', async () => {
    const data = blobs(6, 5, 3, 1);
    const run = async (backend: Backend) => {
      const { model, trainer } = smallTrainer(backend, { every: 2, histograms: { bins: 16 } });
      const records: StepRecord[] = [];
      for (let step = 0; step < 3; step++) {
        const before = await model.stateDict();
        const result = trainer.step(data.x, data.y);
        const grads = await trainer.gradients();
        const after = await model.stateDict();
        const rec = await result.record;
        records.push(rec);
        if (step === 1) continue;
        for (const [name, s] of Object.entries(rec.layerStats!)) {
          const label = `${backend.kind} step ${step} ${name}`;
          expectAllClose([s.gradNorm], [norm(grads[name]!)], { rtol: 1e-5, label: `${label} gradNorm` });
          expectAllClose([s.weightNorm], [norm(before[name]!)], { rtol: 1e-5, label: `${label} weightNorm` });
          const delta = Array.from(after[name]!, (v, i) => v - before[name]![i]!);
          expectAllClose([s.updateRatio], [norm(delta) / norm(before[name]!)], { rtol: 1e-4, label: `${label} updateRatio` });
          expect(s.gradHistogram!.reduce((a, b) => a + b, 0)).toBe(before[name]!.length);
          expect(s.weightHistogram!.reduce((a, b) => a + b, 0)).toBe(before[name]!.length);
        }
      }
      expect(records[1]!.layerStats).toBeUndefined();
      await trainer.dispose();
      return records;
    };
    const gpu = await run(await gpuBackend());
    const cpu = await run(cpuBackend());
    for (const step of [0, 2]) {
      for (const [name, s] of Object.entries(cpu[step]!.layerStats!)) {
        const g = gpu[step]!.layerStats![name]!;
        expectAllClose([g.gradNorm, g.weightNorm, g.updateRatio], [s.gradNorm, s.weightNorm, s.updateRatio], { rtol: 1e-4, label: `step ${step} ${name}` });
      }
    }
  });

  it('tracked steps dispatch two kernels more, untracked steps none, and create nothing', async () => {
    const webgpu = await import('webgpu');
    Object.assign(globalThis, webgpu.globals);
    const { gpu, counter } = countingGpu(webgpu.create([]) as GPU);
    const dev = await createDevice({ backend: 'webgpu', gpu });
    const { trainer } = smallTrainer(dev.backend, { every: 4, histograms: { bins: 8 } });
    const data = blobs(6, 5, 3, 2);
    for (let i = 0; i < 4; i++) await trainer.step(data.x, data.y).record;
    const d = trainer.describeStep(6);
    expect(d.trackedDispatches).toBe(2);
    const perStep: number[] = [];
    let before = counter.snapshot();
    for (let i = 4; i < 12; i++) {
      await trainer.step(data.x, data.y).record;
      const used = counter.since(before);
      expect(used.buffers + used.bindGroups + used.pipelines, `step ${i}`).toBe(0);
      perStep.push(used.dispatches - d.dispatches);
      before = counter.snapshot();
    }
    expect(perStep).toEqual([2, 0, 0, 0, 2, 0, 0, 0]);
    await trainer.dispose();
    dev.dispose();
  });
});

/** The networks of the CPU tier's monitor test (test/cpu/layer-stats.test.ts), 20 Linear layers. */
function deepMlp(kind: 'sigmoid' | 'residual') {
  nn.manualSeed(11);
  const linears: nn.Linear[] = [];
  const linear = (inputs: number, outputs: number) => {
    const l = new nn.Linear(inputs, outputs);
    if (kind === 'residual') nn.init.kaimingNormal_(l.weight);
    linears.push(l);
    return l;
  };
  const layers: nn.Module[] = [];
  if (kind === 'sigmoid') {
    for (let i = 0; i < 19; i++) layers.push(linear(i === 0 ? 16 : 32, 32), new nn.Sigmoid());
  } else {
    layers.push(linear(16, 32), new nn.BatchNorm1d(32), new nn.ReLU());
    for (let i = 0; i < 9; i++) {
      layers.push(new nn.Residual(new nn.Sequential(linear(32, 32), new nn.BatchNorm1d(32), new nn.ReLU(), linear(32, 32))));
    }
  }
  layers.push(linear(32, 4));
  const model = new nn.Sequential(...layers);
  const names = new Map(model.namedParameters().map(([n, p]) => [p, n]));
  if (linears.length !== 20) throw new Error(`deepMlp: ${linears.length} Linear layers`);
  return { model, first: names.get(linears[0]!.weight)!, last: names.get(linears[19]!.weight)! };
}

describe('the vanishing-gradient monitor on WebGPU', () => {
  it.each(['sigmoid', 'residual'] as const)('%s: first and last layer gradient norms', async (kind) => {
    const { model, first, last } = deepMlp(kind);
    const trainer = new Trainer(device(await gpuBackend()), model, {
      loss: new nn.CrossEntropyLoss(),
      optimizer: new optim.SGD(model.parameters(), { lr: 0.05 }),
      inputShape: [16],
      layerStats: { every: 1 },
    });
    const data = blobs(64, 16, 4, 5);
    const result = trainer.step(data.x, data.y);
    const grads = await trainer.gradients();
    const records = [await result.record];
    for (let i = 0; i < 3; i++) records.push(await trainer.step(data.x, data.y).record);
    expectAllClose([records[0]!.layerStats![first]!.gradNorm], [norm(grads[first]!)], { rtol: 1e-4, label: 'first gradNorm' });
    for (const rec of records) {
      const ratio = rec.layerStats![first]!.gradNorm / rec.layerStats![last]!.gradNorm;
      if (kind === 'sigmoid') {
        expect(ratio, `step ${rec.step}`).toBeGreaterThan(0);
        expect(ratio, `step ${rec.step}`).toBeLessThan(1e-2);
      } else {
        expect(ratio, `step ${rec.step}`).toBeGreaterThan(0.1);
        expect(ratio, `step ${rec.step}`).toBeLessThan(10);
      }
    }
    await trainer.dispose();
  });
});
