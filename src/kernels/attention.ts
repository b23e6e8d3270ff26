import source from '../../shaders/attention.wgsl';
import type { BindingSpec, BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { withCommon } from './source.js';

/**
 * Fused scaled dot-product attention (shaders/attention.wgsl): a forward kernel with an online
 * softmax that keeps the per-query log-sum-exp, and three backward kernels (D = rowsum(dO ⊙ O),
 * then dK/dV over key blocks and dQ over query blocks) that recompute the probabilities instead
 * of storing an L × S matrix. Heads are flattened: q [bh, L, E], k [bh, S, E], v [bh, S, Ev].
 *
 * The twins accumulate in float64 and store float32, so they agree with the GPU to the rounding
 * of its float32 sums (not bit for bit).
 */

const wgsl = withCommon(source);
/** Rows (queries, or keys for dK/dV) per workgroup, one per invocation. */
const WG = 64;
/**
 * The same on a software adapter, where each barrier of a tile load switches between the
 * workgroup's groups of invocations and idle rows of a short sequence still cost their turn.
 */
const SOFTWARE_WG = 32;
/** The private row arrays of the shader hold this many floats. */
export const MAX_HEAD_DIM = 128;
/** Keys per step of the online softmax (BLOCK in the shader). */
const BLOCK = 32;
const LOWEST = -3.4028234663852886e38;
const MAX_GROUPS = 65535;

const params: readonly ParamSpec[] = [
  { name: 'bh', type: 'u32' },
  { name: 'l', type: 'u32' },
  { name: 's', type: 'u32' },
  { name: 'e', type: 'u32' },
  { name: 'ev', type: 'u32' },
  { name: 'mask_stride', type: 'u32' },
  { name: 'scale', type: 'f32' },
];

const read = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read' });
const write = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read_write' });

function spec(entry: string, bindings: BindingSpec[], cpu: KernelSpec['cpu']): KernelSpec {
  return { name: entry, wgsl, entry, params, bindings, overrides: { wg: WG, causal: 0, has_mask: 0 }, cpu };
}

/** The problem as the kernels see it. */
export interface AttentionShape {
  /** Batch × heads: the product of the leading dimensions. */
  readonly bh: number;
  readonly l: number;
  readonly s: number;
  readonly e: number;
  readonly ev: number;
  readonly scale: number;
  readonly causal: boolean;
  /** No mask, one [L, S] mask for every head, or one per head ([bh, L, S]). */
  readonly mask: 'none' | 'shared' | 'per-head';
  /** Rows per workgroup (default 64); any size up to 256 gives the same result. */
  readonly wg?: number;
}

interface Problem {
  readonly bh: number;
  readonly l: number;
  readonly s: number;
  readonly e: number;
  readonly ev: number;
  readonly maskStride: number;
  readonly scale: number;
  readonly causal: boolean;
  readonly hasMask: boolean;
}

function problem({ params: p, overrides }: CpuInvocation): Problem {
  return {
    bh: p.bh!,
    l: p.l!,
    s: p.s!,
    e: p.e!,
    ev: p.ev!,
    maskStride: p.mask_stride!,
    scale: Math.fround(p.scale!),
    causal: overrides.causal === 1,
    hasMask: overrides.has_mask === 1,
  };
}

/**
 * The masked, scaled score of (h, i, j) and whether it takes part, decided on its float32 value
 * as the shader does: -Infinity and the lowest float both remove the pair.
 */
function scorer(p: Problem, q: ArrayLike<number>, k: ArrayLike<number>, mask: ArrayLike<number> | undefined) {
  return (h: number, i: number, j: number): number => {
    if (p.causal && j > i) return -Infinity;
    let dot = 0;
    const qi = (h * p.l + i) * p.e;
    const kj = (h * p.s + j) * p.e;
    for (let c = 0; c < p.e; c++) dot += q[qi + c]! * k[kj + c]!;
    const s = p.scale * dot + (p.hasMask ? mask![h * p.maskStride + i * p.s + j]! : 0);
    return Math.fround(s) > LOWEST ? s : -Infinity;
  };
}

function attentionForwardTwin(call: CpuInvocation): void {
  const p = problem(call);
  const { q, k, v, attn_mask, o, lse } = call.buffers;
  const score = scorer(p, q!, k!, attn_mask);
  const acc = new Float64Array(p.ev);
  const block = new Float64Array(BLOCK);
  for (let h = 0; h < p.bh; h++) {
    for (let i = 0; i < p.l; i++) {
      acc.fill(0);
      let m = LOWEST;
      let l = 0;
      for (let j0 = 0; j0 < p.s; j0 += BLOCK) {
        const nj = Math.min(BLOCK, p.s - j0);
        let mNew = m;
        for (let r = 0; r < nj; r++) {
          block[r] = score(h, i, j0 + r);
          mNew = Math.max(mNew, block[r]!);
        }
        const rescale = Math.exp(m - mNew);
        l *= rescale;
        for (let c = 0; c < p.ev; c++) acc[c]! *= rescale;
        for (let r = 0; r < nj; r++) {
          const w = Math.exp(block[r]! - mNew);
          l += w;
          const vj = (h * p.s + j0 + r) * p.ev;
          for (let c = 0; c < p.ev; c++) acc[c]! += w * v![vj + c]!;
        }
        m = mNew;
      }
      const row = h * p.l + i;
      for (let c = 0; c < p.ev; c++) o![row * p.ev + c] = l > 0 ? acc[c]! / l : 0;
      lse![row] = l > 0 ? m + Math.log(l) : LOWEST;
    }
  }
}

function attentionDeltaTwin(call: CpuInvocation): void {
  const p = problem(call);
  const { o_fwd, lse_fwd, d_o, stats } = call.buffers;
  for (let r = 0; r < p.bh * p.l; r++) {
    let d = 0;
    for (let c = 0; c < p.ev; c++) d += d_o![r * p.ev + c]! * o_fwd![r * p.ev + c]!;
    stats![2 * r] = lse_fwd![r]!;
    stats![2 * r + 1] = d;
  }
}

/**
 * Calls `visit(h, i, j, ds)` with ds = scale * dS_ij for every kept pair; P comes from the saved
 * log-sum-exp, D from the stats written by attention_delta.
 */
function forEachScoreGrad(call: CpuInvocation, visit: (h: number, i: number, j: number, ds: number, pij: number) => void): void {
  const p = problem(call);
  const { q, k, v, attn_mask, d_o, row_stats } = call.buffers;
  const score = scorer(p, q!, k!, attn_mask);
  for (let h = 0; h < p.bh; h++) {
    for (let i = 0; i < p.l; i++) {
      const lseI = row_stats![2 * (h * p.l + i)]!;
      const delta = row_stats![2 * (h * p.l + i) + 1]!;
      const doI = (h * p.l + i) * p.ev;
      for (let j = 0; j < p.s; j++) {
        const s = score(h, i, j);
        if (s === -Infinity) continue;
        const pij = Math.exp(s - lseI);
        let dp = 0;
        const vj = (h * p.s + j) * p.ev;
        for (let c = 0; c < p.ev; c++) dp += d_o![doI + c]! * v![vj + c]!;
        visit(h, i, j, p.scale * pij * (dp - delta), pij);
      }
    }
  }
}

function attentionGradKvTwin(call: CpuInvocation): void {
  const p = problem(call);
  const { q, d_o, dk, dv } = call.buffers;
  const dkAcc = new Float64Array(p.bh * p.s * p.e);
  const dvAcc = new Float64Array(p.bh * p.s * p.ev);
  forEachScoreGrad(call, (h, i, j, ds, pij) => {
    const qi = (h * p.l + i) * p.e;
    const kj = (h * p.s + j) * p.e;
    for (let c = 0; c < p.e; c++) dkAcc[kj + c]! += ds * q![qi + c]!;
    const doI = (h * p.l + i) * p.ev;
    const vj = (h * p.s + j) * p.ev;
    for (let c = 0; c < p.ev; c++) dvAcc[vj + c]! += pij * d_o![doI + c]!;
  });
  dk!.set(dkAcc);
  dv!.set(dvAcc);
}

function attentionGradQTwin(call: CpuInvocation): void {
  const p = problem(call);
  const { k, dq } = call.buffers;
  const dqAcc = new Float64Array(p.bh * p.l * p.e);
  forEachScoreGrad(call, (h, i, j, ds) => {
    const qi = (h * p.l + i) * p.e;
    const kj = (h * p.s + j) * p.e;
    for (let c = 0; c < p.e; c++) dqAcc[qi + c]! += ds * k![kj + c]!;
  });
  dq!.set(dqAcc);
}

/** o [bh, L, Ev] and lse [bh, L] from q, k, v and the optional mask. */
export const attentionForward = spec(
  'attention_forward',
  [read('q'), read('k'), read('v'), read('attn_mask'), write('o'), write('lse')],
  attentionForwardTwin,
);
/** stats [bh * L, 2] = (lse, rowsum(dO ⊙ O)) per query. */
export const attentionDelta = spec('attention_delta', [read('o_fwd'), read('lse_fwd'), read('d_o'), write('stats')], attentionDeltaTwin);
/** dK [bh, S, E] and dV [bh, S, Ev], one invocation per key. */
export const attentionGradKv = spec(
  'attention_grad_kv',
  [read('q'), read('k'), read('v'), read('attn_mask'), read('d_o'), read('row_stats'), write('dk'), write('dv')],
  attentionGradKvTwin,
);
/** dQ [bh, L, E], one invocation per query. */
export const attentionGradQ = spec(
  'attention_grad_q',
  [read('q'), read('k'), read('v'), read('attn_mask'), read('d_o'), read('row_stats'), write('dq')],
  attentionGradQTwin,
);

/** Rows per workgroup for `AttentionShape.wg`: fewer on a software adapter (`Backend.software`). */
export function attentionGroupSize(software: boolean): number {
  return software ? SOFTWARE_WG : WG;
}

/** Checks the sizes the kernels support; errors name the layer and the offending size. */
export function checkAttentionShape(shape: AttentionShape, who: string): void {
  const { bh, l, s, e, ev, scale } = shape;
  for (const [name, n] of [['batch × heads', bh], ['L', l], ['S', s], ['E', e], ['Ev', ev]] as const) {
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`${who}: attention needs ${name} >= 1, got ${n}`);
  }
  if (e > MAX_HEAD_DIM || ev > MAX_HEAD_DIM) {
    throw new Error(`${who}: attention supports head dims up to ${MAX_HEAD_DIM}, got E = ${e}, Ev = ${ev}`);
  }
  if (bh > MAX_GROUPS) throw new Error(`${who}: attention supports at most ${MAX_GROUPS} batch × heads, got ${bh}`);
  if (!Number.isFinite(scale)) throw new Error(`${who}: attention scale must be finite, got ${scale}`);
  const wg = shape.wg ?? WG;
  if (!(Number.isInteger(wg) && wg >= 1 && wg <= 256)) throw new Error(`${who}: attention workgroup size must be in [1, 256], got ${wg}`);
}

