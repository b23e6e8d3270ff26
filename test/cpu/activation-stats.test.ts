import { describe, expect, it } from 'vitest';
import type { Backend, Program } from '../../src/backend/backend.js';
import { alignUp, VIEW_ALIGN, view } from '../../src/backend/kernel.js';
import type { Device } from '../../src/device.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { ACTIVATION_STRIDE, activationStatsLaunches, decodeActivationStats, TENSORS_PER_DISPATCH } from '../../src/kernels/activation-stats.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import type { LayerStatsOptions } from '../../src/train/layer-stats.js';
import { type StepRecord, Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, randomArray, rng } from '../harness.js';

function device(backend: Backend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

/** Mean, population standard deviation and fraction of ±0 in float64. */
function figures(values: ArrayLike<number>): { mean: number; std: number; zeroFraction: number } {
  const v = Array.from(values);
  const mean = v.reduce((a, x) => a + x, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length);
  return { mean, std, zeroFraction: v.filter((x) => x === 0).length / v.length };
}

/**
 * Each tensor in a buffer of its own (as module outputs live in different scratch buffers),
 * `out` poisoned (0x7fffffff) with a margin on both sides; returns the decoded figures and every
 * word of `out`.
 */
async function runActivationStats(backend: Backend, tensors: Float32Array[]) {
  const buffers = tensors.map((t, i) => {
    const b = backend.createBuffer(alignUp(t.length, VIEW_ALIGN) * 4, `x${i}`);
    backend.write(b, t);
    return b;
  });
  const words = ACTIVATION_STRIDE * tensors.length;
  const out = backend.createBuffer((alignUp(words, VIEW_ALIGN) + 2 * VIEW_ALIGN) * 4, 'out');
  backend.write(out, new Uint32Array(out.byteLength / 4).fill(0x7fffffff));
  const launches = activationStatsLaunches(
    buffers.map((b, i) => view(b, 0, tensors[i]!.length)),
    view(out, VIEW_ALIGN, words),
  );
  const program = backend.compile(launches, 'test/activation-stats');
  backend.run(program);
  const all = new Uint32Array(await backend.read(out));
  await backend.health();
  program.dispose();
  for (const b of [...buffers, out]) backend.destroyBuffer(b);
  const block = all.subarray(VIEW_ALIGN, VIEW_ALIGN + words);
  return { launches, all, stats: tensors.map((t, i) => decodeActivationStats(block, i, t.length)) };
}

/** Awkward sizes and hard values: an offset mean, 1e-25 and 1e25 magnitudes, zeros, n = 1. */
function activationCases(): Float32Array[] {
  const relu = randomArray(300, -1, 1, 4).map((v) => Math.max(v, 0));
  const signedZeros = Float32Array.from([0, -0, 1e-45, -2, 0, 3, -0]);
  return [
    randomArray(1, -1, 1, 1),
    randomArray(7, -3, 5, 2),
    randomArray(33, 1e4 - 1, 1e4 + 1, 3),
    relu,
    randomArray(129, -1e-25, 2e-25, 5),
    randomArray(1000, -1e25, 3e25, 6),
    signedZeros,
    new Float32Array(65),
    randomArray(4097, -0.5, 1, 7),
  ];
}

describe('activation_stats kernel (CPU twin) against float64 arithmetic', () => {
  it('mean, std and zero fraction of 9 tensors in two dispatches, nothing written outside', async () => {
    const tensors = activationCases();
    const { launches, all, stats } = await runActivationStats(cpuBackend(), tensors);
    expect(launches).toHaveLength(Math.ceil(tensors.length / TENSORS_PER_DISPATCH));
    expect(launches.map((l) => l.workgroups[0])).toEqual([7, 2]);
    tensors.forEach((t, i) => {
      const want = figures(t);
      const s = stats[i]!;
      const label = `tensor ${i} (${t.length})`;
      expectAllClose([s.mean], [want.mean], { rtol: 1e-5, atol: 0, label: `${label} mean` });
      expectAllClose([s.std], [want.std], { rtol: 1e-5, atol: 0, label: `${label} std` });
      expect(s.zeroFraction, `${label} zeroFraction`).toBe(want.zeroFraction);
    });
    // The offset tensor keeps its spread (about 0.58), which E[x²] − E[x]² in float32 would lose.
    expect(stats[2]!.std).toBeGreaterThan(0.4);
    expect(stats[4]!.std).toBeGreaterThan(1e-26);
    expect(stats[5]!.std).toBeLessThan(1e26);
    // 0, -0 count; the subnormal 1e-45 does not.
    expect(stats[6]!.zeroFraction).toBe(4 / 7);
    expect(stats[7]).toEqual({ mean: 0, std: 0, zeroFraction: 1 });
    const poisoned = (w: Uint32Array) => w.every((v) => v === 0x7fffffff);
    expect(poisoned(all.subarray(0, VIEW_ALIGN))).toBe(true);
    expect(poisoned(all.subarray(VIEW_ALIGN + ACTIVATION_STRIDE * tensors.length))).toBe(true);
  });

  it('a non-finite value makes mean and std NaN, keeps the zero count exact and its neighbour intact', async () => {
    const ok = randomArray(33, -1, 1, 9);
    const tensors = [Float32Array.from([1, NaN, 0, 2]), Float32Array.from([0, Infinity, 0, -Infinity, 5]), ok];
    const { stats } = await runActivationStats(cpuBackend(), tensors);
    for (const [i, zeros] of [[0, 0.25], [1, 0.4]] as const) {
      expect(stats[i]!.mean).toBeNaN();
      expect(stats[i]!.std).toBeNaN();
      expect(stats[i]!.zeroFraction).toBe(zeros);
    }
    const want = figures(ok);
    expectAllClose([stats[2]!.mean, stats[2]!.std], [want.mean, want.std], { rtol: 1e-5, atol: 0, label: 'finite neighbour' });
  });

  it('rejects an empty tensor', () => {
    const cpu = cpuBackend();
    const b = cpu.createBuffer(256, 'x');
    expect(() => activationStatsLaunches([view(b, 0, 0)], view(b), 'probe')).toThrow(/probe: tensor 0 must hold 1 to 2\^32 - 1 elements, got 0/);
    cpu.destroyBuffer(b);
  });
});

/** Columns 10..13 of its input: a strided view, copied dense before it is measured. */
class Narrow extends nn.Module {
  forward(x: Tensor): Tensor {
    return x.narrow(1, 10, 4);
  }
}

const FEATURES = 3;
const HIDDEN = 16;
const DEAD = 12;

/**
 * Linear(3, 16) → ReLU with units 0..11 dead (bias −10 against |w·x| <= 3) and 12..15 alive
 * (bias +5), columns 10..13 of that, Linear(4, 4), Flatten, Linear(4, 2). The first Linear is
 * fused with its ReLU, so it has no output of its own; Flatten's output is the Linear's before it.
 */
function model() {
  nn.manualSeed(5);
  const first = new nn.Linear(FEATURES, HIDDEN);
  const next = rng(8);
  first.loadStateDict({
    weight: Float32Array.from({ length: HIDDEN * FEATURES }, () => 2 * next() - 1),
    bias: Float32Array.from({ length: HIDDEN }, (_, j) => (j < DEAD ? -10 : 5)),
  });
  return new nn.Sequential(first, new nn.ReLU(), new Narrow(), new nn.Linear(4, 4), new nn.Flatten(), new nn.Linear(4, 2));
}

function trainer(backend: Backend, layerStats?: LayerStatsOptions) {
  const m = model();
  const t = new Trainer(device(backend), m, {
    loss: new nn.CrossEntropyLoss(),
    optimizer: new optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9 }),
    inputShape: [FEATURES],
    ...(layerStats ? { layerStats } : {}),
  });
  return { model: m, trainer: t };
}

