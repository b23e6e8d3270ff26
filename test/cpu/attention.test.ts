/**
 * Scaled dot-product attention on the CPU twins: the four kernels against a materialised-softmax
 * reference in float64, the graph op against the same reference and against finite differences,
 * and the twins against torch (test/fixtures/gen_attention.py).
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { BufferView, TypedArray } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { scaledDotProductAttention } from '../../src/graph/ops/attention.js';
import { permute, reshape, unbind } from '../../src/graph/ops/shape.js';
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import {
  type AttentionShape,
  attentionDeltaLaunch,
  attentionForwardLaunch,
  attentionGradKvLaunch,
  attentionGradQLaunch,
} from '../../src/kernels/attention.js';
import fixture from '../fixtures/attention.json';
import { cpuBackend, expectAllClose, randomArray, rng } from '../harness.js';
import { runKernel } from '../harness.js';
import { expectGradientsMatch, inputValues, type OpInput, runOp } from '../op-check.js';

const LOWEST = -3.4028234663852886e38;
const shapeView = (n: number): BufferView => view({ id: 0, byteLength: Math.max(1, n) * 4, label: 'shape' }, 0, Math.max(1, n));

interface Problem {
  readonly shape: AttentionShape;
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
  readonly mask: Float32Array | null;
  readonly dO: Float32Array;
}

interface Result {
  o: Float32Array;
  lse: Float32Array;
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
}

/** Forward, then the three backward kernels, each through runKernel (outputs poisoned first). */
async function runKernels(backend: Backend, p: Problem): Promise<Result> {
  const { bh, l, s, e, ev } = p.shape;
  const mask = p.mask ?? new Float32Array(1);
  const maskLen = p.mask?.length ?? 1;
  const run = async (launch: ReturnType<typeof attentionForwardLaunch>, inputs: Record<string, TypedArray>, outputs: Record<string, number>) =>
    runKernel(backend, launch.kernel, { inputs, outputs, params: launch.params!, overrides: launch.overrides ?? {}, workgroups: launch.workgroups });
  const fwd = await run(
    attentionForwardLaunch(p.shape, {
      q: shapeView(bh * l * e),
      k: shapeView(bh * s * e),
      v: shapeView(bh * s * ev),
      attn_mask: shapeView(maskLen),
      o: shapeView(bh * l * ev),
      lse: shapeView(bh * l),
    }),
    { q: p.q, k: p.k, v: p.v, attn_mask: mask },
    { o: bh * l * ev, lse: bh * l },
  );
  const o = fwd.o as Float32Array;
  const lse = fwd.lse as Float32Array;
  const delta = await run(
    attentionDeltaLaunch(p.shape, { o_fwd: shapeView(o.length), lse_fwd: shapeView(lse.length), d_o: shapeView(p.dO.length), stats: shapeView(2 * bh * l) }),
    { o_fwd: o, lse_fwd: lse, d_o: p.dO },
    { stats: 2 * bh * l },
  );
  const common = { q: p.q, k: p.k, v: p.v, attn_mask: mask, d_o: p.dO, row_stats: delta.stats! };
  const views = {
    q: shapeView(p.q.length),
    k: shapeView(p.k.length),
    v: shapeView(p.v.length),
    attn_mask: shapeView(maskLen),
    d_o: shapeView(p.dO.length),
    row_stats: shapeView(2 * bh * l),
  };
  const kv = await run(attentionGradKvLaunch(p.shape, { ...views, dk: shapeView(p.k.length), dv: shapeView(p.v.length) }), common, {
    dk: p.k.length,
    dv: p.v.length,
  });
  const gq = await run(attentionGradQLaunch(p.shape, { ...views, dq: shapeView(p.q.length) }), common, { dq: p.q.length });
  return { o, lse, dq: gq.dq as Float32Array, dk: kv.dk as Float32Array, dv: kv.dv as Float32Array };
}

/**
 * The textbook form in float64: the whole score matrix, a softmax per row, and the softmax
 * backward dS = P ⊙ (dP - rowsum(P ⊙ dP)). A row with no visible key is zero (documented choice).
 */
