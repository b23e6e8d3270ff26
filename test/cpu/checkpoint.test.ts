/**
 * Checkpoints on the CPU backend: 20 steps, a checkpoint, a fresh trainer loading it and 20 more
 * steps equal 40 steps run straight, bit for bit (Adam, a schedule, Dropout, BatchNorm, a ragged
 * last batch); the file's layout; and loads that change nothing when they fail.
 */
import { describe, expect, it } from 'vitest';
import { gaussians } from '../../src/data/synthetic.js';
import { createDevice } from '../../src/device.js';
import * as io from '../../src/io/index.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';

/** 52 samples in batches of 8: 7 batches an epoch, the last of 4. 20 steps end inside epoch 2. */
const data = gaussians({ n: 52, classes: 3, seed: 1 });
const FIT = { batchSize: 8, seed: 3 } as const;

type Schedule = 'StepLR' | 'OneCycleLR' | 'none';

async function setup({ schedule = 'StepLR' as Schedule, init = 1, seed = 7 as number | undefined, optimizer = 'Adam' as 'Adam' | 'SGD', width = 16 } = {}) {
  nn.manualSeed(init);
  const model = new nn.Sequential(new nn.Linear(2, width), new nn.BatchNorm1d(width), new nn.ReLU(), new nn.Dropout(0.3), new nn.Linear(width, 3));
  const opt = optimizer === 'Adam' ? new optim.Adam(model.parameters(), { lr: 0.02 }) : new optim.SGD(model.parameters(), { lr: 0.02, momentum: 0.9 });
  const scheduler =
    schedule === 'StepLR' ? new optim.lr.StepLR(opt, { stepSize: 6, gamma: 0.7 })
    : schedule === 'OneCycleLR' ? new optim.lr.OneCycleLR(opt, { maxLr: 0.05, totalSteps: 40 })
    : undefined;
  const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, { loss: new nn.CrossEntropyLoss(), optimizer: opt, scheduler, inputShape: [2], seed });
  return { model, optimizer: opt, scheduler, trainer };
}

type Setup = Awaited<ReturnType<typeof setup>>;

const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const f64Bits = (x: number) => new BigUint64Array(new Float64Array([x]).buffer)[0]!;

/** Everything a resumed run must reproduce, as exact bits. */
async function snapshot({ model, optimizer, scheduler, trainer }: Setup) {
  const sd = await optimizer.stateDict();
  return {
    model: Object.fromEntries(Object.entries(await model.stateDict()).map(([k, v]) => [k, bitsOf(v)])),
    optimizerState: Object.fromEntries(Object.entries(sd.state).map(([k, v]) => [k, bitsOf(v)])),
    optimizerGroups: JSON.stringify(sd.paramGroups),
    optimizerStep: sd.step,
    scheduler: JSON.stringify(scheduler?.stateDict() ?? null),
    step: trainer.stepCount,
    seed: trainer.seed,
    dataPosition: { ...trainer.dataPosition },
  };
}

const records = (t: Trainer) => t.history.map((r) => ({ step: r.step, loss: f64Bits(r.loss), lr: f64Bits(r.lr) }));

