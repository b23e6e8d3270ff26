import { afterEach, describe, expect, it, vi } from 'vitest';
import * as data from '../../src/data/index.js';
import { createDevice } from '../../src/device.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { epochBatches, type Samples } from '../../src/train/batch.js';
import { smoothLosses, suggestLr, sweepLrs } from '../../src/train/find-lr.js';
import { Trainer } from '../../src/train/trainer.js';

/** The bits of every value, so that a comparison is exact (NaN payloads and -0 included). */
function bits(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

function expectSameBits(a: Record<string, Float32Array>, b: Record<string, Float32Array>, what: string): void {
  expect(Object.keys(a), what).toEqual(Object.keys(b));
  for (const k of Object.keys(a)) expect(bits(a[k]!), `${what} ${k}`).toEqual(bits(b[k]!));
}

const SPIRAL = data.spiral({ n: 96, seed: 3 });

/** Linear-BatchNorm-ReLU-Dropout-Linear under Adam, OneCycleLR (it cycles Adam's betas) and clipping. */
async function setup(seed = 11) {
  nn.manualSeed(seed);
  const model = new nn.Sequential(new nn.Linear(2, 16), new nn.BatchNorm1d(16), new nn.ReLU(), new nn.Dropout(0.2), new nn.Linear(16, 3));
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
  const scheduler = new optim.lr.OneCycleLR(optimizer, { maxLr: 0.05, totalSteps: 40 });
  const device = await createDevice({ backend: 'cpu' });
  const trainer = new Trainer(device, model, {
    loss: new nn.CrossEntropyLoss(),
    optimizer,
    scheduler,
    inputShape: [2],
    clipGradNorm: 1,
    seed: 5,
  });
  return { model, optimizer, scheduler, trainer };
}

/** A fixed list of batches, so that two trainers see the same ones. */
function batches(count: number, size: number): Samples[] {
  const out: Samples[] = [];
  for (let epoch = 0; out.length < count; epoch++) {
    for (const b of epochBatches(SPIRAL, [2], size, { shuffle: true, seed: 100 + epoch, dropLast: true })) if (out.length < count) out.push(b);
  }
  return out;
}

async function steps(trainer: Trainer, list: Samples[]): Promise<void> {
  await Promise.all(list.map(({ x, y }) => trainer.step(x, y).record));
}

/** Everything training depends on, read from the outside. */
async function everything(s: Awaited<ReturnType<typeof setup>>) {
  const opt = await s.optimizer.stateDict();
  return {
    model: await s.model.stateDict(),
    optimizer: opt.state,
    optimizerRest: { paramGroups: opt.paramGroups, step: opt.step },
    gradients: await s.trainer.gradients(),
    scheduler: s.scheduler.stateDict(),
    lrs: s.optimizer.paramGroups.map((g) => g.lr),
    history: s.trainer.history.map((r) => ({ ...r })),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('sweepLrs', () => {
  it('spaces the rates evenly in log lr from startLr to endLr', () => {
    const lrs = sweepLrs(1e-7, 10, 100);
    expect(lrs).toHaveLength(100);
    expect(lrs[0]).toBe(1e-7);
    expect(lrs[99]! / 10).toBeCloseTo(1, 12);
    const ratio = Math.pow(1e8, 1 / 99);
    for (let i = 1; i < 100; i++) expect(lrs[i]! / lrs[i - 1]! / ratio).toBeCloseTo(1, 12);
    expect(sweepLrs(1e-3, 1e-1, 3).map((v) => +v.toPrecision(12))).toEqual([1e-3, 1e-2, 1e-1]);
  });
});

describe('smoothLosses', () => {
  it('is the bias-corrected exponential moving average', () => {
    // beta 0.5: a = 0.5, 1.25, 2.125 over corrections 0.5, 0.75, 0.875.
    const s = smoothLosses([1, 2, 3], 0.5);
    expect(s[0]).toBeCloseTo(1, 14);
    expect(s[1]).toBeCloseTo(5 / 3, 14);
    expect(s[2]).toBeCloseTo(17 / 7, 14);
    expect(smoothLosses([4, 4, 4, 4], 0.98).every((v) => Math.abs(v - 4) < 1e-12)).toBe(true);
    expect(smoothLosses([3, 1, 2], 0)).toEqual([3, 1, 2]);
  });
});

describe('suggestLr', () => {
  const lrs = Array.from({ length: 61 }, (_, i) => Math.pow(10, -6 + 0.1 * i));

  it('picks the start of the steepest descent of a synthetic curve against log lr', () => {
    // Falls fastest at log10 lr = -3.05, the middle of the segment from lrs[29] to lrs[30]; then
    // rises steeply (divergence), which must not count as descent.
    const curve = lrs.map((lr) => {
      const x = Math.log10(lr);
      return 2 - Math.tanh(2 * (x + 3.05)) + (x > -1 ? 50 * (x + 1) ** 2 : 0);
    });
    expect(suggestLr(lrs, curve)).toBe(lrs[29]);
  });

  it('ranks segments by slope against log lr, not by loss difference', () => {
    // Differences -0.1, -0.05, -0.35; slopes -0.043, -0.52, -0.078 per unit of ln lr.
    expect(suggestLr([1e-4, 1e-3, 1.1e-3, 1e-1], [1, 0.9, 0.85, 0.5])).toBe(1e-3);
  });

  it('skips non-finite points, takes the first of equal slopes, and gives null without descent', () => {
    expect(suggestLr([1e-3, 1e-2, 1e-1, 1], [1, 0.5, NaN, -100])).toBe(1e-3);
    expect(suggestLr([0.25, 0.5, 1], [2, 1, 0])).toBe(0.25);
    expect(suggestLr([1e-3, 1e-2, 1e-1], [1, 1, 2])).toBeNull();
    expect(suggestLr([1e-3], [1])).toBeNull();
    expect(() => suggestLr([1e-3, 1e-2], [1])).toThrow(/2 rates but 1 losses/);
  });
});

describe('Trainer.findLr (CPU backend)', () => {
  it('leaves parameters, buffers, gradients, optimizer and schedule bit for bit as they were', async () => {
    const s = await setup();
    await steps(s.trainer, batches(3, 16));
    const before = await everything(s);
    const found = await s.trainer.findLr(SPIRAL, { startLr: 1e-4, endLr: 1, steps: 12, batchSize: 16 });
    expect(found.losses).toHaveLength(12);
    // The sweep trained for real: its losses moved.
    expect(new Set(found.losses).size).toBeGreaterThan(1);
    const after = await everything(s);
    expectSameBits(after.model, before.model, 'model');
    expect(Object.keys(before.model)).toContain('1.running_mean');
    expectSameBits(after.optimizer, before.optimizer, 'optimizer');
    expectSameBits(after.gradients, before.gradients, 'gradients');
    expect(after.optimizerRest).toEqual(before.optimizerRest);
    expect(after.scheduler).toEqual(before.scheduler);
    expect(after.lrs).toEqual(before.lrs);
    expect(after.history).toEqual(before.history);
  });

  it('training after findLr is training without it, bit for bit (Adam, OneCycleLR, BatchNorm, dropout)', async () => {
    const list = batches(10, 16);
    const a = await setup();
    await steps(a.trainer, list.slice(0, 4));
    const found = await a.trainer.findLr(SPIRAL, { startLr: 1e-5, endLr: 10, steps: 30, batchSize: 24, seed: 2 });
    expect(found.lrs.length).toBeGreaterThan(1);
    await steps(a.trainer, list.slice(4));
    const b = await setup();
    await steps(b.trainer, list);
    const [ea, eb] = [await everything(a), await everything(b)];
    expect(ea.history.map((r) => r.step)).toEqual(eb.history.map((r) => r.step));
    expect(ea.history).toEqual(eb.history);
    expectSameBits(ea.model, eb.model, 'model');
    expectSameBits(ea.optimizer, eb.optimizer, 'optimizer');
    expectSameBits(ea.gradients, eb.gradients, 'gradients');
    expect(ea.optimizerRest).toEqual(eb.optimizerRest);
    expect(ea.scheduler).toEqual(eb.scheduler);
  });

  it('runs real steps at lr_i on shuffled batches, every group at the same rate, outside the schedule', async () => {
    const build = async () => {
      nn.manualSeed(2);
      const model = new nn.Sequential(new nn.Linear(2, 8), new nn.Tanh(), new nn.Linear(8, 3));
      const [w0, b0, w1, b1] = model.parameters();
      const optimizer = new optim.SGD([{ params: [w0!, b0!] }, { params: [w1!, b1!], lr: 0.5 }], { lr: 0.1, momentum: 0.9 });
      const scheduler = new optim.lr.StepLR(optimizer, { stepSize: 1, gamma: 0.1 });
      const device = await createDevice({ backend: 'cpu' });
      return { optimizer, trainer: new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer, scheduler, inputShape: [2] }) };
    };
    const swept = await build();
    const found = await swept.trainer.findLr(SPIRAL, { startLr: 1e-3, endLr: 3, steps: 10, batchSize: 40, seed: 9, divergeFactor: Infinity });
    expect(swept.optimizer.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.5]);

    // The same steps by hand: two whole batches per epoch (the last 16 samples are skipped),
    // epoch e shuffled with seed 9 + e, both groups at lr_i, the schedule never stepped.
    const manual = await build();
    const order: Samples[] = [];
    for (let epoch = 0; order.length < 10; epoch++) order.push(...epochBatches(SPIRAL, [2], 40, { shuffle: true, seed: 9 + epoch, dropLast: true }));
    const losses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const lr = 1e-3 * Math.pow(3 / 1e-3, i / 9);
      for (const g of manual.optimizer.paramGroups) g.lr = lr;
      const { x, y } = order[i]!;
      losses.push(await manual.trainer.step(x, y).loss);
      expect(found.lrs[i]! / lr).toBeCloseTo(1, 12);
    }
    expect(found.losses).toEqual(losses);
    expect(found.diverged).toBe(false);
  });

  it('returns the smoothed losses and the suggestion by the documented rules', async () => {
    const s = await setup();
    const found = await s.trainer.findLr(SPIRAL, { startLr: 1e-4, endLr: 1, steps: 20, batchSize: 16, smoothing: 0.8, divergeFactor: Infinity });
    expect(found.lrs).toHaveLength(20);
    expect(found.smoothed).toEqual(smoothLosses(found.losses, 0.8));
    expect(found.suggestion).toBe(suggestLr(found.lrs, found.smoothed));
    const raw = await s.trainer.findLr(SPIRAL, { startLr: 1e-4, endLr: 1, steps: 20, batchSize: 16, smoothing: 0, divergeFactor: Infinity });
    expect(raw.smoothed).toEqual(raw.losses);
    // The same trainer state and seed give the same sweep; another seed another batch order.
    expect(raw.losses).toEqual(found.losses);
    const other = await s.trainer.findLr(SPIRAL, { startLr: 1e-4, endLr: 1, steps: 20, batchSize: 16, seed: 1, divergeFactor: Infinity });
    expect(other.losses).not.toEqual(found.losses);
  });

  it('stops at the first divergent step, quietly, and leaves no trace of it', async () => {
    nn.manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(2, 16), new nn.ReLU(), new nn.Linear(16, 3));
    const optimizer = new optim.SGD(model.parameters(), { lr: 0.1 });
    const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, {
      loss: new nn.CrossEntropyLoss(),
      optimizer,
      inputShape: [2],
      onNonFinite: 'throw',
    });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const before = await model.stateDict();
    const found = await trainer.findLr(SPIRAL, { startLr: 1e-3, endLr: 1e6, steps: 80, batchSize: 32 });
    expect(found.diverged).toBe(true);
    const n = found.lrs.length;
    expect(n).toBeLessThan(80);
    expect(found.losses).toHaveLength(n);
    // The last step diverged (non-finite, or over 4 times the lowest smoothed loss before it)...
    const lowest = (k: number) => Math.min(...found.smoothed.slice(0, k));
    const last = found.losses[n - 1]!;
    expect(!Number.isFinite(last) || found.smoothed[n - 1]! > 4 * lowest(n - 1)).toBe(true);
    // ...and none before it did.
    for (let k = 1; k < n - 1; k++) expect(found.smoothed[k]!).toBeLessThanOrEqual(4 * lowest(k));
    expect(found.losses.slice(0, n - 1).every(Number.isFinite)).toBe(true);
    expect(warn).not.toHaveBeenCalled();
    expect(trainer.history).toHaveLength(0);
    expectSameBits(await model.stateDict(), before, 'model');
    expect(optimizer.stepCount).toBe(0);
    expect((await trainer.step(SPIRAL.x.subarray(0, 8), SPIRAL.y.subarray(0, 4)).record).step).toBe(0);
  });

  it('accepts a Dataset whose size is the batch size (every step a new epoch)', async () => {
    const s = await setup();
    const small = data.moons({ n: 16, seed: 4 });
    const found = await s.trainer.findLr(small, { steps: 5, batchSize: 16, divergeFactor: Infinity });
    expect(found.lrs).toHaveLength(5);
    expect(found.lrs[0]).toBe(1e-7);
    expect(found.lrs[4]! / 10).toBeCloseTo(1, 12);
  });

  it('restores everything when a step fails in the middle of the sweep', async () => {
    const s = await setup();
    await steps(s.trainer, batches(2, 16));
    const before = await everything(s);
    const bad = { x: SPIRAL.x, y: SPIRAL.y.map((v, i) => (i === 50 ? 7 : v)) };
    await expect(s.trainer.findLr(bad, { steps: 10, batchSize: 16, seed: 0 })).rejects.toThrow(/y holds class 7 at sample \d+ of the batch, outside \[0, \d+\)/);
    const after = await everything(s);
    expectSameBits(after.model, before.model, 'model');
    expectSameBits(after.optimizer, before.optimizer, 'optimizer');
    expect(after.optimizerRest).toEqual(before.optimizerRest);
    expect(after.scheduler).toEqual(before.scheduler);
    expect(after.lrs).toEqual(before.lrs);
    expect(after.history).toEqual(before.history);
  });

  it('rejects bad options with a message naming the option, before touching anything', async () => {
    const s = await setup();
    const cases: [object, RegExp][] = [
      [{ startLr: 0 }, /startLr must be a finite number > 0, got 0/],
      [{ startLr: NaN }, /startLr must be a finite number > 0, got NaN/],
      [{ startLr: 1e-3, endLr: 1e-3 }, /endLr must be a finite number > startLr \(0\.001\), got 0\.001/],
      [{ endLr: Infinity }, /endLr must be a finite number > startLr/],
      [{ steps: 1 }, /steps must be an integer >= 2, got 1/],
      [{ steps: 2.5 }, /steps must be an integer >= 2, got 2\.5/],
      [{ batchSize: 0 }, /batchSize must be an integer >= 1, got 0/],
      [{ batchSize: undefined }, /batchSize must be an integer >= 1, got undefined/],
      [{ batchSize: 97 }, /batchSize must be at most the number of samples \(96\), got 97/],
      [{ smoothing: 1 }, /smoothing must be a number in \[0, 1\), got 1/],
      [{ smoothing: -0.1 }, /smoothing must be a number in \[0, 1\), got -0\.1/],
      [{ divergeFactor: 1 }, /divergeFactor must be a number > 1 \(Infinity: never stop early\), got 1/],
      [{ seed: -1 }, /seed must be an integer >= 0, got -1/],
    ];
    for (const [bad, message] of cases) {
      await expect(s.trainer.findLr(SPIRAL, { batchSize: 16, ...bad } as never), JSON.stringify(bad)).rejects.toThrow(message);
    }
    await expect(s.trainer.findLr({ x: SPIRAL.x.subarray(0, 5), y: SPIRAL.y }, { batchSize: 1 })).rejects.toThrow(/not a multiple of inputShape/);
    expect(s.optimizer.stepCount).toBe(0);
    await s.trainer.dispose();
    await expect(s.trainer.findLr(SPIRAL, { batchSize: 16 })).rejects.toThrow(/findLr\(\) after dispose/);
  });
});
