import { describe, expect, it } from 'vitest';
import { createDevice } from '../../src/device.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { expectAllClose, randomArray, rng } from '../harness.js';

/** Float64 forward of Linear-Tanh-Linear from a state dict, written independently of the library. */
function reference(sd: Record<string, Float32Array>, x: Float32Array, features: number): number[][] {
  const layer = (input: number[], w: Float32Array, b: Float32Array, inF: number) =>
    Array.from(b, (bias, o) => input.reduce((acc, v, i) => acc + v * w[o * inF + i]!, bias));
  const rows: number[][] = [];
  for (let r = 0; r < x.length / features; r++) {
    const h = layer(Array.from(x.subarray(r * features, (r + 1) * features)), sd['0.weight']!, sd['0.bias']!, features).map(Math.tanh);
    rows.push(layer(h, sd['2.weight']!, sd['2.bias']!, h.length));
  }
  return rows;
}

function blobs(n: number, seed: number) {
  const next = rng(seed);
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    const angle = (y[i]! * 2 * Math.PI) / 3;
    x[2 * i] = 2 * Math.cos(angle) + (next() - 0.5);
    x[2 * i + 1] = 2 * Math.sin(angle) + (next() - 0.5);
  }
  return { x, y };
}

async function makeTrainer(lr = 0.2) {
  nn.manualSeed(4);
  const model = new nn.Sequential(new nn.Linear(2, 16), new nn.Tanh(), new nn.Linear(16, 3));
  const device = await createDevice({ backend: 'cpu' });
  const trainer = new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr }), inputShape: [2] });
  return { model, trainer };
}

describe('Trainer (CPU backend)', () => {
  it('learns three separable blobs', async () => {
    const { trainer } = await makeTrainer();
    const data = blobs(96, 1);
    const first = await trainer.evaluate(data);
    for (let epoch = 0; epoch < 60; epoch++) trainer.step(data.x, data.y);
    const last = await trainer.evaluate(data);
    expect(last.loss).toBeLessThan(first.loss / 4);
    expect(last.accuracy).toBeGreaterThan(0.95);
    expect(trainer.history).toHaveLength(60);
    expect(trainer.history[59]!.loss).toBeLessThan(trainer.history[0]!.loss);
  });

  it('predict and evaluate agree with a float64 forward of the state dict', async () => {
    const { model, trainer } = await makeTrainer();
    const data = blobs(10, 2);
    trainer.step(data.x, data.y);
    const sd = await model.stateDict();
    const ref = reference(sd, data.x, 2);
    expectAllClose(await trainer.predict(data.x), ref.flat(), { rtol: 1e-5, atol: 1e-6, label: 'predict' });
    const lossRef = ref.reduce((acc, row, r) => {
      const m = Math.max(...row);
      return acc + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) + m - row[data.y[r]!]!;
    }, 0) / ref.length;
    const accRef = ref.filter((row, r) => row.indexOf(Math.max(...row)) === data.y[r]).length / ref.length;
    const ev = await trainer.evaluate(data, { batchSize: 3 });
    expectAllClose([ev.loss], [lossRef], { rtol: 1e-5, label: 'evaluate loss' });
    expect(ev.accuracy).toBeCloseTo(accRef, 10);
  });

  it('hands the trained values back to the model on dispose', async () => {
    const { model, trainer } = await makeTrainer();
    const data = blobs(12, 3);
    trainer.step(data.x, data.y);
    const live = await model.stateDict();
    await trainer.dispose();
    expect(model.parameters().every((p) => p.store === null)).toBe(true);
    const host = await model.stateDict();
    for (const k of Object.keys(live)) expectAllClose(host[k]!, live[k]!, { rtol: 0, atol: 0, label: k });
    expect(() => trainer.step(data.x, data.y)).toThrow(/after dispose/);
  });

  it('rejects bad batches with messages that name the problem', async () => {
    const { trainer } = await makeTrainer();
    expect(() => trainer.step(new Float32Array(5), new Int32Array(2))).toThrow(/5 values, not a multiple of inputShape \[2\]/);
    expect(() => trainer.step(new Float32Array(4), new Int32Array(3))).toThrow(/3 targets for a batch of 2/);
    expect(() => trainer.step(new Float32Array(4), new Int32Array([0, 3]))).toThrow(/y holds class 3 at sample 1 of the batch, outside \[0, 3\)/);
    expect(() => trainer.step(new Float32Array(4), new Float32Array(2) as never)).toThrow(/class indices as an Int32Array/);
    expect(() => trainer.step([1, 2] as never, new Int32Array(1))).toThrow(/x must be a Float32Array/);
  });

  it('validates its options', async () => {
    const model = new nn.Sequential(new nn.Linear(2, 2));
    const device = await createDevice({ backend: 'cpu' });
    const base = { loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [2] };
    expect(() => new Trainer(device, model, { ...base, inputShape: [] })).toThrow(/inputShape must be a non-empty list/);
    expect(() => new Trainer(device, model, { ...base, clipGradNorm: 0 })).toThrow(/clipGradNorm must be > 0, got 0/);
    expect(() => new Trainer(device, model, { ...base, clipGradValue: -1 })).toThrow(/clipGradValue must be > 0, got -1/);
    expect(() => new Trainer(device, model, { ...base, clipGradNorm: 1, clipGradValue: 1 })).toThrow(/not both/);
    expect(() => new Trainer(device, model, { ...base, l2: -0.1 })).toThrow(/l2 must be >= 0/);
    const other = new nn.Linear(2, 2);
    expect(() => new Trainer(device, model, { ...base, optimizer: new optim.SGD(other.parameters(), { lr: 0.1 }) })).toThrow(/not in the model/);
  });

  it('trains with MSE on float targets', async () => {
    nn.manualSeed(9);
    const model = new nn.Sequential(new nn.Linear(1, 16), new nn.Tanh(), new nn.Linear(16, 1));
    const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, { loss: new nn.MSELoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [1] });
    const x = randomArray(64, -2, 2, 5);
    const y = x.map((v) => Math.sin(v));
    const before = (await trainer.evaluate({ x, y })).loss;
    for (let i = 0; i < 300; i++) trainer.step(x, y);
    expect((await trainer.evaluate({ x, y })).loss).toBeLessThan(before / 5);
  });
});

