import { describe, it } from 'vitest';
import { gpuBackend } from '../harness.js';
import { expectBackendsAgree } from '../op-check.js';
import { MATMUL_CASES, POINTWISE_CASES, VIEW_CASES } from '../tensor-cases.js';

describe('Tensor API on WebGPU agrees with the CPU twins (poisoned scratch, fresh inputs)', () => {
  it.each([...POINTWISE_CASES, ...VIEW_CASES, ...MATMUL_CASES])('$name', async (c) => {
    await expectBackendsAgree(await gpuBackend(), c.build, c.inputs, c.gpu);
  });

  it('broadcast arithmetic and transposed matmul at awkward sizes', async () => {
    const gpu = await gpuBackend();
    await expectBackendsAgree(gpu, (a, b) => a!.mul(b!).add(b!.exp()), [{ shape: [33, 1, 7] }, { shape: [129, 1] }]);
    await expectBackendsAgree(gpu, (a, b) => a!.transpose(-1, -2).matmul(b!), [{ shape: [3, 33, 7] }, { shape: [1, 33, 65] }], { rtol: 1e-4, atol: 1e-4 });
  });
});
