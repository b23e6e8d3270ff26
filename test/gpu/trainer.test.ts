import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { countingGpu } from '../../bench/counting-gpu.js';
import { createDevice, type Device } from '../../src/device.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray } from '../harness.js';

function device(backend: Backend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

function mlp(seed: number): nn.Sequential {
  nn.manualSeed(seed);
  return new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 256), new nn.ReLU(), new nn.Linear(256, 10));
}

function batches(n: number, batch: number) {
  return Array.from({ length: n }, () => ({
    x: randomArray(batch * 784, 0, 1),
    y: Int32Array.from({ length: batch }, () => Math.floor(Math.random() * 10)),
  }));
}

describe('Trainer on WebGPU equals the Trainer on the CPU twin', () => {
  it('MLP 784-256-256-10, batch 128, SGD: losses, gradients and parameters within 1e-4', async () => {
    const data = batches(3, 128);
    const run = async (backend: Backend) => {
      const model = mlp(5);
      const trainer = new Trainer(device(backend), model, {
        loss: new nn.CrossEntropyLoss(),
        optimizer: new optim.SGD(model.parameters(), { lr: 0.05 }),
        inputShape: [784],
      });
      // Gradients after the first step, while both sides hold identical weights (see parity.html).
      const first = await trainer.step(data[0]!.x, data[0]!.y).loss;
      const grads = await trainer.gradients();
      const rest = await Promise.all(data.slice(1).map(({ x, y }) => trainer.step(x, y).loss));
      const result = { losses: [first, ...rest], grads, state: await model.stateDict() };
      await trainer.dispose();
      return result;
    };
    const gpu = await run(await gpuBackend());
    const cpu = await run(cpuBackend());
    expectAllClose(gpu.losses, cpu.losses, { rtol: 1e-4, label: 'losses' });
    for (const name of Object.keys(cpu.grads)) {
      expectAllClose(gpu.grads[name]!, cpu.grads[name]!, { rtol: 1e-4, atol: 1e-6, label: `grad ${name}` });
      expectAllClose(gpu.state[name]!, cpu.state[name]!, { rtol: 1e-4, atol: 1e-6, label: `param ${name}` });
    }
    expect(cpu.losses[2]).toBeLessThan(cpu.losses[0]! + 1);
  });
});

describe('the compiled train step', () => {
  it('MLP 784-256-256-10 with SGD: one submit of at most 12 dispatches', async () => {
    const model = mlp(1);
    const trainer = new Trainer(device(await gpuBackend()), model, {
      loss: new nn.CrossEntropyLoss(),
      optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }),
      inputShape: [784],
    });
    const d = trainer.describeStep(128);
    console.log(`dispatches per step: ${d.dispatches}\n  ${d.kernels.join('\n  ')}`);
    expect(d.submits).toBe(1);
    expect(d.dispatches).toBeLessThanOrEqual(12);
    expect(d.scratchBytes).toBeLessThan(d.scratchBytesWithoutReuse);
    await trainer.dispose();
  });
});

describe('steady state', () => {
  it('100 steps create zero buffers and zero bind groups, one submit each', async () => {
    const webgpu = await import('webgpu');
    Object.assign(globalThis, webgpu.globals);
    const { gpu, counter } = countingGpu(webgpu.create([]) as GPU);
    const dev = await createDevice({ backend: 'webgpu', gpu });
    nn.manualSeed(2);
    const model = new nn.Sequential(new nn.Linear(20, 33), new nn.ReLU(), new nn.Linear(33, 7));
    const trainer = new Trainer(dev, model, {
      loss: new nn.CrossEntropyLoss(),
      optimizer: new optim.Adam(model.parameters(), { lr: 1e-3 }),
      clipGradNorm: 1,
      inputShape: [20],
    });
    const x = randomArray(16 * 20);
    const y = Int32Array.from({ length: 16 }, (_, i) => i % 7);
    for (let i = 0; i < 3; i++) await trainer.step(x, y).loss;
    const dispatches = trainer.describeStep(16).dispatches;
    const before = counter.snapshot();
    const losses = [];
    for (let i = 0; i < 100; i++) losses.push(trainer.step(x, y).loss);
    const values = await Promise.all(losses);
    const used = counter.since(before);
    expect(values.every(Number.isFinite)).toBe(true);
    expect(used.buffers).toBe(0);
    expect(used.bindGroups).toBe(0);
    expect(used.pipelines).toBe(0);
    expect(used.dispatches).toBe(100 * dispatches);
    // One submit per step, plus at most one snapshot of the loss ring when steps outran readback.
    expect(used.submits).toBeGreaterThanOrEqual(100);
    expect(used.submits).toBeLessThanOrEqual(102);
    await trainer.dispose();
    dev.dispose();
  });
});
