import { describe, it } from 'vitest';
import { gpuBackend } from '../harness.js';
import { BUILDS, expectMatchesTorch, fixture } from '../tensor-torch.js';

describe('Tensor API and small modules match torch 1.13 (WebGPU, poisoned scratch)', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s: outputs and gradients within 1e-4', async (_name, c) => {
    const gpu = BUILDS[c.name]?.gpu;
    await expectMatchesTorch(await gpuBackend(), c, { rtol: gpu?.rtol ?? 1e-4, atol: gpu?.atol ?? 1e-5 });
  });
});
