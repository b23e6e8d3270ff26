import { describe, expect, it } from 'vitest';
import { createDevice, type Device } from '../../src/device.js';
import { nn, optim, Trainer } from '../../src/index.js';
import type { TrainerOptions } from '../../src/train/trainer.js';
import { countingDevice } from '../counting-device.js';
import { randomArray } from '../harness.js';

const cpu = (): Promise<Device> => createDevice({ backend: 'cpu', wasm: false });

async function classifier(options: Partial<TrainerOptions> = {}) {
  nn.manualSeed(3);
  const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(6, 8), new nn.ReLU(), new nn.Linear(8, 4));
  const trainer = new Trainer(await cpu(), model, {
    loss: new nn.CrossEntropyLoss(),
    optimizer: new optim.Adam(model.parameters(), { lr: 1e-2 }),
    inputShape: [2, 3],
    ...options,
  });
  return { model, trainer };
}

async function regressor() {
  nn.manualSeed(4);
  const model = new nn.Sequential(new nn.Linear(3, 2));
  const trainer = new Trainer(await cpu(), model, { loss: new nn.MSELoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [3] });
  return { model, trainer };
}

async function tokens() {
  nn.manualSeed(5);
  const model = new nn.Sequential(new nn.Embedding(10, 4), new nn.Flatten(), new nn.Linear(12, 3));
  const trainer = new Trainer(await cpu(), model, { loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [3] });
  return { model, trainer };
}

const withAt = (a: Float32Array, i: number, v: number): Float32Array => {
  const b = a.slice();
  b[i] = v;
  return b;
};

