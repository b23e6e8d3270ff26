import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../harness.js';
import { BUILDS, expectMatchesTorch, fixture } from '../tensor-torch.js';

describe('Tensor API and small modules match torch 1.13 (CPU backend)', () => {
  it('the fixture and the expressions list the same cases', () => {
    expect(Object.keys(BUILDS).sort()).toEqual(fixture.cases.map((c) => c.name).sort());
  });

  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s: outputs and gradients within 1e-5', async (_name, c) => {
    await expectMatchesTorch(cpuBackend(), c, { rtol: 1e-5, atol: 1e-6 });
  });
});