function batch(n: number, seed: number) {
  const next = rng(seed);
  return {
    x: Float32Array.from({ length: n * FEATURES }, () => 2 * next() - 1),
    y: Int32Array.from({ length: n }, (_, i) => i % 2),
  };
}

/** y = x Wᵀ + b in float64, for [n, in] rows. */
function linear(x: number[][], w: Float32Array, b: Float32Array): number[][] {
  const outs = b.length;
  return x.map((row) => Array.from({ length: outs }, (_, o) => row.reduce((a, v, i) => a + v * w[o * row.length + i]!, b[o]!)));
}

/** The expected figures of every reported module output, from the weights a step starts from. */
function expected(state: Record<string, Float32Array>, x: Float32Array) {
  const rows = Array.from({ length: x.length / FEATURES }, (_, r) => Array.from(x.subarray(r * FEATURES, (r + 1) * FEATURES)));
  const hidden = linear(rows, state['0.weight']!, state['0.bias']!).map((r) => r.map((v) => Math.max(v, 0)));
  const narrow = hidden.map((r) => r.slice(10, 14));
  const third = linear(narrow, state['3.weight']!, state['3.bias']!);
  const last = linear(third, state['5.weight']!, state['5.bias']!);
  return { '1': figures(hidden.flat()), '2': figures(narrow.flat()), '3': figures(third.flat()), '4': figures(third.flat()), '5': figures(last.flat()) };
}