describe('bad data: a clear error before any device work, naming the sample, and nothing changes', () => {
  const x2 = new Float32Array(12).fill(0.5);
  const y2 = new Int32Array([1, 2]);
  type Case = [name: string, run: (t: Trainer) => unknown, message: RegExp];
  const classCases: Case[] = [
    ['NaN input', (t) => t.step(withAt(x2, 8, NaN), y2), /Trainer\.step: x holds NaN at sample 1 of the batch, position \[0, 2\]; inputs must be finite/],
    ['Infinity input', (t) => t.step(withAt(x2, 3, Infinity), y2), /x holds Infinity at sample 0 of the batch, position \[1, 0\]/],
    ['-Infinity input', (t) => t.step(withAt(x2, 11, -Infinity), y2), /x holds -Infinity at sample 1 of the batch, position \[1, 2\]/],
    ['class = C', (t) => t.step(x2, new Int32Array([1, 4])), /y holds class 4 at sample 1 of the batch, outside \[0, 4\) or ignoreIndex -100/],
    ['class -1', (t) => t.step(x2, new Int32Array([-1, 0])), /y holds class -1 at sample 0 of the batch, outside \[0, 4\)/],
    ['class 2^31-1', (t) => t.step(x2, new Int32Array([0, 2 ** 31 - 1])), /y holds class 2147483647 at sample 1/],
    ['float labels', (t) => t.step(x2, new Float32Array([1, 2]) as never), /CrossEntropyLoss takes class indices as an Int32Array, got Float32Array/],
    ['byte labels', (t) => t.step(x2, new Uint8Array([1, 2]) as never), /takes class indices as an Int32Array, got Uint8Array/],
    ['array labels', (t) => t.step(x2, [1, 2] as never), /takes class indices as an Int32Array, got Array/],
    ['null labels', (t) => t.step(x2, null as never), /takes class indices as an Int32Array, got null/],
    ['Float64Array x', (t) => t.step(new Float64Array(12) as never, y2), /x must be a Float32Array \(values\) or an Int32Array \(token ids\), got Float64Array/],
    ['Array x', (t) => t.step(Array.from(x2) as never, y2), /got Array/],
    ['Uint8Array x', (t) => t.step(new Uint8Array(12) as never, y2), /got Uint8Array/],
    ['null x', (t) => t.step(null as never, y2), /got null/],
    ['undefined x', (t) => t.step(undefined as never, y2), /got undefined/],
    ['string x', (t) => t.step('0.5' as never, y2), /got string/],
    ['length not a multiple', (t) => t.step(new Float32Array(7), y2), /x has 7 values, not a multiple of inputShape \[2, 3\] \(6 per sample\)/],
    ['empty x', (t) => t.step(new Float32Array(0), new Int32Array(0)), /x has 0 values/],
    ['too many labels', (t) => t.step(x2, new Int32Array(3)), /3 targets for a batch of 2/],
    ['tensor x of another shape', (t) => t.step({ data: x2, shape: [2, 6] }, y2), /x has shape \[2, 6\] and 12 values; expected \[batch, 2, 3\]/],
    ['tensor y of another batch', (t) => t.step(x2, { data: new Int32Array(3), shape: [3] }), /y has shape \[3\] and 3 values, for a batch of 2/],
    ['tensor x without a shape', (t) => t.step({ data: x2 } as never, y2), /without a shape array/],
    ['label out of range in a fit dataset', (t) => t.fit({ x: new Float32Array(60), y: new Int32Array([0, 1, 2, 3, 0, 9, 0, 0, 0, 0]) }, { epochs: 1, batchSize: 4 }), /Trainer\.fit: y holds class 9 at sample 5 of the dataset, outside \[0, 4\)/],
    ['NaN in fit validation', (t) => t.fit({ x: new Float32Array(60), y: new Int32Array(10) }, { epochs: 1, batchSize: 4, validation: { x: withAt(new Float32Array(18), 13, NaN), y: new Int32Array(3) } }), /Trainer\.fit \(validation\): x holds NaN at sample 2 of the dataset, position \[0, 1\]/],
    ['fit labels of another count', (t) => t.fit({ x: new Float32Array(60), y: new Int32Array(9) }, { epochs: 1, batchSize: 4 }), /y holds 9 values for 10 samples/],
    ['fit batchSize 0', (t) => t.fit({ x: new Float32Array(60), y: new Int32Array(10) }, { epochs: 1, batchSize: 0 }), /batchSize must be an integer >= 1, got 0/],
    ['evaluate NaN deep in the set', (t) => t.evaluate({ x: withAt(new Float32Array(6 * 300), 6 * 290 + 4, NaN), y: new Int32Array(300) }, { batchSize: 256 }), /Trainer\.evaluate: x holds NaN at sample 290 of the dataset, position \[1, 1\]/],
    ['predict Infinity', (t) => t.predict(withAt(x2, 0, Infinity)), /Trainer\.predict: x holds Infinity at sample 0 of the batch, position \[0, 0\]/],
  ];

  it.each(classCases)('%s', async (_name, run, message) => {
    const { model, trainer } = await classifier();
    const before = await model.stateDict();
    await expect((async () => run(trainer))()).rejects.toThrow(message);
    expect(trainer.stepCount).toBe(0);
    expect(trainer.history).toHaveLength(0);
    expect(await model.stateDict()).toEqual(before);
    // The trainer is still usable after the refusal.
    expect(Number.isFinite(await trainer.step(x2, y2).loss)).toBe(true);
  });

  it('a NaN deep inside a fit dataset is named by its index in the dataset', async () => {
    const { trainer } = await classifier();
    const x = new Float32Array(6 * 40);
    x[6 * 37 + 5] = NaN;
    await expect(trainer.fit({ x, y: new Int32Array(40) }, { epochs: 1, batchSize: 8 })).rejects.toThrow(/Trainer\.fit: x holds NaN at sample 37 of the dataset, position \[1, 2\]/);
    expect(trainer.stepCount).toBe(0);
  });

  it.each<Case>([
    ['NaN target', (t) => t.step(new Float32Array(6), new Float32Array([0, 0, NaN, 0])), /Trainer: y holds NaN at sample 1 of the batch, position \[0\]; targets must be finite/],
    ['Infinity target', (t) => t.step(new Float32Array(6), new Float32Array([0, Infinity, 0, 0])), /y holds Infinity at sample 0 of the batch, position \[1\]/],
    ['int targets for MSE', (t) => t.step(new Float32Array(6), new Int32Array(4) as never), /MSELoss takes targets as a Float32Array, got Int32Array/],
    ['too few targets', (t) => t.step(new Float32Array(6), new Float32Array(3)), /3 target values, the output holds 4/],
  ])('regression: %s', async (_name, run, message) => {
    const { model, trainer } = await regressor();
    const before = await model.stateDict();
    await expect((async () => run(trainer))()).rejects.toThrow(message);
    expect(await model.stateDict()).toEqual(before);
  });

  it.each<Case>([
    ['id = numEmbeddings', (t) => t.step(new Int32Array([1, 2, 3, 4, 10, 5]), new Int32Array([0, 1])), /Trainer\.step: x holds token id 10 at sample 1 of the batch, position \[1\], outside \[0, 10\) of the embedding '0\.Embedding\(10, 4\)'/],
    ['negative id', (t) => t.step(new Int32Array([-1, 2, 3, 4, 5, 6]), new Int32Array([0, 1])), /x holds token id -1 at sample 0 of the batch, position \[0\]/],
  ])('token ids: %s', async (_name, run, message) => {
    const { trainer } = await tokens();
    await expect((async () => run(trainer))()).rejects.toThrow(message);
  });

  it('token ids: values after the first batch traced ids', async () => {
    const { trainer } = await tokens();
    await trainer.step(new Int32Array([1, 2, 3, 4, 5, 6]), new Int32Array([0, 1])).loss;
    expect(() => trainer.step(new Float32Array(6), new Int32Array([0, 1]))).toThrow(/x is a Float32Array of values, but this trainer's model was traced with an Int32Array of token ids/);
  });

  it('bad options are refused at construction', async () => {
    await expect(classifier({ onNonFinite: 'explode' as never })).rejects.toThrow(/onNonFinite must be 'warn', 'throw', 'skipStep', 'stop' or 'ignore', got 'explode'/);
    await expect(classifier({ checkInputs: 'yes' as never })).rejects.toThrow(/checkInputs must be true or false, got "yes"/);
  });

  it('checkInputs: false lets a NaN reach the device, where the loss shows it', async () => {
    const { trainer } = await classifier({ checkInputs: false, onNonFinite: 'ignore' });
    expect(await trainer.step(withAt(x2, 0, NaN), y2).loss).toBeNaN();
  });
});

describe("onNonFinite: 'skipStep' and 'stop' leave parameters and optimizer state untouched on the device", () => {
  const x = randomArray(4 * 6, -1, 1, 11);
  const y = new Int32Array([0, 1, 2, 3]);
  const bad = withAt(x, 5, NaN);

  it("'skipStep': the bad step changes nothing, is recorded as skipped, and training goes on as if it never happened", async () => {
    const a = await classifier({ onNonFinite: 'skipStep', checkInputs: false });
    const b = await classifier({ onNonFinite: 'skipStep', checkInputs: false });
    await a.trainer.step(x, y).record;
    await b.trainer.step(x, y).record;
    const params = await a.model.stateDict();
    const state = await a.trainer.options.optimizer.stateDict();
    const skipped = await a.trainer.step(bad, y).record;
    expect(skipped.skipped).toBe(true);
    expect(skipped.loss).toBeNaN();
    expect(await a.model.stateDict()).toEqual(params);
    expect(await a.trainer.options.optimizer.stateDict()).toEqual(state);
    // The next good step equals the second step of a run that never saw the bad batch.
    const next = await a.trainer.step(x, y).record;
    const clean = await b.trainer.step(x, y).record;
    expect(next.skipped).toBeUndefined();
    expect(next.loss).toBe(clean.loss);
    expect(await a.model.stateDict()).toEqual(await b.model.stateDict());
  });

  it("'skipStep' also skips a step whose loss is finite but whose gradients overflow", async () => {
    nn.manualSeed(8);
    const model = new nn.Sequential(new nn.Linear(2, 1));
    const [weight, bias] = model.parameters();
    weight!.data = new Float32Array([1e-20, 0]);
    bias!.data = new Float32Array([0]);
    const trainer = new Trainer(await cpu(), model, { loss: new nn.MSELoss(), optimizer: new optim.SGD(model.parameters(), { lr: 1e-3 }), inputShape: [2], onNonFinite: 'skipStep' });
    // out = 1e10, loss = 1e20 (finite), dL/dw0 = 2 · 1e10 · 1e30 = 2e40: past f32's range.
    const rec = await trainer.step(new Float32Array([1e30, 0]), new Float32Array([0])).record;
    expect(rec.loss).toBeCloseTo(1e20, -15);
    expect(rec.gradNorm).toBe(Infinity);
    expect(rec.skipped).toBe(true);
    expect(await weight!.read()).toEqual(new Float32Array([1e-20, 0]));
  });

  it("'stop' ends fit after the step in flight and keeps the last finite weights", async () => {
    nn.manualSeed(2);
    const model = new nn.Sequential(new nn.Linear(2, 8), new nn.Linear(8, 1));
    const trainer = new Trainer(await cpu(), model, {
      loss: new nn.MSELoss(),
      optimizer: new optim.SGD(model.parameters(), { lr: 1e6 }),
      inputShape: [2],
      onNonFinite: 'stop',
    });
    const data = { x: randomArray(64, -1, 1, 3), y: randomArray(32, -1, 1, 4) };
    const summaries = await trainer.fit(data, { epochs: 50, batchSize: 4, syncEvery: 1 });
    expect(trainer.stopped).not.toBeNull();
    expect(trainer.stopped!.message).toMatch(/step \d+ has loss .* at learning rate 1000000; the first parameter with a non-finite gradient is '0\.weight'.*Its update was skipped/);
    expect(trainer.history.length).toBeLessThan(50 * 8);
    expect(summaries.length).toBeLessThan(50);
    for (const v of Object.values(await model.stateDict())) expect(v.every(Number.isFinite)).toBe(true);
  });

  it("'throw' names the first parameter whose gradient is not finite, from layerStats on tracked steps", async () => {
    const { trainer } = await classifier({ onNonFinite: 'throw', checkInputs: false, layerStats: { every: 1 } });
    await expect(trainer.step(bad, y).record).rejects.toThrow(/step 0 has loss NaN and gradient norm (NaN|Infinity) at learning rate 0\.01; the first parameter with a non-finite gradient is '1\.weight' \(step 0\)/);
  });
});

describe('resources', () => {
  const x = randomArray(4 * 6, -1, 1, 5);
  const y = new Int32Array([0, 1, 2, 3]);

  it('dispose() frees every buffer the trainer made, including the optimizer state', async () => {
    const { device, live } = countingDevice(await cpu());
    nn.manualSeed(1);
    const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(6, 8), new nn.BatchNorm1d(8), new nn.Dropout(0.2), new nn.Linear(8, 4));
    const trainer = new Trainer(device, model, {
      loss: new nn.CrossEntropyLoss(), optimizer: new optim.Adam(model.parameters(), { lr: 1e-2 }), inputShape: [2, 3], clipGradNorm: 1, layerStats: { every: 2, activations: true },
    });
    for (let i = 0; i < 5; i++) trainer.step(x, y);
    trainer.step(x.subarray(0, 12), y.subarray(0, 2));
    await trainer.predict(x);
    await trainer.evaluate({ x, y });
    await trainer.idle();
    expect(live.size).toBeGreaterThan(10);
    await trainer.dispose();
    expect([...live.values()]).toEqual([]);
  });

  it('100 trainers created and disposed on one device leave nothing behind', async () => {
    const { device, live } = countingDevice(await cpu());
    nn.manualSeed(1);
    const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(6, 4));
    const optimizer = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    for (let i = 0; i < 100; i++) {
      const trainer = new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer, inputShape: [2, 3] });
      await trainer.step(x, y).loss;
      await trainer.dispose();
      expect(live.size).toBe(0);
    }
    // The momentum buffer went to the host and back with every trainer: 100 steps of one run.
    expect(optimizer.stepCount).toBe(100);
  });

  it('steady state: 1,000 steps keep the buffer count and bytes flat', async () => {
    const { device, live, bytes } = countingDevice(await cpu());
    const { trainer } = await classifier();
    const counted = new Trainer(device, trainer.model, trainer.options);
    await counted.step(x, y).loss;
    const [count, held] = [live.size, bytes()];
    // As fit does, at most 16 steps in flight (the record ring grows only for hosts far ahead).
    for (let i = 0; i < 1000; i++) {
      const { record } = counted.step(x, y);
      if (i % 16 === 15) await record;
    }
    await counted.idle();
    expect([live.size, bytes()]).toEqual([count, held]);
    await counted.dispose();
  });

  it('a model held by a live trainer is refused by a second one, which works once the first is disposed', async () => {
    const { model, trainer } = await classifier();
    await trainer.step(x, y).loss;
    const second = new Trainer(await cpu(), model, { loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [2, 3] });
    expect(() => second.step(x, y)).toThrow(/parameter '1\.weight' is held by another Trainer that is still alive; await its dispose\(\) first/);
    await trainer.dispose();
    expect(Number.isFinite(await second.step(x, y).loss)).toBe(true);
  });

  it('step(), fit() and findLr() after dispose() say so', async () => {
    const { trainer } = await classifier();
    await trainer.dispose();
    expect(() => trainer.step(x, y)).toThrow(/step\(\) after dispose\(\)/);
    await expect(trainer.fit({ x, y }, { epochs: 1, batchSize: 4 })).rejects.toThrow(/disposed/);
    await expect(trainer.findLr({ x, y }, { steps: 3, batchSize: 4 })).rejects.toThrow(/after dispose/);
  });

  it('two trainers interleaving steps on one device each train as they would alone', async () => {
    const device = await cpu();
    const make = async (seed: number) => {
      nn.manualSeed(seed);
      const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(6, 8), new nn.Dropout(0.3), new nn.ReLU(), new nn.Linear(8, 4));
      return { model, trainer: new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer: new optim.Adam(model.parameters(), { lr: 1e-2 }), inputShape: [2, 3], seed }) };
    };
    const [a, b] = [await make(1), await make(2)];
    const both = [];
    for (let i = 0; i < 6; i++) both.push(a.trainer.step(x, y).loss, b.trainer.step(x, y).loss);
    const interleaved = await Promise.all(both);
    const [a2, b2] = [await make(1), await make(2)];
    const alone = [];
    for (let i = 0; i < 6; i++) alone.push(await a2.trainer.step(x, y).loss);
    for (let i = 0; i < 6; i++) alone.push(await b2.trainer.step(x, y).loss);
    expect(interleaved.filter((_, i) => i % 2 === 0)).toEqual(alone.slice(0, 6));
    expect(interleaved.filter((_, i) => i % 2 === 1)).toEqual(alone.slice(6));
  });

  it('memory() reports the bytes held by kind, and they add up to what was allocated', async () => {
    const { device, bytes } = countingDevice(await cpu());
    nn.manualSeed(1);
    const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(6, 8), new nn.BatchNorm1d(8), new nn.Linear(8, 4));
    const trainer = new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer: new optim.Adam(model.parameters(), { lr: 1e-2 }), inputShape: [2, 3] });
    expect(trainer.memory().total).toBe(0);
    await trainer.step(x, y).loss;
    const m = trainer.memory();
    // Six parameters (6·8, 8, 8, 8, 8·4, 4 floats), each at a 64-float boundary: 6 × 64 floats.
    expect(m.parameters).toBe(6 * 64 * 4);
    expect(m.gradients).toBe(m.parameters);
    expect(m.optimizerState).toBe(2 * m.parameters);
    expect(m.buffers).toBeGreaterThanOrEqual((8 + 8 + 1) * 4);
    expect(m.inputs).toBe(4 * 6 * 4 + 4 * 4);
    expect(m.activations).toBeGreaterThan(0);
    expect(m.total).toBe(Object.entries(m).filter(([k]) => k !== 'total').reduce((a, [, v]) => a + v, 0));
    expect(m.total).toBeLessThanOrEqual(bytes());
    expect(m.total).toBeGreaterThan(0.9 * bytes());
  });

  it('a tensor larger than the device allows is refused at compile time, naming the layer and the bytes', async () => {
    const device = await cpu();
    Object.defineProperty(device.backend, 'maxBufferBytes', { value: 20000 });
    nn.manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(6, 512), new nn.ReLU(), new nn.Linear(512, 2));
    const trainer = new Trainer(device, model, { loss: new nn.MSELoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [6] });
    expect(() => trainer.step(new Float32Array(6 * 16), new Float32Array(32))).toThrow(/train\[batch 16\]: '0\.Linear\(6, 512\)\+relu' \(linear\) outputs \[16, 512\], 32768 bytes, more than this device's largest buffer \(20000 bytes\); use a smaller batch or layer/);
    // Nothing was kept of the failed compilation: a smaller batch compiles and trains.
    expect(Number.isFinite(await trainer.step(new Float32Array(6 * 2), new Float32Array(4)).loss)).toBe(true);
  });
});