function reference(p: Problem): Result & { lse64: Float64Array } {
  const { bh, l, s, e, ev, scale, causal } = p.shape;
  const sc = Math.fround(scale);
  const o = new Float32Array(bh * l * ev);
  const lse64 = new Float64Array(bh * l);
  const dq = new Float64Array(bh * l * e);
  const dk = new Float64Array(bh * s * e);
  const dv = new Float64Array(bh * s * ev);
  for (let h = 0; h < bh; h++) {
    const P: number[][] = [];
    for (let i = 0; i < l; i++) {
      const row: number[] = [];
      for (let j = 0; j < s; j++) {
        let dot = 0;
        for (let c = 0; c < e; c++) dot += p.q[(h * l + i) * e + c]! * p.k[(h * s + j) * e + c]!;
        let z = sc * dot;
        if (p.mask) z += p.mask[(p.shape.mask === 'shared' ? 0 : h * l * s) + i * s + j]!;
        if (causal && j > i) z = -Infinity;
        row.push(z === LOWEST ? -Infinity : z);
      }
      const m = Math.max(...row);
      const ex = row.map((z) => (m === -Infinity ? 0 : Math.exp(z - m)));
      const total = ex.reduce((a, b) => a + b, 0);
      P.push(ex.map((x) => (total > 0 ? x / total : 0)));
      lse64[h * l + i] = total > 0 ? m + Math.log(total) : LOWEST;
    }
    for (let i = 0; i < l; i++) {
      for (let c = 0; c < ev; c++) {
        let acc = 0;
        for (let j = 0; j < s; j++) acc += P[i]![j]! * p.v[(h * s + j) * ev + c]!;
        o[(h * l + i) * ev + c] = acc;
      }
      const dP = Array.from({ length: s }, (_, j) => {
        let acc = 0;
        for (let c = 0; c < ev; c++) acc += p.dO[(h * l + i) * ev + c]! * p.v[(h * s + j) * ev + c]!;
        return acc;
      });
      const rowDot = dP.reduce((a, x, j) => a + x * P[i]![j]!, 0);
      for (let j = 0; j < s; j++) {
        const dS = P[i]![j]! * (dP[j]! - rowDot);
        for (let c = 0; c < e; c++) {
          dq[(h * l + i) * e + c]! += sc * dS * p.k[(h * s + j) * e + c]!;
          dk[(h * s + j) * e + c]! += sc * dS * p.q[(h * l + i) * e + c]!;
        }
        for (let c = 0; c < ev; c++) dv[(h * s + j) * ev + c]! += P[i]![j]! * p.dO[(h * l + i) * ev + c]!;
      }
    }
  }
  return { o, lse: Float32Array.from(lse64), lse64, dq: Float32Array.from(dq), dk: Float32Array.from(dk), dv: Float32Array.from(dv) };
}

/** Mask values in [-2, 2) with about a quarter -Infinity, column 0 always visible. */
function randomMask(n: number, s: number, seed: number): Float32Array {
  const next = rng(seed);
  const m = randomArray(n, -2, 2, seed + 1);
  for (let x = 0; x < n; x++) if (x % s !== 0 && next() < 0.25) m[x] = -Infinity;
  return m;
}

interface Case {
  name: string;
  bh: number;
  l: number;
  s: number;
  e: number;
  ev: number;
  causal?: boolean;
  mask?: 'shared' | 'per-head';
  scale?: number;
  wg?: number;
}

function problem(c: Case, seed: number): Problem {
  const { bh, l, s, e, ev } = c;
  const mask = c.mask ?? 'none';
  const shape: AttentionShape = { bh, l, s, e, ev, scale: c.scale ?? 1 / Math.sqrt(e), causal: c.causal ?? false, mask, ...(c.wg ? { wg: c.wg } : {}) };
  const maskLength = mask === 'shared' ? l * s : bh * l * s;
  return {
    shape,
    q: randomArray(bh * l * e, -1, 1, seed),
    k: randomArray(bh * s * e, -1, 1, seed + 1),
    v: randomArray(bh * s * ev, -1, 1, seed + 2),
    mask: mask === 'none' ? null : randomMask(maskLength, s, seed + 3),
    dO: randomArray(bh * l * ev, -1, 1, seed + 4),
  };
}

