import source from '../../shaders/layer_stats.wgsl';
import type { BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { treeSum } from './reduce.js';
import { withCommon } from './source.js';

/**
 * Per-tensor diagnostics of the flat parameter and gradient buffers (shaders/layer_stats.wgsl):
 * one workgroup per parameter tensor. `layerStats` runs between backward and the optimizer
 * update (gradient and weight norms, histograms, a snapshot of the weights); `layerDelta` runs
 * after the update (the norm of the step Δw = w_after − w_before). The twins visit elements in the
 * shader's lane order and round like float32, so the backends agree to a few ulp; histogram
 * counts can differ only for a value within an ulp or two of a bin edge (the GPU's log2).
 */

const f32 = Math.fround;

/** Words before a tensor's histograms in its block of `out`. */
export const STATS_HEADER = 6;
/** The most bins a histogram may have (the shader's workgroup arrays). */
export const MAX_BINS = 256;
/** The shader's workgroup size: a power of two. */
export const STATS_WG = 256;
const NAN_BITS = 0x7fc00000;
const LOG10_2 = f32(0.3010299956639812);

const params: readonly ParamSpec[] = [
  { name: 'bins', type: 'u32' },
  { name: 'stride', type: 'u32' },
  { name: 'grad_lo', type: 'f32' },
  { name: 'grad_scale', type: 'f32' },
];

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);

/** The float32 whose bits are `word`. */
export function floatOf(word: number): number {
  bits[0] = word;
  return asFloat[0]!;
}

/** The bits of float32 `x`. */
export function wordOf(x: number): number {
  asFloat[0] = x;
  return bits[0]!;
}

/** The shader's pow2_scale: [2^e, 2^-e] with 2^e the power of two at or below m (clamped). */
export function pow2Scale(m: number): [number, number] {
  const e = Math.min(253, Math.max(1, (wordOf(m) >>> 23) & 0xff));
  return [floatOf(e << 23), floatOf((254 - e) << 23)];
}

function gradBin(g: number, bins: number, lo: number, scale: number): number {
  const magnitude = wordOf(g) & 0x7fffffff;
  if (magnitude >= 0x7f800000) return bins - 1;
  if (magnitude < 0x00800000) return 0;
  const t = f32(f32(f32(f32(Math.log2(Math.abs(g))) * LOG10_2) - lo) * scale);
  return Math.trunc(Math.min(Math.max(t, 0), bins - 1));
}

function weightBin(w: number, r: number, scale: number, bins: number): number {
  if (Number.isNaN(w)) return bins - 1;
  return Math.trunc(Math.min(Math.max(f32(f32(w + r) * scale), 0), bins - 1));
}

/** Max |x| over the finite values of n elements, and whether a non-finite one was met. */
function finiteMax(n: number, x: (i: number) => number): { top: number; bad: boolean } {
  let top = 0;
  let bad = false;
  for (let i = 0; i < n; i++) {
    const v = x(i);
    if (Number.isFinite(v)) top = Math.max(top, Math.abs(v));
    else bad = true;
  }
  return { top, bad };
}

/** The scaled sum of squares as the shader forms it: [Σ(x/s)² in lane order, s]. */
function scaledSquares(n: number, wg: number, top: number, x: (i: number) => number): [number, number] {
  const [scale, inverse] = pow2Scale(top);
  return [
    treeSum(n, wg, (i) => {
      const y = f32(x(i) * inverse);
      return f32(y * y);
    }),
    scale,
  ];
}

interface Views {
  segments: Uint32Array;
  ranges: Float32Array;
  out: Uint32Array;
  outFloats: Float32Array;
}

function views(buffers: CpuInvocation['buffers']): Views {
  const segments = buffers.segments as Uint32Array;
  const out = buffers.out as Uint32Array;
  return {
    segments,
    ranges: new Float32Array(segments.buffer, segments.byteOffset, segments.length),
    out,
    outFloats: new Float32Array(out.buffer, out.byteOffset, out.length),
  };
}