describe('out of memory', () => {
  it('an allocation that fails names the buffer and the layer, frees what the compilation made, and a smaller batch still trains', async () => {
    const { device, live } = countingDevice(await cpu());
    const real = device.backend.createBuffer.bind(device.backend);
    let budget = Infinity;
    device.backend.createBuffer = (bytes, label) => {
      if (bytes > budget) throw new Error(`buffer '${label}' of ${bytes} bytes: out of memory`);
      return real(bytes, label);
    };
    nn.manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(6, 64), new nn.ReLU(), new nn.Linear(64, 2));
    const trainer = new Trainer(device, model, { loss: new nn.MSELoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [6] });
    // Out of memory while the trainer sets up: nothing stays allocated, and the model keeps its values.
    const before = await model.stateDict();
    budget = 8191;
    expect(() => trainer.step(new Float32Array(6 * 2), new Float32Array(4))).toThrow(/buffer 'step-log' of 8192 bytes: out of memory/);
    expect([...live.values()]).toEqual([]);
    expect(await model.stateDict()).toEqual(before);
    budget = Infinity;
    await trainer.step(new Float32Array(6 * 2), new Float32Array(4)).loss;
    const held = live.size;
    budget = 32 * 64 * 4 - 1;
    expect(() => trainer.step(new Float32Array(6 * 32), new Float32Array(64))).toThrow(/buffer 'train\[batch 32\]\/scratch\d+ for '0\.Linear\(6, 64\)\+relu' \[32, 64\]' of 8192 bytes: out of memory/);
    expect(live.size).toBe(held);
    expect(trainer.stepCount).toBe(1);
    expect(Number.isFinite(await trainer.step(new Float32Array(6 * 2), new Float32Array(4)).loss)).toBe(true);
  });
});

describe('determinism', () => {
  it('the same seed gives the same loss curve bit for bit, with dropout; another seed does not', async () => {
    const run = async (seed: number) => {
      nn.manualSeed(7);
      const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(6, 16), new nn.Dropout(0.5), new nn.ReLU(), new nn.Linear(16, 4));
      const trainer = new Trainer(await cpu(), model, { loss: new nn.CrossEntropyLoss(), optimizer: new optim.Adam(model.parameters(), { lr: 1e-2 }), inputShape: [2, 3], seed });
      const data = { x: randomArray(6 * 32, -1, 1, 9), y: Int32Array.from({ length: 32 }, (_, i) => i % 4) };
      await trainer.fit(data, { epochs: 3, batchSize: 8, seed: 1 });
      return trainer.history.map((r) => r.loss);
    };
    const a = await run(1);
    expect(await run(1)).toEqual(a);
    expect(await run(2)).not.toEqual(a);
  });
});