function expectMatches(got: Result, want: Result, tol = { rtol: 1e-5, atol: 1e-6 }): void {
  expectAllClose(got.o, want.o, { ...tol, label: 'o' });
  expectAllClose(got.lse, want.lse, { ...tol, label: 'lse' });
  expectAllClose(got.dq, want.dq, { ...tol, label: 'dq' });
  expectAllClose(got.dk, want.dk, { ...tol, label: 'dk' });
  expectAllClose(got.dv, want.dv, { ...tol, label: 'dv' });
}

const CASES: Case[] = [
  { name: 'one head, L != S, E != Ev', bh: 1, l: 5, s: 7, e: 4, ev: 3 },
  { name: 'three heads, causal, L > S', bh: 3, l: 7, s: 5, e: 6, ev: 9, causal: true },
  { name: 'causal, L < S', bh: 1, l: 4, s: 9, e: 3, ev: 2, causal: true },
  { name: 'shared [L, S] mask', bh: 3, l: 6, s: 5, e: 4, ev: 4, mask: 'shared' },
  { name: 'per-head mask', bh: 3, l: 4, s: 6, e: 5, ev: 2, mask: 'per-head' },
  { name: 'scale given', bh: 1, l: 3, s: 4, e: 8, ev: 5, scale: 0.7 },
  { name: 'several key blocks and head-dim tiles', bh: 2, l: 40, s: 70, e: 33, ev: 65, causal: true },
  { name: 'head dim 128', bh: 1, l: 3, s: 5, e: 128, ev: 128, mask: 'shared' },
  { name: 'small workgroups', bh: 3, l: 9, s: 40, e: 5, ev: 3, causal: true, wg: 4 },
];

describe('attention kernels (CPU twins) against a materialised softmax', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const p = problem(c, 11);
    expectMatches(await runKernels(cpuBackend(), p), reference(p));
  });

  it('a query with every key masked gets output 0 and gradient 0, not NaN', async () => {
    const p = problem({ name: '', bh: 2, l: 3, s: 4, e: 3, ev: 2, mask: 'per-head' }, 5);
    for (let j = 0; j < 4; j++) p.mask![4 + j] = -Infinity; // head 0, query 1
    for (let j = 0; j < 4; j++) p.mask![12 + 8 + j] = LOWEST; // head 1, query 2: torch.finfo.min
    const got = await runKernels(cpuBackend(), p);
    expect(Array.from(got.o.subarray(2, 4))).toEqual([0, 0]);
    expect(Array.from(got.dq.subarray(3, 6))).toEqual([0, 0, 0]);
    expect(got.lse[1]).toBe(Math.fround(LOWEST));
    expect(got.lse[5]).toBe(Math.fround(LOWEST));
    expectMatches(got, reference(p));
  });

  it('a causal first query sees only key 0', async () => {
    const p = problem({ name: '', bh: 1, l: 2, s: 3, e: 2, ev: 2, causal: true }, 8);
    const got = await runKernels(cpuBackend(), p);
    expectAllClose(got.o.subarray(0, 2), p.v.subarray(0, 2), { label: 'o[0] = v[0]' });
  });

  it('rejects head dims over 128, and more than 65535 batch × heads', () => {
    const base: AttentionShape = { bh: 1, l: 1, s: 1, e: 129, ev: 4, scale: 1, causal: false, mask: 'none' };
    const v = shapeView(1 << 20);
    const bindings = { q: v, k: v, v, attn_mask: v, o: v, lse: v };
    expect(() => attentionForwardLaunch(base, bindings, 'attn')).toThrow(/attn: attention supports head dims up to 128, got E = 129/);
    expect(() => attentionForwardLaunch({ ...base, e: 4, bh: 70000 }, bindings, 'attn')).toThrow(/at most 65535 batch × heads, got 70000/);
  });
});

