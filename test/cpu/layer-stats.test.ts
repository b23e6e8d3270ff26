import { describe, expect, it } from 'vitest';
import type { Backend, Program } from '../../src/backend/backend.js';
import { alignUp, VIEW_ALIGN, view } from '../../src/backend/kernel.js';
import type { Device } from '../../src/device.js';
import { decodeStats, layerStatsLaunches, type StatsSegment, segmentTable, statsStride } from '../../src/kernels/layer-stats.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import type { LayerStatsOptions } from '../../src/train/layer-stats.js';
import { type StepRecord, Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, randomArray, rng } from '../harness.js';

function device(backend: Backend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));
const diff = (a: Float32Array, b: Float32Array): number[] => Array.from(a, (x, i) => x - b[i]!);

/** Counts in float64: `bins` equal bins over [lo, hi), out-of-range values in the end bins. */
function counts(values: ArrayLike<number>, bins: number, lo: number, hi: number): number[] {
  const out = new Array<number>(bins).fill(0);
  for (const v of Array.from(values)) {
    const t = Number.isNaN(v) ? bins - 1 : Math.floor(((v - lo) / (hi - lo)) * bins);
    out[Math.min(bins - 1, Math.max(0, t))]! += 1;
  }
  return out;
}

const log10Abs = (g: ArrayLike<number>): number[] => Array.from(g, (v) => (v === 0 ? -Infinity : Math.log10(Math.abs(v))));

/** Elements on which two histograms disagree (a value within an ulp of an edge may move a bin). */
function moved(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i]! - b[i]!);
  return d / 2;
}

/**
 * Runs both launches the way a tracked step does: `before` on (weights, grads), then the update
 * writes `after` into the weights, then `after`. Returns the decoded figures per tensor.
 */
async function runStats(
  backend: Backend,
  tensors: { w: Float32Array; g: Float32Array; after: Float32Array; range: number }[],
  bins: number,
  logGradRange: [number, number] = [-12, 2],
) {
  const segments: StatsSegment[] = [];
  let at = VIEW_ALIGN;
  for (const t of tensors) {
    segments.push({ offset: at, length: t.w.length, range: t.range });
    at = alignUp(at + t.w.length, VIEW_ALIGN);
  }
  const make = (floats: number, label: string) => backend.createBuffer(floats * 4, label);
  const weights = make(at, 'w');
  const grads = make(at, 'g');
  const snapshot = make(at, 'snapshot');
  const out = make(alignUp(statsStride(bins) * tensors.length, VIEW_ALIGN) + VIEW_ALIGN, 'out');
  const table = make(alignUp(4 * tensors.length, VIEW_ALIGN), 'segments');
  backend.write(table, segmentTable(segments, bins));
  backend.write(snapshot, new Float32Array(at).fill(NaN));
  backend.write(out, new Uint32Array(out.byteLength / 4).fill(0x7fffffff));
  tensors.forEach((t, i) => {
    backend.write(weights, t.w, segments[i]!.offset * 4);
    backend.write(grads, t.g, segments[i]!.offset * 4);
  });
  const { before, after } = layerStatsLaunches(
    { segments: view(table), weights: view(weights), grads: view(grads), snapshot: view(snapshot), out: view(out, VIEW_ALIGN) },
    segments,
    { bins, logGradRange },
  );
  const first = backend.compile([before], 'test/before');
  const second = backend.compile([after], 'test/after');
  backend.run(first);
  tensors.forEach((t, i) => backend.write(weights, t.after, segments[i]!.offset * 4));
  backend.run(second);
  const words = new Uint32Array(await backend.read(out, VIEW_ALIGN * 4, statsStride(bins) * tensors.length * 4));
  const snap = new Float32Array(await backend.read(snapshot));
  await backend.health();
  for (const p of [first, second]) p.dispose();
  for (const b of [weights, grads, snapshot, out, table]) backend.destroyBuffer(b);
  return { stats: tensors.map((_, i) => decodeStats(words, i, bins)), snapshot: snap, segments };
}

