import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/tensor.js';
import * as nn from '../../src/nn/index.js';
import { withModuleScopes } from '../../src/nn/module.js';
import type { Module } from '../../src/nn/module.js';
import { forwardBackward } from '../graph-runner.js';
import { cpuBackend, randomArray, rng } from '../harness.js';

interface Case {
  name: string;
  make: () => Module;
  loss: () => nn.Loss;
  features: number;
  outputs: number;
  /** Sample shape when it is not [features]. */
  shape?: number[];
}

const CASES: Case[] = [
  { name: 'Linear+Tanh (fused) + Linear, cross-entropy', make: () => new nn.Sequential(new nn.Linear(5, 7), new nn.Tanh(), new nn.Linear(7, 3)), loss: () => new nn.CrossEntropyLoss(), features: 5, outputs: 3 },
  { name: 'sigmoid + residual + GELU, cross-entropy', make: () => new nn.Sequential(new nn.Linear(4, 6), new nn.Sigmoid(), new nn.Residual(new nn.Sequential(new nn.Linear(6, 6), new nn.GELU())), new nn.Linear(6, 4)), loss: () => new nn.CrossEntropyLoss(), features: 4, outputs: 4 },
  { name: 'LeakyReLU after a residual, MSE with a sigmoid output', make: () => new nn.Sequential(new nn.Linear(3, 5), new nn.Residual(new nn.Linear(5, 5)), new nn.LeakyReLU(0.2), new nn.Linear(5, 2), new nn.Sigmoid()), loss: () => new nn.MSELoss(), features: 3, outputs: 2 },
  { name: 'Flatten of [2, 3] samples into a residual MLP', make: () => new nn.Sequential(new nn.Flatten(), new nn.Linear(6, 6), new nn.Residual(new nn.Sequential(new nn.Linear(6, 6), new nn.Tanh())), new nn.Linear(6, 3)), loss: () => new nn.CrossEntropyLoss(), features: 6, outputs: 3, shape: [2, 3] },
  { name: 'no bias, identity', make: () => new nn.Sequential(new nn.Linear(4, 3, { bias: false }), new nn.Identity(), new nn.Linear(3, 2)), loss: () => new nn.MSELoss(), features: 4, outputs: 2 },
];

function targets(c: Case, batch: number, seed: number): Int32Array | Float32Array {
  const next = rng(seed);
  if (c.loss().targets === 'class') return Int32Array.from({ length: batch }, () => Math.floor(next() * c.outputs));
  return randomArray(batch * c.outputs, 0, 1, seed);
}

describe('autodiff through the compiled graph (CPU backend)', () => {
  it.each(CASES)('$name: gradients match central finite differences', async (c) => {
    nn.manualSeed(3);
    const model = c.make();
    const batch = 6;
    const x = randomArray(batch * c.features, -1, 1, 11);
    const y = targets(c, batch, 12);
    const backend = cpuBackend();
    const shape = c.shape ?? [c.features];
    const base = await forwardBackward(backend, model, c.loss(), x, shape, y);
    expect(Number.isFinite(base.loss)).toBe(true);
    const h = 1e-2;
    for (const [name, p] of model.namedParameters()) {
      const analytic = base.grads[name]!;
      const original = p.data.slice();
      for (let i = 0; i < p.numel; i++) {
        p.data[i] = original[i]! + h;
        const up = (await forwardBackward(backend, model, c.loss(), x, shape, y)).loss;
        p.data[i] = original[i]! - h;
        const down = (await forwardBackward(backend, model, c.loss(), x, shape, y)).loss;
        p.data[i] = original[i]!;
        const numeric = (up - down) / (2 * h);
        const err = Math.abs(numeric - analytic[i]!);
        expect(err, `${name}[${i}]: analytic ${analytic[i]}, numeric ${numeric}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
      }
    }
  });

  it('fuses each activation into the linear layer before it', async () => {
    nn.manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 8), new nn.ReLU(), new nn.Linear(8, 3));
    const r = await forwardBackward(cpuBackend(), model, new nn.CrossEntropyLoss(), randomArray(8), [4], new Int32Array([0, 2]));
    // 3 fused linears + loss, then grad_input x2 and grad_weight(+bias) x3: no separate activation kernels.
    expect(r.launches).toBe(3 + 1 + 2 + 3);
  });

  it('reuses scratch memory across the forward and backward passes', async () => {
    nn.manualSeed(2);
    const layers: nn.Module[] = [];
    for (let i = 0; i < 6; i++) layers.push(new nn.Linear(32, 32), new nn.GELU());
    const model = new nn.Sequential(...layers, new nn.Linear(32, 4));
    const r = await forwardBackward(cpuBackend(), model, new nn.CrossEntropyLoss(), randomArray(16 * 32), [32], new Int32Array(16));
    expect(r.scratchBytes).toBeLessThan(r.unplannedBytes * 0.7);
  });

  it('names the layer and the shapes when a model does not fit its input', () => {
    const g = new Graph();
    const model = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(5, 2));
    const x = g.input('x', [2, 4]);
    expect(() => withModuleScopes(model, () => model.forward(x))).toThrow(/2.*Linear\(5, 2\).*input \[2, 3\].*expected 5 features, got 3/);
  });

  it('rejects class targets of the wrong type or length at graph build', () => {
    const g = new Graph();
    const out = new nn.Linear(4, 3).forward(g.input('x', [2, 4]));
    expect(() => new nn.CrossEntropyLoss().apply(out, g.input('y', [3], 'i32'))).toThrow(/int32 class indices \[2\]/);
    expect(() => new nn.MSELoss().apply(out, g.input('t', [2, 2]))).toThrow(/MSELoss.*\[2, 3\]/);
  });
});
