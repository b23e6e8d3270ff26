/**
 * Attention on WebGPU against the CPU twins: each of the four kernels on identical inputs at
 * awkward sizes (outputs poisoned by runKernel), then the graph op end to end.
 */
import { describe, expect, it } from 'vitest';
import type { BufferView, Launch, TypedArray } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { scaledDotProductAttention } from '../../src/graph/ops/attention.js';
import {
  type AttentionShape,
  attentionDeltaLaunch,
  attentionForwardLaunch,
  attentionGradKvLaunch,
  attentionGradQLaunch,
} from '../../src/kernels/attention.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, rng, runKernel } from '../harness.js';
import { expectBackendsAgree, type OpInput } from '../op-check.js';

const TOL = { rtol: 2e-4, atol: 2e-5 };
const LOWEST = -3.4028234663852886e38;
const shapeView = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

interface Case {
  bh: number;
  l: number;
  s: number;
  e: number;
  ev: number;
  causal?: boolean;
  mask?: 'shared' | 'per-head';
  wg?: number;
}

/** Values in [-2, 2), about a quarter -Infinity; column 0 stays visible. */
function randomMask(n: number, s: number, seed: number): Float32Array {
  const next = rng(seed);
  const m = randomArray(n, -2, 2, seed + 1);
  for (let x = 0; x < n; x++) if (x % s !== 0 && next() < 0.25) m[x] = -Infinity;
  return m;
}

async function onBoth(launch: Launch, inputs: Record<string, TypedArray>, outputs: Record<string, number>) {
  const run = { inputs, outputs, params: launch.params!, overrides: launch.overrides ?? {}, workgroups: launch.workgroups };
  return { gpu: await runKernel(await gpuBackend(), launch.kernel, run), cpu: await runKernel(cpuBackend(), launch.kernel, run) };
}

function expectSame(both: { gpu: Record<string, TypedArray>; cpu: Record<string, TypedArray> }, names: string[], what: string): void {
  for (const n of names) expectAllClose(both.gpu[n]!, both.cpu[n]!, { ...TOL, label: `${what} ${n}` });
}

/** Every kernel on both backends, each fed the CPU's results of the kernels before it. */
async function compareKernels(c: Case, seed: number, editMask?: (m: Float32Array) => void): Promise<Record<string, TypedArray>> {
  const { bh, l, s, e, ev } = c;
  const mask = c.mask ?? 'none';
  const shape: AttentionShape = { bh, l, s, e, ev, scale: 1 / Math.sqrt(e), causal: c.causal ?? false, mask, ...(c.wg ? { wg: c.wg } : {}) };
  const maskValues = mask === 'none' ? new Float32Array(1) : randomMask(mask === 'shared' ? l * s : bh * l * s, s, seed + 3);
  editMask?.(maskValues);
  const q = randomArray(bh * l * e, -1, 1, seed);
  const k = randomArray(bh * s * e, -1, 1, seed + 1);
  const v = randomArray(bh * s * ev, -1, 1, seed + 2);
  const dO = randomArray(bh * l * ev, -1, 1, seed + 4);
  const what = JSON.stringify(c);

  const fwd = await onBoth(
    attentionForwardLaunch(shape, {
      q: shapeView(q.length),
      k: shapeView(k.length),
      v: shapeView(v.length),
      attn_mask: shapeView(maskValues.length),
      o: shapeView(bh * l * ev),
      lse: shapeView(bh * l),
    }),
    { q, k, v, attn_mask: maskValues },
    { o: bh * l * ev, lse: bh * l },
  );
  expectSame(fwd, ['o', 'lse'], what);

  const delta = await onBoth(
    attentionDeltaLaunch(shape, { o_fwd: shapeView(bh * l * ev), lse_fwd: shapeView(bh * l), d_o: shapeView(dO.length), stats: shapeView(2 * bh * l) }),
    { o_fwd: fwd.cpu.o!, lse_fwd: fwd.cpu.lse!, d_o: dO },
    { stats: 2 * bh * l },
  );
  expectSame(delta, ['stats'], what);

  const views = {
    q: shapeView(q.length),
    k: shapeView(k.length),
    v: shapeView(v.length),
    attn_mask: shapeView(maskValues.length),
    d_o: shapeView(dO.length),
    row_stats: shapeView(2 * bh * l),
  };
  const inputs = { q, k, v, attn_mask: maskValues, d_o: dO, row_stats: delta.cpu.stats! };
  const kv = await onBoth(attentionGradKvLaunch(shape, { ...views, dk: shapeView(k.length), dv: shapeView(v.length) }), inputs, { dk: k.length, dv: v.length });
  expectSame(kv, ['dk', 'dv'], what);
  const dq = await onBoth(attentionGradQLaunch(shape, { ...views, dq: shapeView(q.length) }), inputs, { dq: q.length });
  expectSame(dq, ['dq'], what);
  return { o: fwd.gpu.o!, lse: fwd.gpu.lse!, dq: dq.gpu.dq!, dk: kv.gpu.dk!, dv: kv.gpu.dv! };
}