describe('resume = a run that never stopped (CPU, bit for bit)', () => {
  it.each(['StepLR', 'OneCycleLR'] as const)('Adam + %s + Dropout + BatchNorm: 20 steps, checkpoint, fresh trainer, 20 steps = 40 steps', async (schedule) => {
    const straight = await setup({ schedule });
    await straight.trainer.fit(data, { ...FIT, maxSteps: 40 });

    const first = await setup({ schedule });
    await first.trainer.fit(data, { ...FIT, maxSteps: 20 });
    const checkpoint = await io.saveCheckpoint(first.trainer);
    expect(first.trainer.dataPosition).toEqual({ epoch: 2, batch: 6 });

    // Another initialisation and no seed: everything must come from the checkpoint.
    const resumed = await setup({ schedule, init: 99, seed: undefined });
    await io.loadCheckpoint(resumed.trainer, checkpoint);
    expect([resumed.trainer.stepCount, resumed.trainer.seed, resumed.trainer.dataPosition]).toEqual([20, 7, { epoch: 2, batch: 6 }]);
    const summaries = await resumed.trainer.fit(data, { ...FIT, maxSteps: 20 });

    expect(summaries.map((s) => [s.epoch, s.steps])).toEqual([[2, 1], [3, 7], [4, 7], [5, 5]]);
    expect(records(first.trainer)).toEqual(records(straight.trainer).slice(0, 20));
    expect(records(resumed.trainer)).toEqual(records(straight.trainer).slice(20));
    expect(await snapshot(resumed)).toEqual(await snapshot(straight));
    expect(straight.trainer.stepCount).toBe(40);
  });

  it('the step count and seed matter: without them the dropout masks, and so the losses, differ', async () => {
    const first = await setup();
    await first.trainer.fit(data, { ...FIT, maxSteps: 20 });
    const checkpoint = await io.saveCheckpoint(first.trainer);
    const straight = await setup();
    await straight.trainer.fit(data, { ...FIT, maxSteps: 21 });
    const want = records(straight.trainer)[20]!.loss;
    for (const spoil of [(t: Trainer) => void (t.seed = 8), (t: Trainer) => void (t.stepCount = 0)]) {
      const resumed = await setup();
      await io.loadCheckpoint(resumed.trainer, checkpoint);
      spoil(resumed.trainer);
      await resumed.trainer.fit(data, { ...FIT, maxSteps: 1 });
      expect(records(resumed.trainer)[0]!.loss).not.toBe(want);
    }
  });

  it('fit goes on where the last fit stopped: 20 + 20 steps on one trainer = 40', async () => {
    const straight = await setup();
    await straight.trainer.fit(data, { ...FIT, maxSteps: 40 });
    const split = await setup();
    await split.trainer.fit(data, { ...FIT, maxSteps: 20 });
    await split.trainer.fit(data, { ...FIT, maxSteps: 20 });
    expect(records(split.trainer)).toEqual(records(straight.trainer));
    expect(await snapshot(split)).toEqual(await snapshot(straight));
  });

  it('a checkpoint loaded into a trainer that trained on rolls it back', async () => {
    const run = await setup();
    await run.trainer.fit(data, { ...FIT, maxSteps: 10 });
    const checkpoint = await io.saveCheckpoint(run.trainer);
    const at10 = await snapshot(run);
    await run.trainer.fit(data, { ...FIT, maxSteps: 5 });
    await io.loadCheckpoint(run.trainer, checkpoint);
    expect(await snapshot(run)).toEqual(at10);
  });
});

describe('the checkpoint file', () => {
  it('holds the model under torch names, the optimizer state per parameter under torch\'s slot names, and the rest as JSON metadata', async () => {
    const run = await setup({ schedule: 'OneCycleLR' });
    await run.trainer.fit(data, { ...FIT, maxSteps: 20 });
    const bytes = await io.saveCheckpoint(run.trainer, { metadata: { recipe: 'adam+onecycle' } });
    const { tensors, metadata } = io.decodeSafetensors(bytes);
    const modelNames = ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked', '4.weight', '4.bias'];
    const stateNames = [0, 1, 2, 3, 4, 5].flatMap((i) => [`optimizer.state.${i}.exp_avg`, `optimizer.state.${i}.exp_avg_sq`]);
    expect([...tensors.keys()].sort()).toEqual([...modelNames, ...stateNames].sort());
    expect(tensors.get('optimizer.state.0.exp_avg')!.shape).toEqual([16, 2]);
    expect(tensors.get('optimizer.state.5.exp_avg_sq')!.shape).toEqual([3]);
    expect(io.toFloat32(tensors.get('1.num_batches_tracked')!)).toEqual(new Float32Array([20]));
    const sd = await run.optimizer.stateDict();
    expect(io.toFloat32(tensors.get('optimizer.state.2.exp_avg')!)).toEqual(sd.state['2.exp_avg']);

    expect(metadata.recipe).toBe('adam+onecycle');
    expect(metadata['descent.checkpoint']).toBe('1');
    expect(JSON.parse(metadata.trainer!)).toEqual({ step: 20, seed: 7, dataPosition: { epoch: 2, batch: 6 } });
    const opt = JSON.parse(metadata.optimizer!);
    expect(opt.name).toBe('Adam');
    expect(opt.step).toBe(20);
    expect(opt.params).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '4.weight', '4.bias']);
    expect(opt.paramGroups[0].params).toEqual([0, 1, 2, 3, 4, 5]);
    expect(opt.paramGroups[0].betas[0]).toBe(run.optimizer.paramGroups[0]!.betas && (run.optimizer.paramGroups[0]!.betas as number[])[0]);
    const sched = JSON.parse(metadata.scheduler!);
    expect([sched.schedule, sched.lastEpoch]).toEqual(['OneCycleLR', 20]);

    // The model's part is a plain state dict: it loads into a bare model.
    const bare = (await setup({ init: 5 })).model;
    const { unexpectedKeys } = io.loadSafetensors(bare, bytes, { strict: false });
    expect(unexpectedKeys.sort()).toEqual(stateNames.sort());
    expect(await bare.stateDict()).toEqual(await run.model.stateDict());
  });

  it('keeps the reserved metadata keys for itself, and saves a trainer with no schedule', async () => {
    const run = await setup({ schedule: 'none' });
    await expect(io.saveCheckpoint(run.trainer, { metadata: { trainer: 'x' } })).rejects.toThrow(/metadata key 'trainer' is reserved/);
    const { metadata } = io.decodeSafetensors(await io.saveCheckpoint(run.trainer));
    expect(metadata.scheduler).toBeUndefined();
    expect(JSON.parse(metadata.trainer!)).toEqual({ step: 0, seed: 7, dataPosition: { epoch: 0, batch: 0 } });
  });
});

