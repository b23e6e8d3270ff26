/**
 * Checkpoints on WebGPU: 20 steps, a checkpoint, a fresh trainer loading it and 20 more steps
 * against 40 steps run straight (Adam, OneCycleLR, Dropout, BatchNorm), within 1e-6; and a
 * checkpoint written on the GPU goes on in a CPU trainer.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { gaussians } from '../../src/data/synthetic.js';
import type { Device } from '../../src/device.js';
import * as io from '../../src/io/index.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, gpuBackend } from '../harness.js';

const data = gaussians({ n: 52, classes: 3, seed: 1 });
const FIT = { batchSize: 8, seed: 3 } as const;

function device(backend: Backend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

function setup(backend: Backend, init = 1) {
  nn.manualSeed(init);
  const model = new nn.Sequential(new nn.Linear(2, 16), new nn.BatchNorm1d(16), new nn.ReLU(), new nn.Dropout(0.3), new nn.Linear(16, 3));
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.02 });
  const scheduler = new optim.lr.OneCycleLR(optimizer, { maxLr: 0.05, totalSteps: 40 });
  const trainer = new Trainer(device(backend), model, { loss: new nn.CrossEntropyLoss(), optimizer, scheduler, inputShape: [2], seed: 7 });
  return { model, optimizer, scheduler, trainer };
}

async function expectSameRun(a: ReturnType<typeof setup>, b: ReturnType<typeof setup>, losses: [number[], number[]], tolerance: number) {
  expectAllClose(Float32Array.from(losses[0]), Float32Array.from(losses[1]), { rtol: tolerance, atol: tolerance, label: 'losses' });
  const [sa, sb] = [await a.model.stateDict(), await b.model.stateDict()];
  for (const name of Object.keys(sa)) expectAllClose(sa[name]!, sb[name]!, { rtol: tolerance, atol: tolerance, label: name });
  const [oa, ob] = [await a.optimizer.stateDict(), await b.optimizer.stateDict()];
  for (const key of Object.keys(oa.state)) expectAllClose(oa.state[key]!, ob.state[key]!, { rtol: tolerance, atol: tolerance, label: key });
  expect(b.scheduler.stateDict()).toEqual(a.scheduler.stateDict());
  expect([b.trainer.stepCount, b.trainer.dataPosition]).toEqual([a.trainer.stepCount, a.trainer.dataPosition]);
}

describe('resume on WebGPU', () => {
  it('20 steps, checkpoint, fresh trainer, 20 steps = 40 steps straight, within 1e-6', async () => {
    const gpu = await gpuBackend();
    const straight = setup(gpu);
    await straight.trainer.fit(data, { ...FIT, maxSteps: 40 });

    const first = setup(gpu);
    await first.trainer.fit(data, { ...FIT, maxSteps: 20 });
    const checkpoint = await io.saveCheckpoint(first.trainer);
    await first.trainer.dispose();

    const resumed = setup(gpu, 99);
    await io.loadCheckpoint(resumed.trainer, checkpoint);
    await resumed.trainer.fit(data, { ...FIT, maxSteps: 20 });
    const losses = (t: Trainer) => t.history.map((r) => r.loss);
    await expectSameRun(straight, resumed, [losses(straight.trainer).slice(20), losses(resumed.trainer)], 1e-6);
    await straight.trainer.dispose();
    await resumed.trainer.dispose();
  });

  it('a checkpoint written on the GPU goes on in a CPU trainer as the CPU run would', async () => {
    const gpu = await gpuBackend();
    const onGpu = setup(gpu);
    await onGpu.trainer.fit(data, { ...FIT, maxSteps: 10 });
    const checkpoint = await io.saveCheckpoint(onGpu.trainer);
    const onCpu = setup(cpuBackend(), 5);
    await io.loadCheckpoint(onCpu.trainer, checkpoint);
    expect(await onCpu.model.stateDict()).toEqual(await onGpu.model.stateDict());
    await Promise.all([onGpu.trainer.fit(data, { ...FIT, maxSteps: 10 }), onCpu.trainer.fit(data, { ...FIT, maxSteps: 10 })]);
    // Losses only: the bias of the layer before BatchNorm gets a gradient that is zero up to
    // rounding, which Adam scales into full steps along each device's own rounding noise.
    const losses = (t: Trainer) => Float32Array.from(t.history.map((r) => r.loss));
    expectAllClose(losses(onCpu.trainer), losses(onGpu.trainer).slice(10), { rtol: 1e-4, atol: 1e-5, label: 'losses after the move' });
    expect(onCpu.scheduler.stateDict()).toEqual(onGpu.scheduler.stateDict());
    expect([onCpu.trainer.stepCount, onCpu.trainer.dataPosition]).toEqual([onGpu.trainer.stepCount, onGpu.trainer.dataPosition]);
    await onGpu.trainer.dispose();
  });
});