const CASES: Case[] = [
  { bh: 1, l: 1, s: 5, e: 8, ev: 8 },
  { bh: 3, l: 7, s: 33, e: 16, ev: 33, causal: true },
  { bh: 2, l: 33, s: 5, e: 33, ev: 8, mask: 'shared' },
  { bh: 3, l: 33, s: 33, e: 8, ev: 16, mask: 'per-head', wg: 8 },
  { bh: 1, l: 7, s: 5, e: 33, ev: 7, causal: true, wg: 4 },
  { bh: 2, l: 33, s: 33, e: 16, ev: 16, causal: true, wg: 8 },
  { bh: 1, l: 1, s: 33, e: 33, ev: 1, mask: 'per-head' },
  { bh: 1, l: 3, s: 5, e: 128, ev: 128 },
];

describe('attention kernels: WebGPU equals the CPU twins', () => {
  it.each(CASES.map((c) => [JSON.stringify(c), c] as const))('%s', async (_name, c) => {
    await compareKernels(c, 7);
  });

  it('a query with every key masked gives 0, not NaN, on the GPU too', async () => {
    const got = await compareKernels({ bh: 2, l: 7, s: 5, e: 8, ev: 3, mask: 'per-head' }, 3, (m) => {
      m.fill(-Infinity, 2 * 5, 3 * 5); // head 0, query 2
      m.fill(LOWEST, (7 + 6) * 5, (7 + 7) * 5); // head 1, query 6
    });
    expect(Array.from(got.o!.subarray(2 * 3, 3 * 3))).toEqual([0, 0, 0]);
    expect(Array.from(got.o!.subarray(13 * 3, 14 * 3))).toEqual([0, 0, 0]);
    expect(Array.from(got.dq!.subarray(2 * 8, 3 * 8))).toEqual(new Array(8).fill(0));
    expect(got.lse![2]).toBe(Math.fround(LOWEST));
  });
});

describe('scaledDotProductAttention: WebGPU agrees with the CPU, outputs and gradients', () => {
  const qkv = (lead: number[], l: number, s: number, e: number, ev: number): OpInput[] => [
    { shape: [...lead, l, e] },
    { shape: [...lead, s, e] },
    { shape: [...lead, s, ev] },
  ];

  it('defaults, [2, 7, 8] x [2, 33, 8]', async () => {
    await expectBackendsAgree(await gpuBackend(), (q, k, v) => scaledDotProductAttention(q, k, v), qkv([2], 7, 33, 8, 5), TOL);
  });

  it('isCausal and scale, rank 4', async () => {
    await expectBackendsAgree(
      await gpuBackend(),
      (q, k, v) => scaledDotProductAttention(q, k, v, { isCausal: true, scale: 0.5 }),
      qkv([1, 3], 33, 7, 16, 8),
      TOL,
    );
  });

  it('per-head attnMask', async () => {
    const mask: OpInput = { shape: [2, 7, 5], data: randomMask(70, 5, 4), grad: false };
    await expectBackendsAgree(await gpuBackend(), (q, k, v, m) => scaledDotProductAttention(q, k, v, { attnMask: m! }), [...qkv([2], 7, 5, 33, 4), mask], TOL);
  });
});