describe('loadCheckpoint is all or nothing', () => {
  async function trained(options: Parameters<typeof setup>[0] = {}) {
    const run = await setup(options);
    await run.trainer.fit(data, { ...FIT, maxSteps: 9 });
    return run;
  }

  let checkpoint: Uint8Array;
  const adamStepLR = async () => (checkpoint ??= await io.saveCheckpoint((await trained({ init: 3, seed: 11 })).trainer));

  const rewrite = (bytes: Uint8Array, edit: (tensors: { name: string; shape: number[]; data: Float32Array }[], metadata: Record<string, string>) => void) => {
    const file = io.decodeSafetensors(bytes);
    const tensors = [...file.tensors].map(([name, t]) => ({ name, shape: [...t.shape], data: io.toFloat32(t) }));
    const metadata = { ...file.metadata };
    edit(tensors, metadata);
    return io.encodeSafetensors(tensors, metadata);
  };

  const cases: [string, Parameters<typeof setup>[0], () => Promise<Uint8Array>, RegExp][] = [
    ['a plain model file', {}, async () => io.saveSafetensors((await setup()).model), /no 'descent.checkpoint' in its __metadata__, so it is not a checkpoint/],
    ['a truncated file', {}, async () => (await adamStepLR()).slice(0, -10), /run past the end of the data/],
    ['another optimizer', { optimizer: 'SGD' }, adamStepLR, /the checkpoint's optimizer is Adam, the trainer's is SGD/],
    ['another schedule (refused after the optimizer state was loaded)', { schedule: 'OneCycleLR' }, adamStepLR, /OneCycleLR.loadStateDict: the state is from "StepLR", not OneCycleLR/],
    ['a trainer without the schedule', { schedule: 'none' }, adamStepLR, /the checkpoint holds a schedule's state, but the trainer has no schedule/],
    ['another model', { width: 17 }, adamStepLR, /tensor '0.weight' has shape \[16, 2\], the model expects \[17, 2\]/],
    ['an optimizer state of the wrong shape', {}, async () => rewrite(await adamStepLR(), (t) => {
      const e = t.find((x) => x.name === 'optimizer.state.0.exp_avg')!;
      e.shape = [32];
    }), /tensor 'optimizer.state.0.exp_avg' has shape \[32\], parameter '0.weight' is \[16, 2\]/],
    ['a missing optimizer slot', {}, async () => rewrite(await adamStepLR(), (t) => void t.splice(t.findIndex((x) => x.name === 'optimizer.state.3.exp_avg_sq'), 1)),
      /state has no entry '3.exp_avg_sq'/],
    ['a bad trainer record', {}, async () => rewrite(await adamStepLR(), (_, m) => void (m.trainer = JSON.stringify({ step: -1, seed: 0, dataPosition: { epoch: 0, batch: 0 } }))),
      /__metadata__.trainer: step must be an integer in \[0, \d+\], got -1/],
    ['metadata that is not JSON', {}, async () => rewrite(await adamStepLR(), (_, m) => void (m.optimizer = '{oops')), /__metadata__.optimizer is not a JSON object/],
  ];

  it.each(cases)('%s: a clear error, and the trainer unchanged', async (_, options, make, message) => {
    const victim = await trained(options);
    const before = await snapshot(victim);
    const bytes = await make();
    await expect(io.loadCheckpoint(victim.trainer, bytes)).rejects.toThrow(message);
    expect(await snapshot(victim)).toEqual(before);
  });
});
