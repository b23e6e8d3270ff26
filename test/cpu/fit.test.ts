import { describe, expect, it } from 'vitest';
import { gaussians } from '../../src/data/synthetic.js';
import { createDevice } from '../../src/device.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import type { StepRecord } from '../../src/train/trainer.js';
import { Trainer } from '../../src/train/trainer.js';

async function setup(scheduler?: (o: optim.Optimizer) => optim.lr.ReduceLROnPlateau) {
  nn.manualSeed(11);
  const model = new nn.Sequential(new nn.Linear(2, 16), new nn.Tanh(), new nn.Linear(16, 3));
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.05 });
  const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, {
    loss: new nn.CrossEntropyLoss(), optimizer, scheduler: scheduler?.(optimizer), inputShape: [2],
  });
  return trainer;
}

describe('Trainer.fit', () => {
  const train = gaussians({ n: 150, classes: 3, seed: 1 });
  const held = gaussians({ n: 60, classes: 3, seed: 2 });

  it('runs whole epochs, reports every step in order and every epoch', async () => {
    const trainer = await setup();
    const steps: StepRecord[] = [];
    const epochs: number[] = [];
    const summaries = await trainer.fit(train, {
      epochs: 4, batchSize: 32, validation: held, syncEvery: 3,
      onStep: (r) => steps.push(r),
      onEpoch: (s) => void epochs.push(s.epoch),
    });
    expect(summaries.map((s) => s.steps)).toEqual([5, 5, 5, 5]);
    expect(steps.map((r) => r.step)).toEqual([...Array(20).keys()]);
    expect(epochs).toEqual([0, 1, 2, 3]);
    expect(summaries[3]!.loss).toBeLessThan(summaries[0]!.loss);
    expect(summaries[3]!.validation!.accuracy).toBeGreaterThan(0.8);
    expect(summaries[3]!.validation).toEqual(await trainer.evaluate(held, { batchSize: 32 }));
  });

  it('stops at the next step once the signal aborts', async () => {
    const trainer = await setup();
    const controller = new AbortController();
    let seen = 0;
    const summaries = await trainer.fit(train, {
      epochs: 10, batchSize: 10, syncEvery: 1, signal: controller.signal,
      onStep: () => {
        if (++seen === 7) controller.abort();
      },
    });
    expect(summaries).toHaveLength(0);
    expect(trainer.history.length).toBeGreaterThanOrEqual(7);
    expect(trainer.history.length).toBeLessThan(15);
  });

  it('steps ReduceLROnPlateau once per epoch with the validation loss', async () => {
    let plateau: optim.lr.ReduceLROnPlateau | undefined;
    const trainer = await setup((o) => (plateau = new optim.lr.ReduceLROnPlateau(o, { patience: 0, factor: 0.5 })));
    await trainer.fit(train, { epochs: 3, batchSize: 50, validation: held });
    expect(plateau!.lastEpoch).toBe(3);
  });

  it('validates its options', async () => {
    const trainer = await setup();
    await expect(trainer.fit(train, { epochs: -1, batchSize: 8 })).rejects.toThrow(/epochs must be an integer >= 0, got -1/);
    await expect(trainer.fit(train, { epochs: 1, batchSize: 0 })).rejects.toThrow(/batchSize must be an integer >= 1, got 0/);
  });
});