function common(shape: AttentionShape, who: string) {
  checkAttentionShape(shape, who);
  const { bh, l, s, e, ev, scale, causal, mask, wg = WG } = shape;
  const maskLength = mask === 'none' ? 0 : mask === 'shared' ? l * s : bh * l * s;
  return {
    params: { bh, l, s, e, ev, mask_stride: mask === 'per-head' ? l * s : 0, scale },
    overrides: { wg, causal: causal ? 1 : 0, has_mask: mask === 'none' ? 0 : 1 },
    maskLength,
    wg,
  };
}

export function attentionForwardLaunch(
  shape: AttentionShape,
  bindings: { q: BufferView; k: BufferView; v: BufferView; attn_mask: BufferView; o: BufferView; lse: BufferView },
  label?: string,
): Launch {
  const { params, overrides, maskLength, wg } = common(shape, label ?? attentionForward.name);
  const { bh, l, s, e, ev } = shape;
  return launch(attentionForward, {
    bindings,
    params,
    overrides,
    workgroups: [Math.ceil(l / wg), bh, 1],
    needs: { q: bh * l * e, k: bh * s * e, v: bh * s * ev, attn_mask: maskLength, o: bh * l * ev, lse: bh * l },
    label,
  });
}

export function attentionDeltaLaunch(
  shape: AttentionShape,
  bindings: { o_fwd: BufferView; lse_fwd: BufferView; d_o: BufferView; stats: BufferView },
  label?: string,
): Launch {
  const { params, overrides } = common(shape, label ?? attentionDelta.name);
  const rows = shape.bh * shape.l;
  return launch(attentionDelta, {
    bindings,
    params,
    overrides,
    threads: rows,
    needs: { o_fwd: rows * shape.ev, lse_fwd: rows, d_o: rows * shape.ev, stats: 2 * rows },
    label,
  });
}

