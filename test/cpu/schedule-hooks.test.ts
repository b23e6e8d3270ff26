/**
 * Schedules reach the Trainer only through their hooks (afterStep, onRecord, afterEpoch,
 * onDevice): a schedule of one's own, and each kind of built-in one, driven by Trainer.step and
 * Trainer.fit.
 */
import { describe, expect, it } from 'vitest';
import { gaussians } from '../../src/data/synthetic.js';
import { createDevice } from '../../src/device.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import type { EpochSummary } from '../../src/train/fit.js';
import { type Scheduler, type StepRecord, Trainer } from '../../src/train/trainer.js';

const train = gaussians({ n: 60, classes: 3, seed: 4 });
const held = gaussians({ n: 30, classes: 3, seed: 5 });

async function setup(lr: number, schedule: (o: optim.Optimizer) => Scheduler) {
  nn.manualSeed(6);
  const model = new nn.Sequential(new nn.Linear(2, 8), new nn.Tanh(), new nn.Linear(8, 3));
  const optimizer = new optim.SGD(model.parameters(), { lr });
  const scheduler = schedule(optimizer);
  const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, { loss: new nn.CrossEntropyLoss(), optimizer, scheduler, inputShape: [2] });
  return { trainer, optimizer, scheduler };
}

describe('a schedule of your own', () => {
  it('gets every hook: afterStep per step, onRecord in order, afterEpoch per epoch, onDevice once', async () => {
    const calls = { afterStep: 0, onDevice: 0 };
    const records: StepRecord[] = [];
    const epochs: EpochSummary[] = [];
    const { trainer } = await setup(0.1, () => ({
      afterStep: () => void calls.afterStep++,
      onRecord: (r) => void records.push(r as StepRecord),
      afterEpoch: (s) => void epochs.push(s as EpochSummary),
      onDevice: () => (calls.onDevice++, { gradNormLR: { gamma: 1, eps: 1e-3 } }),
    }));
    const summaries = await trainer.fit(train, { epochs: 2, batchSize: 20, validation: held });
    expect(calls).toEqual({ afterStep: 6, onDevice: 1 });
    expect(records.map((r) => r.step)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(epochs).toEqual(summaries);
    // onDevice's request is carried out on the device: lr = 0.1 / max(||g||, 1e-3).
    for (const r of records) expect(r.lr).toBeCloseTo(0.1 / Math.max(r.gradNorm, 1e-3), 6);
  });

  it('a rate set in afterStep is the next step\'s', async () => {
    const { trainer, optimizer } = await setup(0.1, (o) => ({ afterStep: () => void (o.paramGroups[0]!.lr *= 0.5) }));
    const data = { x: train.x.subarray(0, 40), y: train.y.subarray(0, 20) };
    const rates = await Promise.all([0, 1, 2].map(async () => (await trainer.step(data.x, data.y).record).lr));
    expect(rates).toEqual([0.1, 0.05, 0.025]);
    expect(optimizer.paramGroups[0]!.lr).toBe(0.0125);
  });
});

describe('the built-in schedules through their hooks', () => {
  it('a closed-form schedule advances once per step', async () => {
    const { trainer, scheduler } = await setup(0.1, (o) => new optim.lr.StepLR(o, { stepSize: 2, gamma: 0.5 }));
    await trainer.fit(train, { epochs: 2, batchSize: 20 });
    const step = scheduler as optim.lr.StepLR;
    expect(step.lastEpoch).toBe(6);
    expect(trainer.history.map((r) => r.lr)).toEqual([0, 1, 2, 3, 4, 5].map((t) => step.lrAt(t)[0]));
  });

  it('BoldDriver sees every loss in order and sets the rates from them', async () => {
    const { trainer, scheduler } = await setup(0.1, (o) => new optim.lr.BoldDriver(o, { increase: 1.1, decrease: 0.5 }));
    await trainer.fit(train, { epochs: 3, batchSize: 20 });
    const bold = scheduler as optim.lr.BoldDriver;
    expect(bold.lossesObserved).toBe(9);
    expect(bold.lastEpoch).toBe(9);
    // The same losses fed by hand to a fresh BoldDriver give the same final rate.
    const again = new optim.lr.BoldDriver({ paramGroups: [{ lr: 0.1 }] }, { increase: 1.1, decrease: 0.5 });
    for (const r of trainer.history) again.observeLoss(r.loss);
    expect(bold.getLastLr()).toEqual(again.getLastLr());
  });

  it('GradientNormLR asks for the scaling on the device', async () => {
    const { trainer } = await setup(0.2, (o) => new optim.lr.GradientNormLR(o, { gamma: 0.5, eps: 1e-2 }));
    await trainer.fit(train, { epochs: 1, batchSize: 20 });
    for (const r of trainer.history) expect(r.lr).toBeCloseTo(0.2 / Math.max(r.gradNorm, 1e-2) ** 0.5, 6);
  });

  it('ReduceLROnPlateau steps once per epoch, on the mean training loss without a validation set', async () => {
    const { trainer, scheduler } = await setup(0.1, (o) => new optim.lr.ReduceLROnPlateau(o, { patience: 100 }));
    const summaries = await trainer.fit(train, { epochs: 3, batchSize: 20 });
    const plateau = scheduler as optim.lr.ReduceLROnPlateau;
    expect(plateau.lastEpoch).toBe(3);
    expect(plateau.best).toBe(Math.min(...summaries.map((s) => s.loss)));
  });

  it('ReduceLROnPlateau stays the caller\'s to step in a loop of their own', async () => {
    const { trainer, scheduler } = await setup(0.1, (o) => new optim.lr.ReduceLROnPlateau(o, { patience: 0, factor: 0.5 }));
    const plateau = scheduler as optim.lr.ReduceLROnPlateau;
    const data = { x: train.x.subarray(0, 40), y: train.y.subarray(0, 20) };
    await trainer.step(data.x, data.y).record;
    expect(plateau.lastEpoch).toBe(0);
    plateau.step(1);
    plateau.step(2);
    expect(plateau.lastEpoch).toBe(2);
    expect((await trainer.step(data.x, data.y).record).lr).toBe(0.05);
  });
});
