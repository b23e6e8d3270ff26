/**
 * AverageGradientLR on WebGPU: the average_lr kernel against its CPU twin (finite and non-finite
 * norms, poisoned outputs), and a short training run whose recorded rates, norms and host copy of
 * the running mean match the same run on the CPU backend.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { gaussians } from '../../src/data/synthetic.js';
import type { Device } from '../../src/device.js';
import { averageLr } from '../../src/kernels/average-lr.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, gpuBackend, runKernel } from '../harness.js';

function device(backend: Backend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

describe('average_lr on WebGPU', () => {
  it.each([2, 0.37, NaN, Infinity])('matches the twin for norm %s', async (norm) => {
    const inputs = { running: Float32Array.from([0.8, 0.3]), stats: Float32Array.from([norm, 1, 5, 0.25, 0]) };
    const run = { inputs, params: { beta: 0.7, eps: 1e-3 }, workgroups: [1, 1, 1] as [number, number, number] };
    const gpu = await runKernel(await gpuBackend(), averageLr, run);
    const cpu = await runKernel(cpuBackend(), averageLr, run);
    expectAllClose(gpu.running as Float32Array, cpu.running as Float32Array, { rtol: 1e-6, label: 'running' });
    expectAllClose(gpu.stats as Float32Array, cpu.stats as Float32Array, { rtol: 1e-5, label: 'stats' });
  });
});

describe('AverageGradientLR trains alike on WebGPU and on the CPU', () => {
  it('rates, norms and the running mean agree', async () => {
    const set = gaussians({ n: 64, classes: 3, seed: 2 });
    const run = async (backend: Backend) => {
      nn.manualSeed(4);
      const model = new nn.Sequential(new nn.Linear(2, 16), new nn.Tanh(), new nn.Linear(16, 3));
      const optimizer = new optim.SGD(model.parameters(), { lr: 0.2 });
      const scheduler = new optim.lr.AverageGradientLR(optimizer, { beta: 0.8, eps: 1e-3 });
      const trainer = new Trainer(device(backend), model, { loss: new nn.CrossEntropyLoss(), optimizer, scheduler, inputShape: [2] });
      await trainer.fit(set, { epochs: 2, batchSize: 16, seed: 1 });
      const out = { history: trainer.history.slice(), running: scheduler.running };
      await trainer.dispose();
      return out;
    };
    const gpu = await run(await gpuBackend());
    const cpu = await run(cpuBackend());
    expect(gpu.history).toHaveLength(8);
    expectAllClose(gpu.history.map((r) => r.gradNorm), cpu.history.map((r) => r.gradNorm), { rtol: 1e-4, label: 'norms' });
    expectAllClose(gpu.history.map((r) => r.lr), cpu.history.map((r) => r.lr), { rtol: 1e-4, label: 'rates' });
    expectAllClose([gpu.running.mean, gpu.running.decay], [cpu.running.mean, cpu.running.decay], { rtol: 1e-4, label: 'running mean' });
    // The rates follow the formula from the GPU's own norms.
    let v = 0;
    gpu.history.forEach((r, i) => {
      v = 0.8 * v + 0.2 * r.gradNorm ** 2;
      expect(r.lr).toBeCloseTo(0.2 / (Math.sqrt(v / (1 - 0.8 ** (i + 1))) + 1e-3), 5);
    });
  });
});