describe('torch fixtures (gen_attention.py), loss sum(o * r)', () => {
  type FixtureCase = (typeof fixture.cases)[number] & { maskValues?: (number | null)[] };
  const floats = (xs: (number | null)[]) => Float32Array.from(xs, (x) => (x === null ? -Infinity : x));
  it.each((fixture.cases as FixtureCase[]).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const bh = c.lead.reduce((a, b) => a * b, 1);
    const mask = c.mask === 'shared' || c.mask === 'per-head' ? c.mask : 'none';
    const p: Problem = {
      shape: { bh, l: c.L, s: c.S, e: c.E, ev: c.Ev, scale: c.scale ?? 1 / Math.sqrt(c.E), causal: c.causal, mask },
      q: floats(c.q),
      k: floats(c.k),
      v: floats(c.v),
      mask: c.maskValues ? floats(c.maskValues) : null,
      dO: floats(c.r),
    };
    const got = await runKernels(cpuBackend(), p);
    const tol = { rtol: 1e-5, atol: 1e-6 };
    expectAllClose(got.o, floats(c.o), { ...tol, label: 'o' });
    expectAllClose(got.dq, floats(c.dq), { ...tol, label: 'dq' });
    expectAllClose(got.dk, floats(c.dk), { ...tol, label: 'dk' });
    expectAllClose(got.dv, floats(c.dv), { ...tol, label: 'dv' });
  });
});

