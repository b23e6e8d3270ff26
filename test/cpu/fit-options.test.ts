/** `Trainer.fit` beyond whole epochs: maxSteps, yielding the thread, and plain { x, y } samples. */
import { describe, expect, it } from 'vitest';
import { gaussians } from '../../src/data/synthetic.js';
import { createDevice } from '../../src/device.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { randomArray } from '../harness.js';

async function classifier(scheduler?: optim.lr.TrainingHooks): Promise<Trainer> {
  nn.manualSeed(11);
  const model = new nn.Sequential(new nn.Linear(2, 16), new nn.Tanh(), new nn.Linear(16, 3));
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.05 });
  return new Trainer(await createDevice({ backend: 'cpu' }), model, { loss: new nn.CrossEntropyLoss(), optimizer, scheduler, inputShape: [2] });
}

const train = gaussians({ n: 100, classes: 3, seed: 1 });

describe('fit with maxSteps', () => {
  it('stops after that many steps in total, summarising the epoch it cuts short', async () => {
    const trainer = await classifier();
    const summaries = await trainer.fit(train, { epochs: 5, batchSize: 32, maxSteps: 6 });
    expect(trainer.history).toHaveLength(6);
    expect(summaries.map((s) => s.steps)).toEqual([4, 2]);
    expect(summaries[1]!.loss).toBeCloseTo((trainer.history[4]!.loss + trainer.history[5]!.loss) / 2, 6);
  });

  it('runs epoch after epoch when epochs is left out, and no further than epochs allows', async () => {
    const trainer = await classifier();
    const summaries = await trainer.fit(train, { batchSize: 50, maxSteps: 5 });
    expect(summaries.map((s) => s.steps)).toEqual([2, 2, 1]);
    const bounded = await classifier();
    expect(await bounded.fit(train, { epochs: 1, batchSize: 50, maxSteps: 100 })).toHaveLength(1);
    expect(bounded.history).toHaveLength(2);
  });

  it('validates maxSteps and asks for epochs or maxSteps', async () => {
    const trainer = await classifier();
    await expect(trainer.fit(train, { batchSize: 8 })).rejects.toThrow(/fit: give epochs, maxSteps or both/);
    await expect(trainer.fit(train, { batchSize: 8, maxSteps: 2.5 })).rejects.toThrow(/maxSteps must be an integer >= 0, got 2.5/);
    await expect(trainer.fit(train, { epochs: 1, batchSize: 8, yieldEvery: -1 })).rejects.toThrow(/yieldEvery must be a number of milliseconds >= 0, got -1/);
  });
});

describe('fit yields the thread', () => {
  /** A classifier whose schedule counts the steps enqueued and can make each one slow. */
  async function counted(stepMs = 0) {
    const counter = { enqueued: 0 };
    const trainer = await classifier({
      afterStep() {
        counter.enqueued++;
        const end = performance.now() + stepMs;
        while (performance.now() < end);
      },
    });
    return { trainer, counter };
  }

  it('awaits onYield between steps once yieldEvery has passed (0: after every step)', async () => {
    const { trainer, counter } = await counted();
    const during: [number, number][] = [];
    await trainer.fit(train, {
      epochs: 2, batchSize: 25, yieldEvery: 0,
      onYield: async () => {
        const before = counter.enqueued;
        await new Promise((resolve) => setTimeout(resolve, 2));
        during.push([before, counter.enqueued]);
      },
    });
    expect(during).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((k) => [k, k]));
  });

  it('yields every 16 ms by default once onYield is given, and not before yieldEvery has passed', async () => {
    const slow = await counted(20);
    let calls = 0;
    await slow.trainer.fit(train, { epochs: 1, batchSize: 25, onYield: () => void calls++ });
    expect(calls).toBe(4);
    const patient = await counted(20);
    calls = 0;
    await patient.trainer.fit(train, { epochs: 1, batchSize: 25, yieldEvery: 60_000, onYield: () => void calls++ });
    expect(calls).toBe(0);
  });

  it('stops at the next step when the signal is aborted during a yield', async () => {
    const trainer = await classifier();
    const controller = new AbortController();
    let yields = 0;
    const summaries = await trainer.fit(train, {
      epochs: 3, batchSize: 10, yieldEvery: 0, signal: controller.signal,
      onYield: () => {
        if (++yields === 3) controller.abort();
      },
    });
    await trainer.idle();
    expect(summaries).toHaveLength(0);
    expect(yields).toBe(3);
    expect(trainer.history).toHaveLength(3);
  });
});

describe('fit and evaluate on plain { x, y }', () => {
  it('class indices: the same steps as the Dataset they come from', async () => {
    const fromDataset = await classifier();
    await fromDataset.fit(train, { epochs: 2, batchSize: 32, seed: 3 });
    const plain = await classifier();
    await plain.fit({ x: train.x, y: train.y }, { epochs: 2, batchSize: 32, seed: 3, validation: { x: train.x, y: train.y } });
    expect(plain.history.map((r) => r.loss)).toEqual(fromDataset.history.map((r) => r.loss));
    expect(await plain.evaluate({ x: train.x, y: train.y })).toEqual(await fromDataset.evaluate(train));
  });

  it('float targets with MSELoss, several values per sample', async () => {
    nn.manualSeed(2);
    const model = new nn.Sequential(new nn.Linear(1, 16), new nn.Tanh(), new nn.Linear(16, 2));
    const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, {
      loss: new nn.MSELoss(), optimizer: new optim.Adam(model.parameters(), { lr: 0.02 }), inputShape: [1],
    });
    const x = randomArray(64, -2, 2, 5);
    const y = Float32Array.from({ length: 128 }, (_, i) => (i % 2 === 0 ? Math.sin(x[i >> 1]!) : Math.cos(x[i >> 1]!)));
    const before = await trainer.evaluate({ x, y }, { batchSize: 20 });
    expect(before.accuracy).toBeNaN();
    const summaries = await trainer.fit({ x, y }, { epochs: 40, batchSize: 16, validation: { x, y } });
    expect(summaries.at(-1)!.validation!.loss).toBeLessThan(before.loss / 5);
  });

  it('names the problem when y does not fit x', async () => {
    const trainer = await classifier();
    const x = new Float32Array(8);
    await expect(trainer.fit({ x, y: new Int32Array(3) }, { epochs: 1, batchSize: 2 })).rejects.toThrow(/Trainer.fit: y holds 3 values for 4 samples/);
    await expect(trainer.fit({ x: new Float32Array(7), y: new Int32Array(3) }, { epochs: 1, batchSize: 2 })).rejects.toThrow(
      /Trainer.fit: x has 7 values, not a multiple of inputShape \[2\]/,
    );
    await expect(trainer.evaluate({ x, y: new Int32Array(5) })).rejects.toThrow(/Trainer.evaluate: y holds 5 values for 4 samples/);
  });
});