/** Writes a scaled sum, or NaN's bits when the tensor held a non-finite value. */
function writeSum(v: Views, at: number, [sum, scale]: [number, number], bad: boolean): void {
  if (bad) v.out[at] = NAN_BITS;
  else v.outFloats[at] = sum;
  v.outFloats[at + 1] = scale;
}

function statsTwin({ buffers, params, overrides, workgroups }: CpuInvocation): void {
  const v = views(buffers);
  const weights = buffers.weights as Float32Array;
  const grads = buffers.grads as Float32Array;
  const snapshot = buffers.snapshot as Float32Array;
  const { bins, stride } = params as { bins: number; stride: number };
  const lo = f32(params.grad_lo!);
  const gradScale = f32(params.grad_scale!);
  const wg = overrides.wg!;
  for (let t = 0; t < workgroups[0]; t++) {
    const offset = v.segments[4 * t]!;
    const n = v.segments[4 * t + 1]!;
    const r = v.ranges[4 * t + 2]!;
    const weightScale = v.ranges[4 * t + 3]!;
    const g = (i: number) => grads[offset + i]!;
    const w = (i: number) => weights[offset + i]!;
    const base = t * stride;
    const histograms = v.out.subarray(base + STATS_HEADER, base + STATS_HEADER + 2 * bins).fill(0);
    for (let i = 0; i < n; i++) {
      snapshot[offset + i] = w(i);
      if (bins > 0) {
        histograms[gradBin(g(i), bins, lo, gradScale)]! += 1;
        histograms[bins + weightBin(w(i), r, weightScale, bins)]! += 1;
      }
    }
    const gMax = finiteMax(n, g);
    const wMax = finiteMax(n, w);
    writeSum(v, base, scaledSquares(n, wg, gMax.top, g), gMax.bad);
    writeSum(v, base + 2, scaledSquares(n, wg, wMax.top, w), wMax.bad);
    v.out[base + 4] = 0;
    v.out[base + 5] = 0;
  }
}

function deltaTwin({ buffers, params, overrides, workgroups }: CpuInvocation): void {
  const v = views(buffers);
  const weights = buffers.weights as Float32Array;
  const snapshot = buffers.snapshot as Float32Array;
  for (let t = 0; t < workgroups[0]; t++) {
    const offset = v.segments[4 * t]!;
    const n = v.segments[4 * t + 1]!;
    const d = (i: number) => f32(weights[offset + i]! - snapshot[offset + i]!);
    const { top, bad } = finiteMax(n, d);
    writeSum(v, t * params.stride! + 4, scaledSquares(n, overrides.wg!, top, d), bad);
  }
}

const bindings = {
  segments: { name: 'segments', type: 'u32', access: 'read' },
  weights: { name: 'weights', type: 'f32', access: 'read' },
  grads: { name: 'grads', type: 'f32', access: 'read' },
  snapshot: { name: 'snapshot', type: 'f32', access: 'read_write' },
  out: { name: 'out', type: 'u32', access: 'read_write' },
} as const;

/** Gradient and weight norms and histograms per tensor, and the snapshot of the weights. */
export const layerStats: KernelSpec = {
  name: 'layer_stats',
  wgsl: withCommon(source),
  entry: 'layer_stats',
  params,
  bindings: [bindings.segments, bindings.weights, bindings.grads, bindings.snapshot, bindings.out],
  overrides: { wg: STATS_WG },
  cpu: statsTwin,
};

/** The norm of w − snapshot per tensor: the step the optimizer took. */
export const layerDelta: KernelSpec = {
  name: 'layer_delta',
  wgsl: withCommon(source),
  entry: 'layer_delta',
  params,
  bindings: [bindings.segments, bindings.weights, bindings.snapshot, bindings.out],
  overrides: { wg: STATS_WG },
  cpu: deltaTwin,
};

