/**
 * AverageGradientLR on the CPU backend: the rates the trainer records follow
 * lr0 / (sqrt(v_t / (1 - beta^t)) + eps), v_t = beta v_{t-1} + (1 - beta) ||g_t||^2, computed here
 * in float64 from the recorded norms; the host copy of the running mean equals the device's;
 * checkpoints and findLr keep it; option checks.
 */
import { describe, expect, it } from 'vitest';
import { gaussians } from '../../src/data/synthetic.js';
import { createDevice } from '../../src/device.js';
import * as io from '../../src/io/index.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { averageLr } from '../../src/kernels/average-lr.js';
import { Trainer } from '../../src/train/trainer.js';
import { cpuBackend, runKernel } from '../harness.js';

const data = gaussians({ n: 48, classes: 3, seed: 2 });
const FIT = { batchSize: 8, seed: 1 } as const;

async function setup(options: optim.lr.AverageGradientLROptions, { lr = 0.3, l2 = 0, optimizer = 'SGD' as 'SGD' | 'Adam' } = {}) {
  nn.manualSeed(3);
  const model = new nn.Sequential(new nn.Linear(2, 8), new nn.Tanh(), new nn.Linear(8, 3));
  const opt = optimizer === 'SGD' ? new optim.SGD(model.parameters(), { lr }) : new optim.Adam(model.parameters(), { lr });
  const scheduler = new optim.lr.AverageGradientLR(opt, options);
  const device = await createDevice({ backend: 'cpu' });
  const trainer = new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer: opt, scheduler, inputShape: [2], l2 });
  return { model, optimizer: opt, scheduler, trainer, device };
}

/** The rates of the formula, in float64, from the recorded norms. */
function formula(norms: readonly number[], lr0: number, beta: number, eps: number): number[] {
  let v = 0;
  return norms.map((n, i) => {
    v = beta * v + (1 - beta) * n * n;
    return lr0 / (Math.sqrt(v / (1 - beta ** (i + 1))) + eps);
  });
}

function expectRel(actual: readonly number[], expected: readonly number[], rtol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    if (Math.abs(a - expected[i]!) > rtol * Math.abs(expected[i]!)) {
      throw new Error(`step ${i}: rate ${a}, formula ${expected[i]} (relative error ${Math.abs(a - expected[i]!) / Math.abs(expected[i]!)})`);
    }
  });
}