type GradBindings = { q: BufferView; k: BufferView; v: BufferView; attn_mask: BufferView; d_o: BufferView; row_stats: BufferView };

function gradNeeds(shape: AttentionShape, maskLength: number): Record<string, number> {
  const { bh, l, s, e, ev } = shape;
  return { q: bh * l * e, k: bh * s * e, v: bh * s * ev, attn_mask: maskLength, d_o: bh * l * ev, row_stats: 2 * bh * l };
}

export function attentionGradKvLaunch(shape: AttentionShape, bindings: GradBindings & { dk: BufferView; dv: BufferView }, label?: string): Launch {
  const { params, overrides, maskLength, wg } = common(shape, label ?? attentionGradKv.name);
  const { bh, s, e, ev } = shape;
  return launch(attentionGradKv, {
    bindings,
    params,
    overrides,
    workgroups: [Math.ceil(s / wg), bh, 1],
    needs: { ...gradNeeds(shape, maskLength), dk: bh * s * e, dv: bh * s * ev },
    label,
  });
}

export function attentionGradQLaunch(shape: AttentionShape, bindings: GradBindings & { dq: BufferView }, label?: string): Launch {
  const { params, overrides, maskLength, wg } = common(shape, label ?? attentionGradQ.name);
  const { bh, l, e } = shape;
  return launch(attentionGradQ, {
    bindings,
    params,
    overrides,
    workgroups: [Math.ceil(l / wg), bh, 1],
    needs: { ...gradNeeds(shape, maskLength), dq: bh * l * e },
    label,
  });
}
