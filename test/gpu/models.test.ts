import { describe, expect, it } from 'vitest';
import { countingGpu } from '../../bench/counting-gpu.js';
import { createDevice, type Device } from '../../src/device.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { gpuBackend, randomArray } from '../harness.js';
import { fixture, MODELS, replay } from '../models-fixtures.js';

describe('whole training steps match torch 1.13 (WebGPU)', () => {
  it.each(fixture.models.map((m) => [m.name, m] as const))('%s: losses, parameters, running statistics and eval output within 1e-4', async (_name, c) => {
    const backend = await gpuBackend();
    const device: Device = { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
    const trainer = await replay(device, c, { rtol: 1e-4, atol: 1e-5 });
    await trainer.dispose();
  });
});

describe('steady CNN and transformer steps', () => {
  it.each(['cnn', 'transformer'] as const)('%s: one submit per step, zero new buffers, bind groups and pipelines', async (name) => {
    const webgpu = await import('webgpu');
    Object.assign(globalThis, webgpu.globals);
    const { gpu, counter } = countingGpu(webgpu.create([]) as GPU);
    const dev = await createDevice({ backend: 'webgpu', gpu });
    nn.manualSeed(4);
    const { model, loss, inputShape } = MODELS[name]();
    const trainer = new Trainer(dev, model, { loss, optimizer: new optim.Adam(model.parameters(), { lr: 1e-3 }), inputShape, clipGradNorm: 1 });
    const batch = 4;
    const x = name === 'cnn' ? randomArray(batch * 64) : Int32Array.from({ length: batch * 5 }, (_, i) => (i * 7) % 11);
    const y = name === 'cnn' ? Int32Array.from({ length: batch }, (_, i) => i % 3) : Int32Array.from({ length: batch * 5 }, (_, i) => (i * 3) % 11);
    for (let i = 0; i < 2; i++) await trainer.step(x, y).loss;
    const described = trainer.describeStep(batch);
    console.log(`${name}: ${described.dispatches} dispatches per step\n  ${described.kernels.join('\n  ')}`);
    const before = counter.snapshot();
    const losses = [];
    for (let i = 0; i < 10; i++) losses.push(trainer.step(x, y).loss);
    const values = await Promise.all(losses);
    const used = counter.since(before);
    expect(values.every(Number.isFinite)).toBe(true);
    expect(used.buffers).toBe(0);
    expect(used.bindGroups).toBe(0);
    expect(used.pipelines).toBe(0);
    expect(used.dispatches).toBe(10 * described.dispatches);
    expect(used.submits).toBeGreaterThanOrEqual(10);
    expect(used.submits).toBeLessThanOrEqual(12);
    await trainer.dispose();
    dev.dispose();
  });
});
