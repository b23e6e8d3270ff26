/**
 * The fused optimizer updates and the gradient-norm reduction on WebGPU: every torch fixture case
 * (against torch and the CPU twin), Lion, a group large enough for many reduction workgroups, and
 * the dispatch count of a planned step.
 */
import { describe, expect, it } from 'vitest';
import type { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';
import { Parameter } from '../../src/graph/parameter.js';
import { Adam, Lion, type Optimizer, RMSprop, SGD, type UpdateOptions } from '../../src/optim/index.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray } from '../harness.js';
import { drive, driveCase, fixture, freshParams, lossGradient } from '../optim-driver.js';

/** Launch names of a planned step: the norm reduction (when needed), then one update per group. */
function expectLaunches(launches: readonly { kernel: { name: string } }[], groups: number, reduces: boolean, name: string): void {
  const names = launches.map((l) => l.kernel.name);
  const norm = reduces ? [...Array<string>(groups).fill('optim/grad_norm_partial'), 'optim/grad_stats'] : [];
  expect(names).toEqual([...norm, ...Array<string>(groups).fill(`optim/${name}`)]);
}

describe('optimizers on WebGPU', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s matches torch and the CPU twin', async (_name, c) => {
    const gpu = await driveCase(await gpuBackend(), c);
    const cpu = await driveCase(cpuBackend(), c);
    gpu.trajectory.forEach((values, s) => {
      expectAllClose(values, c.trajectory[s]!, { rtol: 1e-4, atol: 1e-6, label: `${c.name} vs torch, step ${s + 1}` });
      expectAllClose(values, cpu.trajectory[s]!, { rtol: 1e-5, atol: 1e-7, label: `${c.name} vs twin, step ${s + 1}` });
    });
    expect(gpu.paddingMax).toBe(0);
    const u = c.update;
    const reduces = u.clipGradNorm !== undefined || (u.l1 ?? 0) > 0 || (u.l2 ?? 0) > 0 || c.groups.some((g) => g.options.l1 || g.options.l2);
    expectLaunches(gpu.launches, c.groups.length, reduces, c.optimizer.toLowerCase());
    expect(gpu.launchCount).toBe(gpu.launches.length);
  });

  it('Lion matches the CPU twin', async () => {
    const run = async (backend: Parameters<typeof drive>[0]) => {
      const params = freshParams();
      const optimizer = new Lion([{ params: params.slice(0, 2) }, { params: params.slice(2), weightDecay: 0.1 }], { lr: 0.02 });
      return drive(backend, optimizer, { steps: 20, gradient: lossGradient(params), update: { clipGradNorm: 1 } });
    };
    const gpu = await run(await gpuBackend());
    const cpu = await run(cpuBackend());
    gpu.trajectory.forEach((v, s) => expectAllClose(v, cpu.trajectory[s]!, { rtol: 1e-5, atol: 1e-7, label: `step ${s + 1}` }));
    expect(gpu.paddingMax).toBe(0);
  });
});

describe('a large group on WebGPU', () => {
  const shapes = [[257, 273], [7], [1]];
  const cases: [string, (p: Parameter[]) => Optimizer, UpdateOptions][] = [
    ['Adam, clip by 2-norm, l1, gradNormLR', (p) => new Adam(p, { lr: 0.01, amsgrad: true }), { clipGradNorm: 1, l1: 1e-3, gradNormLR: { gamma: 0.5, eps: 1e-3 } }],
    ['SGD nesterov, clip by value, l2, inf-norm', (p) => new SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true }), { clipGradValue: 0.05, l2: 0.01, computeNorm: true, normType: 'inf' }],
    ['RMSprop in two groups, clip by inf-norm', (p) => new RMSprop([{ params: [p[0]!] }, { params: p.slice(1), centered: true }], { lr: 0.01, momentum: 0.5 }), { clipGradNorm: 0.5, normType: 'inf' }],
  ];

  // SwiftShader is a software adapter, so plans there give each invocation many elements; a GPU
  // gets few per invocation. The second pass runs the GPU-shaped launches on the same device.
  const asHardware = (backend: WebGpuBackend) => Object.create(backend, { software: { value: false } }) as WebGpuBackend;
  it.each(cases)('%s: matches the CPU twin, stats included', async (_name, make, update) => {
    const init = shapes.map((s, i) => randomArray(s.reduce((a, b) => a * b, 1), -1, 1, 100 + i));
    const coeff = shapes.map((s, i) => randomArray(s.reduce((a, b) => a * b, 1), 0.5, 2, 200 + i));
    const gradient = (values: readonly Float32Array[]) => values.map((w, j) => Float32Array.from(w, (x, i) => coeff[j]![i]! * x + Math.cos(3 * x)));
    const run = async (backend: Parameters<typeof drive>[0]) => {
      const params = shapes.map((s, i) => new Parameter(init[i]!.slice(), s, `p${i}`));
      return drive(backend, make(params), { steps: 3, gradient, update, base: 128 });
    };
    const cpu = await run(cpuBackend());
    for (const backend of [await gpuBackend(), asHardware(await gpuBackend())]) {
      const gpu = await run(backend);
      gpu.trajectory.forEach((v, s) => expectAllClose(v, cpu.trajectory[s]!, { rtol: 1e-5, atol: 1e-6, label: `step ${s + 1}` }));
      gpu.stats.forEach((v, s) => expectAllClose(v.subarray(0, 4), cpu.stats[s]!.subarray(0, 4), { rtol: 1e-5, label: `stats ${s + 1}` }));
      expect(gpu.paddingMax).toBe(0);
    }
  });
});