describe('AverageGradientLR in training', () => {
  it('records lr0 / (sqrt(v_t / (1 - beta^t)) + eps) of the recorded norms', async () => {
    const { trainer, optimizer, scheduler } = await setup({ beta: 0.8, eps: 0.05 });
    await trainer.fit(data, { ...FIT, epochs: 2 });
    const h = trainer.history;
    expect(h).toHaveLength(12);
    const norms = h.map((r) => r.gradNorm);
    expect(norms.every((n) => Number.isFinite(n) && n > 0)).toBe(true);
    expectRel(h.map((r) => r.lr), formula(norms, 0.3, 0.8, 0.05), 2e-6);
    // eps is added to the root, not a floor: without it the rates would differ by far more than the tolerance.
    expect(Math.max(...formula(norms, 0.3, 0.8, 0).map((lr, i) => Math.abs(lr - h[i]!.lr) / h[i]!.lr))).toBeGreaterThan(1e-3);
    // The rates vary with the norms, and the groups keep the base rate.
    expect(new Set(h.map((r) => r.lr)).size).toBeGreaterThan(6);
    expect(optimizer.paramGroups[0]!.lr).toBe(0.3);
    expect(scheduler.getLastLr()).toEqual([0.3]);
    expect(scheduler.lastEpoch).toBe(12);
    expect(scheduler.normsObserved).toBe(12);
  });

  it('the default beta 0.9 and eps 1e-8, with a penalty in the norm, and Adam', async () => {
    const { trainer, scheduler } = await setup({}, { lr: 0.01, l2: 0.1, optimizer: 'Adam' });
    expect([scheduler.beta, scheduler.eps]).toEqual([0.9, 1e-8]);
    await trainer.fit(data, { ...FIT, epochs: 1 });
    const h = trainer.history;
    expectRel(h.map((r) => r.lr), formula(h.map((r) => r.gradNorm), 0.01, 0.9, 1e-8), 2e-6);
  });

  it('beta = 0 follows each step\'s own norm: lr0 / (||g_t|| + eps)', async () => {
    const { trainer } = await setup({ beta: 0, eps: 1e-3 });
    await trainer.fit(data, { ...FIT, epochs: 1 });
    expectRel(trainer.history.map((r) => r.lr), trainer.history.map((r) => 0.3 / (r.gradNorm + 1e-3)), 2e-6);
  });

  it('the update uses the recorded rate', async () => {
    const { trainer, model } = await setup({ beta: 0.5 });
    const x = data.x.subarray(0, 16);
    const y = data.y.subarray(0, 8);
    await trainer.step(x, y).record;
    const before = await model.stateDict();
    const rec = await trainer.step(x, y).record;
    const grads = await trainer.gradients();
    const after = await model.stateDict();
    for (const name of Object.keys(before)) {
      const b = before[name]!;
      const g = grads[name]!;
      for (let i = 0; i < b.length; i++) expect(after[name]![i]).toBeCloseTo(b[i]! - rec.lr * g[i]!, 6);
    }
  });

  it('the host copy of the running mean equals the device buffer, bit for bit', async () => {
    const { trainer, scheduler, device } = await setup({ beta: 0.7 });
    await trainer.fit(data, { ...FIT, epochs: 1 });
    await trainer.idle();
    const buffer = scheduler.onDevice().gradNormLR!.average!.buffer(device.backend);
    const pair = new Float32Array(await device.backend.read(buffer, 0, 8));
    expect([pair[0], pair[1]]).toEqual([scheduler.running.mean, scheduler.running.decay]);
    expect(scheduler.running.decay).toBeCloseTo(0.7 ** 6, 6);
  });

  it('lrForNorm gives the worked example of the documentation', () => {
    const s = new optim.lr.AverageGradientLR({ paramGroups: [{ lr: 0.1 }] }, { beta: 0.9 });
    expect(s.lrForNorm(2)[0]).toBeCloseTo(0.05, 7);
    s.observeNorm(2);
    expect(s.lrForNorm(1)[0]).toBeCloseTo(0.1 / Math.sqrt(0.46 / 0.19), 6);
  });
});

describe('the average_lr kernel on the CPU twin', () => {
  it('folds a finite norm in and leaves the mean as it was for a non-finite one', async () => {
    const backend = cpuBackend();
    const stats = (norm: number) => Float32Array.from([norm, 1, 7, 0, 0]);
    const out = await runKernel(backend, averageLr, { inputs: { running: Float32Array.from([0.5, 0.25]), stats: stats(2) }, params: { beta: 0.5, eps: 0.01 }, workgroups: [1, 1, 1] });
    // v = 0.5 * 0.5 + 0.5 * 4 = 2.25, p = 0.125, factor = 1 / (sqrt(2.25 / 0.875) + 0.01)
    expect(Array.from(out.running!)).toEqual([2.25, 0.125]);
    expect(out.stats![2]).toBeCloseTo(1 / (Math.sqrt(2.25 / 0.875) + 0.01), 6);
    expect(Array.from(out.stats!).filter((_, i) => i !== 2)).toEqual([2, 1, 0, 0]);
    for (const bad of [NaN, Infinity]) {
      const kept = await runKernel(backend, averageLr, { inputs: { running: Float32Array.from([0.5, 0.25]), stats: stats(bad) }, params: { beta: 0.5, eps: 0.01 }, workgroups: [1, 1, 1] });
      expect(Array.from(kept.running!)).toEqual([0.5, 0.25]);
      expect(kept.stats![2]).toBeCloseTo(1 / (Math.sqrt(0.5 / 0.75) + 0.01), 6);
    }
    const s = new optim.lr.AverageGradientLR({ paramGroups: [{ lr: 1 }] }, { beta: 0.5 });
    s.observeNorm(2);
    s.observeNorm(NaN);
    expect(s.running).toEqual({ mean: 2, decay: 0.5 });
  });
});

