// The software-adapter workgroup choices (`software: true`): WebGPU against the CPU twins.
import { describe, expect, it } from 'vitest';
import type { BufferView, Launch, TypedArray } from '../../src/backend/kernel.js';
import { batchNormBackwardReduceLaunch, batchNormStatsLaunch } from '../../src/kernels/batch-norm.js';
import { layerNormBackwardInputLaunch, layerNormBackwardParamsLaunch, layerNormForwardLaunch } from '../../src/kernels/layer-norm.js';
import { embeddingGradLaunch, rowsPerBlock } from '../../src/kernels/embedding.js';
import { attentionGroupSize } from '../../src/kernels/attention.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, runKernel } from '../harness.js';

let fakeId = 1_000_000;
const fake = (length: number): BufferView => ({ buffer: { id: fakeId++, byteLength: 1 << 20, label: 'fake' }, offset: 0, length });
async function compare(l: Launch, data: Record<string, TypedArray>): Promise<Record<string, Float32Array>> {
  expect(l.overrides?.wg).toBe(4);
  const outputs: Record<string, number> = {};
  for (const b of l.kernel.bindings) if (!data[b.name]) outputs[b.name] = l.bindings[b.name]!.length;
  const run = { inputs: data, outputs, params: { ...l.params }, overrides: { ...l.overrides }, workgroups: l.workgroups };
  const gpu = (await runKernel(await gpuBackend(), l.kernel, run)) as Record<string, Float32Array>;
  const cpu = (await runKernel(cpuBackend(), l.kernel, run)) as Record<string, Float32Array>;
  for (const b of l.kernel.bindings) if (b.access === 'read_write') expectAllClose(gpu[b.name]!, cpu[b.name]!, { rtol: 1e-4, atol: 1e-5, label: `${l.kernel.name}.${b.name}` });
  return cpu;
}
const sw = { software: true };

describe('software workgroups', () => {
  it.each([[1, 1], [3, 7], [33, 5], [2, 300], [5, 64]])('layer norm [%i, %i]', async (rows, cols) => {
    const s = { rows, cols }, n = rows * cols;
    const x = randomArray(n, -2, 3), dy = randomArray(n, -1, 1), w = randomArray(cols, 0.5, 1.5), b = randomArray(cols, -1, 1);
    const fwd = await compare(layerNormForwardLaunch(s, 1e-5, { x: fake(n), weight: fake(cols), bias: fake(cols), y: fake(n), mean_out: fake(rows), rstd_out: fake(rows) }, fake(64), undefined, sw), { x, weight: w, bias: b });
    const saved = { mean: fwd.mean_out!, rstd: fwd.rstd_out! };
    await compare(layerNormBackwardInputLaunch(s, { x: fake(n), dy: fake(n), weight: fake(cols), mean: fake(rows), rstd: fake(rows), dx: fake(n) }, fake(64), undefined, sw), { x, dy, weight: w, ...saved });
    await compare(layerNormBackwardParamsLaunch(s, { x: fake(n), dy: fake(n), mean: fake(rows), rstd: fake(rows), dweight: fake(cols), dbias: fake(cols) }, undefined, sw), { x, dy, ...saved });
  });
  it.each([{ n: 1, c: 1, s: 1 }, { n: 5, c: 7, s: 1 }, { n: 2, c: 3, s: 35 }, { n: 4, c: 7, s: 33 }])('batch norm %o', async (d) => {
    const s = { batch: d.n, channels: d.c, spatial: d.s }, n = d.n * d.c * d.s;
    const x = randomArray(n, -2, 3), dy = randomArray(n, -1, 1);
    const st = await compare(batchNormStatsLaunch(s, { x: fake(n), mean_out: fake(d.c), variance_out: fake(d.c) }, undefined, sw), { x });
    await compare(batchNormBackwardReduceLaunch(s, 1e-5, { x: fake(n), dy: fake(n), mean: fake(d.c), variance: fake(d.c), sum_dy_out: fake(d.c), sum_dy_xhat_out: fake(d.c) }, undefined, sw), { x, dy, mean: st.mean_out!, variance: st.variance_out! });
  });
  it('embedding grad, one block', async () => {
    const s = { tokens: 37, num: 9, dim: 5, paddingIdx: 2 };
    expect(rowsPerBlock(9, 5, true)).toBe(9);
    const ids = Int32Array.from({ length: 37 }, (_, i) => (i * 7) % 11 - 1);
    const l = embeddingGradLaunch(s, { ids: fake(37), dy: fake(37 * 5), dw: fake(45) }, undefined, rowsPerBlock(9, 5, true));
    const run = { inputs: { ids, dy: randomArray(37 * 5) }, outputs: { dw: 45 }, params: { ...l.params }, overrides: { ...l.overrides }, workgroups: l.workgroups };
    const gpu = await runKernel(await gpuBackend(), l.kernel, run);
    const cpu = await runKernel(cpuBackend(), l.kernel, run);
    expectAllClose(gpu.dw as Float32Array, cpu.dw as Float32Array, { rtol: 0, atol: 0 });
    expect(attentionGroupSize(true)).toBe(32);
  });
});