describe('Trainer diagnostics', () => {
  it('trackGradNorm records the global gradient norm of each step; penalties are reported apart', async () => {
    nn.manualSeed(8);
    const model = new nn.Sequential(new nn.Linear(2, 5), new nn.Tanh(), new nn.Linear(5, 3));
    const before = await model.stateDict();
    const [l1, l2] = [0.01, 0.2];
    const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, {
      loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [2], trackGradNorm: true, l1, l2,
    });
    const data = blobs(9, 5);
    const record = await trainer.step(data.x, data.y).record;
    // The norm covers the gradients of the loss plus the penalties, as clip_grad_norm_ would see them.
    const grads = await trainer.gradients();
    let sq = 0;
    let penalty = 0;
    for (const [name, w] of Object.entries(before)) {
      w.forEach((v, i) => {
        sq += (grads[name]![i]! + l1 * Math.sign(v) + l2 * v) ** 2;
        penalty += l1 * Math.abs(v) + (l2 / 2) * v * v;
      });
    }
    expectAllClose([record.gradNorm], [Math.sqrt(sq)], { rtol: 1e-5, label: 'gradNorm' });
    expectAllClose([record.penalty], [penalty], { rtol: 1e-5, label: 'penalty' });
    const untracked = await makeTrainer();
    expect((await untracked.trainer.step(data.x, data.y).record).gradNorm).toBeNaN();
  });
});

describe('Trainer seed', () => {
  async function lossesWith(seed: number): Promise<number[]> {
    nn.manualSeed(3);
    const model = new nn.Sequential(new nn.Linear(2, 32), new nn.ReLU(), new nn.Dropout(0.5), new nn.Linear(32, 3));
    const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, {
      loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [2], seed,
    });
    const data = blobs(12, 6);
    return Promise.all([0, 1, 2].map(() => trainer.step(data.x, data.y).loss));
  }

  it('fixes the dropout masks: the same seed replays a run, another seed changes it', async () => {
    const a = await lossesWith(5);
    expect(await lossesWith(5)).toEqual(a);
    expect(await lossesWith(6)).not.toEqual(a);
  });

  it('rejects a seed outside [0, 2^32)', async () => {
    const model = new nn.Linear(2, 2);
    const device = await createDevice({ backend: 'cpu' });
    const options = { loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [2] };
    expect(() => new Trainer(device, model, { ...options, seed: -1 })).toThrow(/seed must be an integer in \[0, 2\^32\), got -1/);
    expect(() => new Trainer(device, model, { ...options, seed: 1.5 })).toThrow(/got 1.5/);
  });
});

describe('Trainer onNonFinite', () => {
  async function diverging(onNonFinite?: 'warn' | 'throw' | 'ignore') {
    nn.manualSeed(2);
    const model = new nn.Sequential(new nn.Linear(2, 8), new nn.Linear(8, 1));
    const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, {
      loss: new nn.MSELoss(), optimizer: new optim.SGD(model.parameters(), { lr: 1e6 }), inputShape: [2], onNonFinite,
    });
    const x = new Float32Array([1, 2, 3, 4]);
    const y = new Float32Array([1, -1]);
    return Array.from({ length: 12 }, () => trainer.step(x, y).loss);
  }

  it("'throw' rejects the first step whose loss is not finite, naming it", async () => {
    const results = await Promise.allSettled(await diverging('throw'));
    const first = results.findIndex((r) => r.status === 'rejected');
    expect(first).toBeGreaterThan(0);
    expect((results[first] as PromiseRejectedResult).reason.message).toMatch(new RegExp(`step ${first} has loss (NaN|Infinity|-Infinity).*learning rate 1000000.*lower the learning rate`));
  });

  it("'warn' logs once and keeps the values; 'ignore' stays silent", async () => {
    const warnings: unknown[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args);
    try {
      const losses = await Promise.all(await diverging());
      expect(losses.some((l) => !Number.isFinite(l))).toBe(true);
      expect(warnings).toHaveLength(1);
      await Promise.all(await diverging('ignore'));
      expect(warnings).toHaveLength(1);
    } finally {
      console.warn = original;
    }
  });
});

describe('Trainer batches as tensors', () => {
  it('takes { data, shape } for x and y and trains exactly as with flat arrays', async () => {
    const data = blobs(8, 9);
    const flat = await makeTrainer();
    const shaped = await makeTrainer();
    const a = await flat.trainer.step(data.x, data.y).loss;
    const b = await shaped.trainer.step({ data: data.x, shape: [8, 2] }, { data: data.y, shape: [8] }).loss;
    expect(b).toBe(a);
  });

  it('names both shapes when a tensor does not match inputShape or the batch', async () => {
    const { trainer } = await makeTrainer();
    const data = blobs(4, 10);
    expect(() => trainer.step({ data: data.x, shape: [2, 4] }, data.y)).toThrow(/x has shape \[2, 4\] and 8 values; expected \[batch, 2\]/);
    expect(() => trainer.step({ data: data.x, shape: [4, 2] }, { data: data.y, shape: [2, 2] })).toThrow(/y has shape \[2, 2\] and 4 values, for a batch of 4/);
  });
});