describe('AverageGradientLR state', () => {
  it('a checkpoint after 6 steps, loaded into a fresh trainer, goes on as 12 steps straight', async () => {
    const straight = await setup({ beta: 0.6, eps: 1e-4 });
    await straight.trainer.fit(data, { ...FIT, epochs: 2 });

    const first = await setup({ beta: 0.6, eps: 1e-4 });
    await first.trainer.fit(data, { ...FIT, epochs: 1 });
    const bytes = await io.saveCheckpoint(first.trainer);
    const second = await setup({ beta: 0.6, eps: 1e-4 });
    await io.loadCheckpoint(second.trainer, bytes);
    expect(second.scheduler.running).toEqual(first.scheduler.running);
    await second.trainer.fit(data, { ...FIT, epochs: 1 });
    expect(second.trainer.history.map((r) => r.lr)).toEqual(straight.trainer.history.slice(6).map((r) => r.lr));
    expect(second.trainer.history.map((r) => r.loss)).toEqual(straight.trainer.history.slice(6).map((r) => r.loss));
  });

  it('stateDict round-trips and refuses a bad running mean', () => {
    const groups = { paramGroups: [{ lr: 0.2 }] };
    const s = new optim.lr.AverageGradientLR(groups, { beta: 0.5 });
    s.observeNorm(3);
    s.step();
    const t = new optim.lr.AverageGradientLR({ paramGroups: [{ lr: 0.2 }] }, { beta: 0.5 });
    t.loadStateDict(JSON.parse(JSON.stringify(s.stateDict())) as Record<string, unknown>);
    expect(t.running).toEqual(s.running);
    expect(t.lrForNorm(1)).toEqual(s.lrForNorm(1));
    expect(t.lastEpoch).toBe(1);
    expect(() => t.loadStateDict({ ...s.stateDict(), decay: 2 })).toThrow('AverageGradientLR.loadStateDict: state.decay must be in [0, 1], got 2');
    expect(() => t.loadStateDict({ ...s.stateDict(), mean: 'x' })).toThrow("AverageGradientLR: state.mean must be a number, got \"x\"");
  });

  it('findLr leaves the running mean as it was', async () => {
    const a = await setup({ beta: 0.8 });
    const b = await setup({ beta: 0.8 });
    await a.trainer.fit(data, { ...FIT, epochs: 1 });
    await b.trainer.fit(data, { ...FIT, epochs: 1 });
    await b.trainer.findLr(data, { batchSize: 8, steps: 5 });
    await a.trainer.fit(data, { ...FIT, epochs: 1 });
    await b.trainer.fit(data, { ...FIT, epochs: 1 });
    expect(b.trainer.history.map((r) => r.lr)).toEqual(a.trainer.history.map((r) => r.lr));
  });
});

describe('AverageGradientLR options', () => {
  const opt = () => ({ paramGroups: [{ lr: 0.1 }] });
  it.each([
    ['beta below 0', () => new optim.lr.AverageGradientLR(opt(), { beta: -0.1 }), 'AverageGradientLR: beta must be a finite number >= 0 and < 1, got -0.1'],
    ['beta 1', () => new optim.lr.AverageGradientLR(opt(), { beta: 1 }), 'AverageGradientLR: beta must be a finite number >= 0 and < 1, got 1'],
    ['beta NaN', () => new optim.lr.AverageGradientLR(opt(), { beta: NaN }), 'AverageGradientLR: beta must be a finite number >= 0 and < 1, got NaN'],
    ['eps 0', () => new optim.lr.AverageGradientLR(opt(), { eps: 0 }), 'AverageGradientLR: eps must be a finite number > 0, got 0'],
    ['unknown key', () => new optim.lr.AverageGradientLR(opt(), { gamma: 1 } as never), "AverageGradientLR: unknown option 'gamma' (known: beta, eps)"],
    ['lrAt', () => new optim.lr.AverageGradientLR(opt()).lrAt(2), 'AverageGradientLR.lrAt is unavailable: the rate depends on the gradient norms of the steps so far'],
  ])('%s', (_name, make, message) => {
    expect(make).toThrow(message);
  });
});