/** One parameter tensor: its range of the flat buffers and the half-width r of its weight histogram. */
export interface StatsSegment {
  readonly offset: number;
  readonly length: number;
  readonly range: number;
}

/** Histogram bins (0: none) and the log10|g| range [lo, hi] the gradient bins split. */
export interface StatsShape {
  readonly bins: number;
  readonly logGradRange: readonly [number, number];
}

/** Words per tensor in `out`. */
export function statsStride(bins: number): number {
  return STATS_HEADER + 2 * bins;
}

/** The `segments` table of the shader: offset, length, r and bins / 2r per tensor. */
export function segmentTable(segments: readonly StatsSegment[], bins: number): Uint32Array {
  const table = new Uint32Array(4 * segments.length);
  const floats = new Float32Array(table.buffer);
  segments.forEach(({ offset, length, range }, t) => {
    table[4 * t] = offset;
    table[4 * t + 1] = length;
    floats[4 * t + 2] = range;
    floats[4 * t + 3] = bins / (2 * range);
  });
  return table;
}

export interface StatsBuffers {
  readonly segments: BufferView;
  /** The flat parameters, from offset 0 of every segment. */
  readonly weights: BufferView;
  readonly grads: BufferView;
  /** As long as `weights`. */
  readonly snapshot: BufferView;
  readonly out: BufferView;
}

/**
 * The two launches of a tracked step: `before` goes between backward and the optimizer update,
 * `after` follows the update.
 */
export function layerStatsLaunches(
  buffers: StatsBuffers,
  segments: readonly StatsSegment[],
  { bins, logGradRange: [lo, hi] }: StatsShape,
  label = 'layer-stats',
): { before: Launch; after: Launch } {
  if (segments.length < 1 || segments.length > 65535) throw new Error(`${label}: needs 1 to 65535 tensors, got ${segments.length}`);
  if (!Number.isInteger(bins) || bins < 0 || bins > MAX_BINS) throw new Error(`${label}: bins must be an integer in [0, ${MAX_BINS}], got ${bins}`);
  const end = Math.max(...segments.map((s) => s.offset + s.length));
  const stride = statsStride(bins);
  const values = { bins, stride, grad_lo: lo, grad_scale: bins / (hi - lo) };
  const needs = { segments: 4 * segments.length, weights: end, grads: end, snapshot: end, out: stride * segments.length };
  const workgroups = [segments.length, 1, 1] as const;
  return {
    before: launch(layerStats, { bindings: { ...buffers }, params: values, needs, workgroups, label: `${label}/before-update` }),
    after: launch(layerDelta, {
      bindings: { segments: buffers.segments, weights: buffers.weights, snapshot: buffers.snapshot, out: buffers.out },
      params: values,
      needs: { segments: needs.segments, weights: end, snapshot: end, out: needs.out },
      workgroups,
      label: `${label}/after-update`,
    }),
  };
}

/** A tensor's figures, decoded from its block of `out`. */
export interface TensorStats {
  readonly gradNorm: number;
  readonly weightNorm: number;
  /** ‖w_after − w_before‖. */
  readonly deltaNorm: number;
  readonly gradHistogram: Uint32Array;
  readonly weightHistogram: Uint32Array;
}

/** Reads tensor t's block of `out` (its words, as copied back). */
export function decodeStats(words: Uint32Array, t: number, bins: number): TensorStats {
  const base = t * statsStride(bins);
  const norm = (at: number) => floatOf(words[base + at + 1]!) * Math.sqrt(floatOf(words[base + at]!));
  const histograms = base + STATS_HEADER;
  return {
    gradNorm: norm(0),
    weightNorm: norm(2),
    deltaNorm: norm(4),
    gradHistogram: words.slice(histograms, histograms + bins),
    weightHistogram: words.slice(histograms + bins, histograms + 2 * bins),
  };
}