describe('Trainer layerStats.activations (CPU backend)', () => {
  it('each module output against a float64 forward from the weights of the step; dead ReLUs counted', async () => {
    const { model: m, trainer: t } = trainer(cpuBackend(), { every: 2, activations: true });
    const data = batch(10, 1);
    for (let step = 0; step < 5; step++) {
      const state = await m.stateDict();
      const rec = await t.step(data.x, data.y).record;
      if (step % 2 !== 0) {
        expect(rec.activationStats, `step ${step}`).toBeUndefined();
        expect(rec.layerStats, `step ${step}`).toBeUndefined();
        continue;
      }
      expect(Object.keys(rec.layerStats!)).toHaveLength(6);
      const stats = rec.activationStats!;
      expect(Object.keys(stats)).toEqual(['1', '2', '3', '4', '5']);
      for (const [path, want] of Object.entries(expected(state, data.x))) {
        const s = stats[path]!;
        const label = `step ${step} '${path}'`;
        expectAllClose([s.mean, s.std], [want.mean, want.std], { rtol: 1e-5, atol: 1e-7, label });
        expect(s.zeroFraction, `${label} zeroFraction`).toBe(want.zeroFraction);
      }
      // The dead units stay dead (no gradient reaches them); the narrowed columns hold 2 of each.
      expect(stats['1']!.zeroFraction).toBe(DEAD / HIDDEN);
      expect(stats['2']!.zeroFraction).toBe(0.5);
      expect(stats['4']).toEqual(stats['3']);
    }
    expect(t.history.filter((r) => r.activationStats).map((r) => r.step)).toEqual([0, 2, 4]);
    await t.dispose();
  });

  it('untracked steps run the plain program: same dispatches and memory as without statistics', async () => {
    const cpu = cpuBackend();
    const runs: { label: string; launches: number }[] = [];
    const counting = Object.create(cpu) as Backend;
    counting.run = (program: Program, copies) => {
      runs.push({ label: program.label, launches: program.launchCount });
      cpu.run.call(counting, program, copies);
    };
    const { trainer: t } = trainer(counting, { every: 3, activations: true });
    const { trainer: plain } = trainer(cpuBackend());
    const { trainer: paramsOnly } = trainer(cpuBackend(), { every: 3 });
    const d = t.describeStep(8);
    const p = plain.describeStep(8);
    expect(d.dispatches).toBe(p.dispatches);
    expect(d.scratchBytes).toBe(p.scratchBytes);
    expect(d.kernels).toEqual(p.kernels);
    // Two for the parameters, one activation_stats dispatch for the 4 distinct outputs ('3' and
    // '4' are one tensor), one copy of the narrowed view.
    expect(d.trackedDispatches).toBe(4);
    expect(d.trackedScratchBytes).toBeGreaterThan(0);
    expect(paramsOnly.describeStep(8).trackedDispatches).toBe(2);
    expect(paramsOnly.describeStep(8).trackedScratchBytes).toBe(0);
    const data = batch(8, 2);
    const records: Promise<StepRecord>[] = [];
    for (let i = 0; i < 7; i++) records.push(t.step(data.x, data.y).record);
    const done = await Promise.all(records);
    expect(done.map((r) => r.activationStats !== undefined)).toEqual([true, false, false, true, false, false, true]);
    const steps = runs.filter((r) => r.label.startsWith('train['));
    expect(steps.map((r) => r.launches - d.dispatches)).toEqual([4, 0, 0, 4, 0, 0, 4]);
    // Without `activations` the records carry parameter figures only.
    const rec = await paramsOnly.step(data.x, data.y).record;
    expect(rec.layerStats).toBeDefined();
    expect(rec).not.toHaveProperty('activationStats');
    for (const x of [t, plain, paramsOnly]) await x.dispose();
  });

  it('tracked and untracked steps train identically', async () => {
    const data = batch(8, 3);
    const run = async (layerStats?: LayerStatsOptions) => {
      const { model: m, trainer: t } = trainer(cpuBackend(), layerStats);
      const losses: number[] = [];
      for (let i = 0; i < 4; i++) losses.push(await t.step(data.x, data.y).loss);
      const state = await m.stateDict();
      await t.dispose();
      return { losses, state };
    };
    const tracked = await run({ every: 1, activations: true });
    const plain = await run();
    expect(tracked.losses).toEqual(plain.losses);
    expect(tracked.state).toEqual(plain.state);
  });

  it('rejects a non-boolean activations option', () => {
    expect(() => trainer(cpuBackend(), { every: 1, activations: 'yes' } as unknown as LayerStatsOptions)).toThrow(
      /layerStats\.activations must be true or false, got "yes"/,
    );
  });
});