describe('layer_stats kernels (CPU twins) against float64 arithmetic', () => {
  it('norms of ordinary, tiny (1e-25) and huge (1e25) tensors, and the step against the snapshot', async () => {
    const make = (n: number, scale: number, seed: number) => {
      const w = randomArray(n, -scale, scale, seed);
      const after = w.map((v, i) => v + scale * 1e-3 * Math.sin(i));
      return { w, g: randomArray(n, -scale, scale, seed + 1), after, range: 1 };
    };
    const tensors = [make(1, 1, 1), make(7, 1, 2), make(300, 1e-25, 3), make(129, 1e25, 4), make(1000, 0.5, 5)];
    const { stats, snapshot, segments } = await runStats(cpuBackend(), tensors, 0);
    tensors.forEach((t, i) => {
      expectAllClose([stats[i]!.gradNorm], [norm(t.g)], { rtol: 1e-5, label: `grad ${i}` });
      expectAllClose([stats[i]!.weightNorm], [norm(t.w)], { rtol: 1e-5, label: `weight ${i}` });
      expectAllClose([stats[i]!.deltaNorm], [norm(diff(t.after, t.w))], { rtol: 1e-5, label: `delta ${i}` });
      expectAllClose(snapshot.subarray(segments[i]!.offset, segments[i]!.offset + t.w.length), t.w, { rtol: 0, atol: 0, label: `snapshot ${i}` });
    });
    expect(stats[2]!.gradNorm).toBeGreaterThan(1e-25);
    expect(stats[3]!.gradNorm).toBeLessThan(1e28);
  });

  it('histogram bins, their ends, zeros and non-finite values', async () => {
    const bins = 8;
    // log10|g| over [-6, 2): bin width 1; each value sits in the middle of a known bin.
    const g = Float32Array.from([10 ** -5.5, -(10 ** -4.5), 10 ** 1.5, 1e-9, 0, -0, 1e10, Infinity, NaN, 3e-2]);
    const gBins = [0, 1, 7, 0, 0, 0, 7, 7, 7, 4];
    const w = Float32Array.from([-0.9, -0.1, 0.1, 0.9, -5, 5, 0.99, -1, NaN, -Infinity]);
    const wBins = [0, 3, 4, 7, 0, 7, 7, 0, 7, 0];
    const expected = (which: number[]) => counts(which, bins, 0, bins);
    const { stats } = await runStats(cpuBackend(), [{ w, g, after: w, range: 1 }], bins, [-6, 2]);
    expect(Array.from(stats[0]!.gradHistogram)).toEqual(expected(gBins));
    expect(Array.from(stats[0]!.weightHistogram)).toEqual(expected(wBins));
    // A non-finite value makes its tensor's norm NaN.
    expect(stats[0]!.gradNorm).toBeNaN();
    expect(stats[0]!.weightNorm).toBeNaN();
  });

  it('a finite tensor next to a non-finite one keeps its figures', async () => {
    const ok = randomArray(33, -1, 1, 9);
    const bad = Float32Array.from([1, NaN, 2]);
    const { stats } = await runStats(cpuBackend(), [{ w: bad, g: bad, after: bad, range: 1 }, { w: ok, g: ok, after: ok, range: 1 }], 4);
    expect(stats[0]!.gradNorm).toBeNaN();
    expect(stats[0]!.deltaNorm).toBeNaN();
    expectAllClose([stats[1]!.gradNorm, stats[1]!.weightNorm, stats[1]!.deltaNorm], [norm(ok), norm(ok), 0], { rtol: 1e-5, label: 'finite tensor' });
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

function smallTrainer(layerStats?: LayerStatsOptions, backend: Backend = cpuBackend()) {
  nn.manualSeed(3);
  const model = new nn.Sequential(new nn.Linear(5, 7), new nn.Tanh(), new nn.Linear(7, 3));
  const trainer = new Trainer(device(backend), model, {
    loss: new nn.CrossEntropyLoss(),
    optimizer: new optim.Adam(model.parameters(), { lr: 0.01 }),
    inputShape: [5],
    ...(layerStats ? { layerStats } : {}),
  });
  return { model, trainer };
}

describe('Trainer layerStats (CPU backend)', () => {
  it('gradient norm, weight norm and update ratio equal the figures of gradients() and the state dicts', async () => {
    const bins = 16;
    const { model, trainer } = smallTrainer({ every: 2, histograms: { bins } });
    const initial = await model.stateDict();
    const data = blobs(6, 5, 3, 1);
    for (let step = 0; step < 5; step++) {
      const before = await model.stateDict();
      const result = trainer.step(data.x, data.y);
      const grads = await trainer.gradients();
      const after = await model.stateDict();
      const rec = await result.record;
      if (step % 2 !== 0) {
        expect(rec.layerStats, `step ${step}`).toBeUndefined();
        continue;
      }
      const stats = rec.layerStats!;
      expect(Object.keys(stats).sort()).toEqual(['0.bias', '0.weight', '2.bias', '2.weight']);
      for (const [name, s] of Object.entries(stats)) {
        const label = `step ${step} ${name}`;
        expectAllClose([s.gradNorm], [norm(grads[name]!)], { rtol: 1e-5, label: `${label} gradNorm` });
        expectAllClose([s.weightNorm], [norm(before[name]!)], { rtol: 1e-5, label: `${label} weightNorm` });
        expectAllClose([s.updateRatio], [norm(diff(after[name]!, before[name]!)) / norm(before[name]!)], { rtol: 1e-4, label: `${label} updateRatio` });
        expect(s.updateRatio).toBeGreaterThan(0);
        const r = 2 * Math.max(...Array.from(initial[name]!, Math.abs));
        expectAllClose(s.weightHistogramRange!, [-r, r], { rtol: 1e-6, label: `${label} range` });
        expect(s.gradHistogramRange).toEqual([-12, 2]);
        expect(moved(s.weightHistogram!, counts(before[name]!, bins, -r, r))).toBeLessThanOrEqual(1);
        expect(moved(s.gradHistogram!, counts(log10Abs(grads[name]!), bins, -12, 2))).toBeLessThanOrEqual(1);
        const total = (h: Uint32Array) => h.reduce((a, b) => a + b, 0);
        expect(total(s.gradHistogram!)).toBe(before[name]!.length);
        expect(total(s.weightHistogram!)).toBe(before[name]!.length);
      }
    }
    expect(trainer.history.filter((r) => r.layerStats).map((r) => r.step)).toEqual([0, 2, 4]);
    await trainer.dispose();
  });

  it('histograms over a fixed weightRange and logGradRange', async () => {
    const bins = 4;
    const { model, trainer } = smallTrainer({ every: 1, histograms: { bins, weightRange: 0.1, logGradRange: [-3, -1] } });
    const data = blobs(6, 5, 3, 2);
    const before = await model.stateDict();
    const rec = await trainer.step(data.x, data.y).record;
    const grads = await trainer.gradients();
    for (const [name, s] of Object.entries(rec.layerStats!)) {
      expectAllClose(s.weightHistogramRange!, [-0.1, 0.1], { rtol: 1e-6, label: name });
      expect(s.gradHistogramRange).toEqual([-3, -1]);
      expect(moved(s.weightHistogram!, counts(before[name]!, bins, -0.1, 0.1))).toBeLessThanOrEqual(1);
      expect(moved(s.gradHistogram!, counts(log10Abs(grads[name]!), bins, -3, -1))).toBeLessThanOrEqual(1);
    }
    await trainer.dispose();
  });

  it('without histograms the records hold the norms only; fit passes them to onStep', async () => {
    const { trainer } = smallTrainer({ every: 2 });
    const seen: StepRecord[] = [];
    await trainer.fit(blobs(12, 5, 3, 3), { epochs: 1, batchSize: 4, shuffle: false, onStep: (r) => seen.push(r) });
    expect(seen.map((r) => r.layerStats !== undefined)).toEqual([true, false, true]);
    const s = seen[0]!.layerStats!['0.weight']!;
    expect(Object.keys(s).sort()).toEqual(['gradNorm', 'updateRatio', 'weightNorm']);
    expect(trainer.history[2]!.layerStats).toBe(seen[2]!.layerStats);
    await trainer.dispose();
  });

  it('tracked steps run two extra dispatches, the others none', async () => {
    const cpu = cpuBackend();
    const runs: { label: string; launches: number }[] = [];
    const counting = Object.create(cpu) as Backend;
    counting.run = (program: Program, copies) => {
      runs.push({ label: program.label, launches: program.launchCount });
      cpu.run.call(counting, program, copies);
    };
    const { trainer } = smallTrainer({ every: 3, histograms: { bins: 8 } }, counting);
    const plain = smallTrainer().trainer;
    const d = trainer.describeStep(6);
    expect(d.trackedDispatches).toBe(2);
    expect(d.dispatches).toBe(plain.describeStep(6).dispatches);
    expect(plain.describeStep(6).trackedDispatches).toBe(0);
    const data = blobs(6, 5, 3, 4);
    const records = [];
    for (let i = 0; i < 7; i++) records.push(trainer.step(data.x, data.y).record);
    await Promise.all(records);
    const steps = runs.filter((r) => r.label.startsWith('train['));
    expect(steps.map((r) => r.launches - d.dispatches)).toEqual([2, 0, 0, 2, 0, 0, 2]);
    await trainer.dispose();
    await plain.dispose();
  });

  it('rejects bad options, naming the option and the value', () => {
    const bad: [unknown, RegExp][] = [
      [{ every: 0 }, /layerStats\.every must be an integer >= 1, got 0/],
      [{ every: 1.5 }, /layerStats\.every must be an integer >= 1, got 1\.5/],
      [{}, /layerStats\.every/],
      [5, /layerStats\.must be an object/],
      [{ every: 1, histograms: { bins: 1 } }, /histograms\.bins must be an integer in \[2, 256\], got 1/],
      [{ every: 1, histograms: { bins: 257 } }, /histograms\.bins .* got 257/],
      [{ every: 1, histograms: 32 }, /histograms must be an object/],
      [{ every: 1, histograms: { bins: 8, logGradRange: [2, -12] } }, /logGradRange must be \[lo, hi\].*\[2,-12\]/],
      [{ every: 1, histograms: { bins: 8, logGradRange: [-50, 0] } }, /logGradRange/],
      [{ every: 1, histograms: { bins: 8, weightRange: 0 } }, /weightRange must be a positive number, got 0/],
    ];
    for (const [layerStats, message] of bad) {
      expect(() => smallTrainer(layerStats as LayerStatsOptions), JSON.stringify(layerStats)).toThrow(message);
    }
  });
});

/**
 * 20 Linear layers of width 32 on 16 inputs and 4 classes. 'sigmoid': Linear → Sigmoid with
 * torch's default init. 'residual': He init (kaimingNormal_) on every Linear, a Linear →
 * BatchNorm1d → ReLU stem, 9 residual blocks x + Linear(ReLU(BatchNorm1d(Linear(x)))), a Linear
 * head. (A plain Linear → BatchNorm1d → ReLU stack of this depth lets the gradient grow about 10×
 * towards the input at initialisation, as batch norm without skips does; the skips keep it level.)
 */
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

describe('the vanishing-gradient monitor (CPU backend)', () => {
  it.each(['sigmoid', 'residual'] as const)('%s: first and last layer gradient norms', async (kind) => {
    const { model, first, last } = deepMlp(kind);
    const trainer = new Trainer(device(cpuBackend()), model, {
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
    // The tiny first-layer norm of the sigmoid net is exact, not an underflow.
    expectAllClose([records[0]!.layerStats![first]!.gradNorm], [norm(grads[first]!)], { rtol: 1e-5, label: 'first gradNorm' });
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
    console.log(`${kind}: first/last gradient norm ${records.map((r) => (r.layerStats![first]!.gradNorm / r.layerStats![last]!.gradNorm).toExponential(2)).join(', ')}`);
    await trainer.dispose();
  });
});
