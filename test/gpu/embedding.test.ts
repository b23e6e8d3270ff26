/**
 * Embedding on WebGPU against the CPU twins: both kernels at awkward sizes with poisoned
 * outputs (row blocks of the gradient of every kind), and the op through the compiled graph.
 */
import { describe, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { type BufferView, type DeviceBuffer, view } from '../../src/backend/kernel.js';
import { embedding } from '../../src/graph/ops/embedding.js';
import { embeddingGradLaunch, embeddingLaunch, type EmbeddingShape } from '../../src/kernels/embedding.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, rng, runKernel } from '../harness.js';
import { expectBackendsAgree } from '../op-check.js';

const fake = (n: number): BufferView => view({ id: 0, byteLength: Math.max(4, n * 4), label: 'fake' } as DeviceBuffer, 0, n);

async function runBoth(backend: Backend, s: EmbeddingShape, ids: Int32Array, weight: Float32Array, dy: Float32Array, rows?: number) {
  const fwd = embeddingLaunch(s, { ids: fake(s.tokens), weight: fake(weight.length), out: fake(dy.length) });
  const bwd = embeddingGradLaunch(s, { ids: fake(s.tokens), dy: fake(dy.length), dw: fake(weight.length) }, undefined, rows);
  const at = (l: typeof fwd) => ({ params: l.params!, overrides: l.overrides ?? {}, workgroups: l.workgroups });
  const out = (await runKernel(backend, fwd.kernel, { inputs: { ids, weight }, outputs: { out: dy.length }, ...at(fwd) })).out!;
  const dw = (await runKernel(backend, bwd.kernel, { inputs: { ids, dy }, outputs: { dw: weight.length }, ...at(bwd) })).dw!;
  return { out, dw };
}

describe('embedding kernels on WebGPU equal the CPU twins', () => {
  it.each<[string, EmbeddingShape, number, number, number | undefined]>([
    ['1 token, 1 row, dim 1', { tokens: 1, num: 1, dim: 1, paddingIdx: null }, 0, 1, undefined],
    ['7 tokens, dim 33, padding row', { tokens: 7, num: 5, dim: 33, paddingIdx: 2 }, 0, 5, undefined],
    ['129 tokens, 5000 rows, dim 17 (blocks of 21 rows)', { tokens: 129, num: 5000, dim: 17, paddingIdx: null }, 0, 5000, undefined],
    ['1000 tokens, 7 rows: heavy repetition', { tokens: 1000, num: 7, dim: 7, paddingIdx: 0 }, 0, 7, undefined],
    ['ids out of range', { tokens: 33, num: 9, dim: 3, paddingIdx: 8 }, -4, 13, undefined],
    ['one row per invocation', { tokens: 33, num: 13, dim: 5, paddingIdx: 3 }, 0, 13, 1],
    ['one block of all rows', { tokens: 33, num: 13, dim: 5, paddingIdx: null }, 0, 13, 13],
    ['uneven blocks', { tokens: 33, num: 13, dim: 5, paddingIdx: 12 }, 0, 13, 4],
  ])('%s', async (_name, s, lo, hi, rows) => {
    const next = rng(31);
    const ids = Int32Array.from({ length: s.tokens }, () => lo + Math.floor(next() * (hi - lo)));
    const weight = randomArray(s.num * s.dim, -1, 1, 32);
    const dy = randomArray(s.tokens * s.dim, -1, 1, 33);
    const gpu = await runBoth(await gpuBackend(), s, ids, weight, dy, rows);
    const cpu = await runBoth(cpuBackend(), s, ids, weight, dy, rows);
    expectAllClose(gpu.out, cpu.out, { rtol: 0, atol: 0, label: 'out' });
    expectAllClose(gpu.dw, cpu.dw, { rtol: 1e-6, atol: 1e-7, label: 'dw' });
  });
});

describe('embedding op on WebGPU agrees with the CPU backend', () => {
  it.each<[string, number[], number, number, number | null]>([
    ['ids [1], 1 x 1', [1], 1, 1, null],
    ['ids [7, 33], 129 x 7, padding 0', [7, 33], 129, 7, 0],
    ['ids [3, 5, 2], 33 x 65, padding -1', [3, 5, 2], 33, 65, -1],
  ])('%s', async (_name, shape, num, dim, paddingIdx) => {
    await expectBackendsAgree(await gpuBackend(), (i, w) => embedding(i, w, { paddingIdx }), [
      { shape, dtype: 'i32', lo: 0, hi: num },
      { shape: [num, dim] },
    ]);
  });
});
