import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import * as data from '../../src/data/index.js';
import type { Device } from '../../src/device.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { epochBatches, type Samples } from '../../src/train/batch.js';
import { Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, gpuBackend } from '../harness.js';

function device(backend: Backend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

function bits(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

const SPIRAL = data.spiral({ n: 64, seed: 3 });

/** Linear-BatchNorm-ReLU-Dropout-Linear under Adam, OneCycleLR (it cycles Adam's betas) and clipping. */
function setup(backend: Backend) {
  nn.manualSeed(11);
  const model = new nn.Sequential(new nn.Linear(2, 16), new nn.BatchNorm1d(16), new nn.ReLU(), new nn.Dropout(0.2), new nn.Linear(16, 3));
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
  const scheduler = new optim.lr.OneCycleLR(optimizer, { maxLr: 0.05, totalSteps: 40 });
  const trainer = new Trainer(device(backend), model, {
    loss: new nn.CrossEntropyLoss(),
    optimizer,
    scheduler,
    inputShape: [2],
    clipGradNorm: 1,
    seed: 5,
  });
  return { model, optimizer, scheduler, trainer };
}

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

async function snapshot(s: ReturnType<typeof setup>) {
  const opt = await s.optimizer.stateDict();
  return {
    model: await s.model.stateDict(),
    optimizer: opt.state,
    rest: { paramGroups: opt.paramGroups, step: opt.step, scheduler: s.scheduler.stateDict() },
    history: s.trainer.history.map((r) => ({ ...r })),
  };
}

describe('Trainer.findLr on WebGPU', () => {
  it('restores parameters, buffers and optimizer state bit for bit, and training after it equals training without it', async () => {
    const list = batches(8, 16);
    const a = setup(await gpuBackend());
    await steps(a.trainer, list.slice(0, 3));
    const before = await snapshot(a);
    const found = await a.trainer.findLr(SPIRAL, { startLr: 1e-4, endLr: 10, steps: 16, batchSize: 16 });
    expect(found.losses.length).toBeGreaterThan(1);
    expect(new Set(found.losses).size).toBeGreaterThan(1);
    const after = await snapshot(a);
    for (const k of Object.keys(before.model)) expect(bits(after.model[k]!), `model ${k}`).toEqual(bits(before.model[k]!));
    for (const k of Object.keys(before.optimizer)) expect(bits(after.optimizer[k]!), `optimizer ${k}`).toEqual(bits(before.optimizer[k]!));
    expect(after.rest).toEqual(before.rest);
    expect(after.history).toEqual(before.history);

    await steps(a.trainer, list.slice(3));
    const b = setup(await gpuBackend());
    await steps(b.trainer, list);
    const [ea, eb] = [await snapshot(a), await snapshot(b)];
    expect(ea.history.map((r) => r.step)).toEqual(eb.history.map((r) => r.step));
    expectAllClose(ea.history.map((r) => r.loss), eb.history.map((r) => r.loss), { rtol: 1e-6, atol: 1e-6, label: 'losses' });
    for (const k of Object.keys(eb.model)) expectAllClose(ea.model[k]!, eb.model[k]!, { rtol: 1e-6, atol: 1e-6, label: `model ${k}` });
    for (const k of Object.keys(eb.optimizer)) expectAllClose(ea.optimizer[k]!, eb.optimizer[k]!, { rtol: 1e-6, atol: 1e-6, label: `optimizer ${k}` });
    expect(ea.rest).toEqual(eb.rest);
    await a.trainer.dispose();
    await b.trainer.dispose();
  });

  it('sweeps like the CPU twin', async () => {
    const run = async (backend: Backend) => {
      const s = setup(backend);
      const found = await s.trainer.findLr(SPIRAL, { startLr: 1e-4, endLr: 1, steps: 8, batchSize: 16, divergeFactor: Infinity });
      await s.trainer.dispose();
      return found;
    };
    const gpu = await run(await gpuBackend());
    const cpu = await run(cpuBackend());
    expect(gpu.lrs).toEqual(cpu.lrs);
    expectAllClose(gpu.losses, cpu.losses, { rtol: 1e-4, atol: 1e-5, label: 'sweep losses' });
  });
});