describe('scaledDotProductAttention (graph op)', () => {
  const qkv = (lead: number[], l: number, s: number, e: number, ev: number): OpInput[] => [
    { shape: [...lead, l, e] },
    { shape: [...lead, s, e] },
    { shape: [...lead, s, ev] },
  ];

  it.each([
    ['defaults, rank 3', [2], {}, undefined],
    ['isCausal, rank 4', [2, 2], { isCausal: true }, undefined],
    ['scale', [1], { scale: 0.4 }, undefined],
    ['shared attnMask', [3], {}, 'shared'],
    ['per-head attnMask, rank 4', [1, 3], {}, 'per-head'],
    ['rank 2 (no batch dims)', [], { isCausal: true }, undefined],
  ] as const)('%s: output equals the reference', async (_name, lead, opts, maskKind) => {
    const [l, s, e, ev] = [5, 6, 4, 3];
    const inputs = qkv([...lead], l, s, e, ev);
    const maskShape = maskKind === 'shared' ? [l, s] : [...lead, l, s];
    const all: OpInput[] = maskKind ? [...inputs, { shape: maskShape, data: randomMask(maskShape.reduce((a, b) => a * b, 1), s, 3), grad: false }] : inputs;
    const values = inputValues(all, 21);
    const build = (q: Tensor, k: Tensor, v: Tensor, m?: Tensor) => scaledDotProductAttention(q, k, v, { ...opts, ...(m ? { attnMask: m } : {}) });
    const run = await runOp(cpuBackend(), build, all, values);
    const bh = lead.reduce((a: number, b: number) => a * b, 1);
    const want = reference({
      shape: { bh, l, s, e, ev, scale: 'scale' in opts ? opts.scale : 1 / Math.sqrt(e), causal: 'isCausal' in opts, mask: maskKind ?? 'none' },
      q: values[0] as Float32Array,
      k: values[1] as Float32Array,
      v: values[2] as Float32Array,
      mask: maskKind ? (values[3] as Float32Array) : null,
      dO: new Float32Array(bh * l * ev),
    });
    expect(run.outputs[0]!.length).toBe(bh * l * ev);
    expectAllClose(run.outputs[0]!, want.o, { label: 'o' });
  });

  it('gradients match finite differences', async () => {
    await expectGradientsMatch((q, k, v) => scaledDotProductAttention(q, k, v), qkv([2], 3, 4, 3, 2), { seed: 1 });
  });

  it('gradients match finite differences with isCausal and a scale (rank 4)', async () => {
    await expectGradientsMatch((q, k, v) => scaledDotProductAttention(q, k, v, { isCausal: true, scale: 0.8 }), qkv([1, 2], 4, 3, 2, 3), { seed: 2 });
  });

  it('gradients match finite differences with an attnMask (no gradient to the mask)', async () => {
    const mask = { shape: [3, 4], data: randomMask(12, 4, 9), grad: false };
    await expectGradientsMatch((q, k, v, m) => scaledDotProductAttention(q, k, v, { attnMask: m! }), [...qkv([2], 3, 4, 3, 2), mask], { seed: 3 });
  });

  it('gradients match finite differences for q, k, v as views of one projection (the design example)', async () => {
    const [B, T, H, D] = [1, 3, 2, 2];
    const heads = (x: Tensor) => {
      const [q, k, v] = unbind(permute(reshape(x, [B, T, 3, H, D]), [2, 0, 3, 1, 4]), 0);
      return scaledDotProductAttention(q!, k!, v!, { isCausal: true });
    };
    await expectGradientsMatch(heads, [{ shape: [B, T, 3 * H * D] }], { seed: 4 });
  });

  it('refuses a gradient for attnMask', async () => {
    const inputs: OpInput[] = [...qkv([1], 2, 2, 2, 2), { shape: [2, 2] }];
    const build = (q: Tensor, k: Tensor, v: Tensor, m?: Tensor) => scaledDotProductAttention(q, k, v, { attnMask: m! });
    await expect(runOp(cpuBackend(), build, inputs, inputValues(inputs, 1))).rejects.toThrow(/no gradient for attnMask/);
  });

  describe('shape errors name the layer and the shapes', () => {
    const g = new Graph();
    const t = (name: string, shape: number[]) => g.input(name, shape);
    const q = t('q', [2, 3, 4]);
    const k = t('k', [2, 5, 4]);
    const v = t('v', [2, 5, 6]);
    const attn = (...args: Parameters<typeof scaledDotProductAttention>) => g.scope('attn', () => scaledDotProductAttention(...args));

    it('accepts consistent shapes', () => {
      expect(attn(q, k, v).shape).toEqual([2, 3, 6]);
    });
    it('leading dims differ', () => {
      expect(() => attn(q, t('k2', [3, 5, 4]), v)).toThrow(/attn: scaledDotProductAttention expects q .* \(no broadcasting\), got q \[2, 3, 4\], k \[3, 5, 4\], v \[2, 5, 6\]/);
    });
    it('E of q and k differ', () => {
      expect(() => attn(q, t('k3', [2, 5, 3]), v)).toThrow(/attn: .*q and k differ in E/);
    });
    it('S of k and v differ', () => {
      expect(() => attn(q, k, t('v2', [2, 4, 6]))).toThrow(/attn: .*k and v differ in S/);
    });
    it('rank below 2', () => {
      expect(() => attn(t('q1', [4]), t('k4', [4]), t('v4', [4]))).toThrow(/attn: scaledDotProductAttention expects q \[\.\.\., L, E\].*got q \[4\]/);
    });
    it('mask of the wrong shape', () => {
      expect(() => attn(q, k, v, { attnMask: t('m1', [5, 3]) })).toThrow(/attn: .*expects attnMask \[3, 5\] or \[2, 3, 5\].*got attnMask \[5, 3\]/);
    });
    it('attnMask and isCausal together', () => {
      expect(() => attn(q, k, v, { attnMask: t('m2', [3, 5]), isCausal: true })).toThrow(/attn: .*attnMask or isCausal, not both/);
    });
    it('head dim over 128', () => {
      expect(() => attn(t('q5', [1, 2, 129]), t('k5', [1, 2, 129]), t('v5', [1, 2, 3]))).toThrow(/attn: attention supports head dims up to 128, got E = 129/);
    });
    it('non-finite scale', () => {
      expect(() => attn(q, k, v, { scale: NaN })).toThrow(/attn: .*scale must be finite/);
    });
    it('integer inputs', () => {
      expect(() => attn(g.input('qi', [2, 3, 4], 'i32'), k, v)).toThrow(/attn: scaledDotProductAttention needs f32 q, got i32 \[2, 3, 4\]/);
    });
  });
});
