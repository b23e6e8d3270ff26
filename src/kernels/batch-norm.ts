import source from '../../shaders/batch_norm.wgsl';
import welford from '../../shaders/welford.wgsl';
import type { BindingSpec, BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { grid1d } from '../backend/kernel.js';
import { launch } from './launch.js';
import { withCommon } from './source.js';
import { type ReductionOptions, reductionGroupSize, rstdOf, treeMoments, treeSums } from './welford.js';

/**
 * Batch normalisation over channels (shaders/batch_norm.wgsl): per-channel statistics by Welford
 * updates merged in a fixed tree, the normalisation, the two-dispatch backward, and the in-place
 * update of the running statistics. Inputs are viewed as [batch, channels, spatial].
 */

const wgsl = withCommon(`${source}\n${welford}`);
const WG = 256;
/** `mean_at` / `var_at` / `count_at` of a statistic that is not in the bound `state` range. */
export const NONE = 0xffffffff;

const params: readonly ParamSpec[] = [
  { name: 'batch', type: 'u32' },
  { name: 'channels', type: 'u32' },
  { name: 'spatial', type: 'u32' },
  { name: 'eps', type: 'f32' },
  { name: 'momentum', type: 'f32' },
  { name: 'unbias', type: 'f32' },
  { name: 'mean_at', type: 'u32' },
  { name: 'var_at', type: 'u32' },
  { name: 'count_at', type: 'u32' },
];

const read = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read' });
const write = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read_write' });

function spec(entry: string, bindings: BindingSpec[], overrides: Record<string, number>, cpu: KernelSpec['cpu']): KernelSpec {
  return { name: entry, wgsl, entry, params, bindings, overrides, cpu };
}

const f = Math.fround;

/** x viewed as [batch, channels, spatial]: channel c has batch * spatial elements. */
export interface BatchNormShape {
  readonly batch: number;
  readonly channels: number;
  readonly spatial: number;
}

/** Index in x of element i of channel c. */
function channelElement(s: BatchNormShape, c: number, i: number): number {
  const n = Math.floor(i / s.spatial);
  return (n * s.channels + c) * s.spatial + (i - n * s.spatial);
}

function shapeOf(p: CpuInvocation['params']): BatchNormShape {
  return { batch: p.batch!, channels: p.channels!, spatial: p.spatial! };
}

function statsTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const { x, mean_out, variance_out } = buffers as Record<string, Float32Array>;
  const s = shapeOf(p);
  const m = s.batch * s.spatial;
  for (let c = 0; c < s.channels; c++) {
    const r = treeMoments(m, overrides.wg!, (i) => x![channelElement(s, c, i)]!);
    mean_out![c] = r.mean;
    variance_out![c] = f(r.m2 / r.count);
  }
}

function forwardTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const { x, mean, variance, weight, bias, y } = buffers as Record<string, Float32Array>;
  const s = shapeOf(p);
  const n = s.batch * s.channels * s.spatial;
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / s.spatial) % s.channels;
    let v = f(f(x![i]! - mean![c]!) * rstdOf(variance![c]!, p.eps!));
    if (overrides.has_weight === 1) v = f(v * weight![c]!);
    if (overrides.has_bias === 1) v = f(v + bias![c]!);
    y![i] = v;
  }
}

function backwardReduceTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const { x, dy, mean, variance, sum_dy_out, sum_dy_xhat_out } = buffers as Record<string, Float32Array>;
  const s = shapeOf(p);
  const m = s.batch * s.spatial;
  for (let c = 0; c < s.channels; c++) {
    const mu = mean![c]!;
    const rstd = rstdOf(variance![c]!, p.eps!);
    const [sum, sumXhat] = treeSums(m, overrides.wg!, (i) => {
      const k = channelElement(s, c, i);
      const g = dy![k]!;
      return [g, f(g * f(f(x![k]! - mu) * rstd))];
    });
    sum_dy_out![c] = sum;
    sum_dy_xhat_out![c] = sumXhat;
  }
}

function backwardInputTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const { x, dy, mean, variance, weight, sum_dy, sum_dy_xhat, dx } = buffers as Record<string, Float32Array>;
  const s = shapeOf(p);
  const n = s.batch * s.channels * s.spatial;
  const invM = f(1 / (s.batch * s.spatial));
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / s.spatial) % s.channels;
    const rstd = rstdOf(variance![c]!, p.eps!);
    const scale = overrides.has_weight === 1 ? f(rstd * weight![c]!) : rstd;
    let g = dy![i]!;
    if (overrides.training === 1) {
      const xhat = f(f(x![i]! - mean![c]!) * rstd);
      g = f(f(g - f(sum_dy![c]! * invM)) - f(xhat * f(sum_dy_xhat![c]! * invM)));
    }
    dx![i] = f(scale * g);
  }
}

function runningTwin({ buffers, params: p }: CpuInvocation): void {
  const { mean, variance, tracked, state } = buffers as Record<string, Float32Array>;
  let before: number;
  if (p.count_at !== NONE) {
    before = state![p.count_at!]!;
    state![p.count_at!] = f(before + 1);
  } else {
    before = tracked![0]!;
  }
  const momentum = f(p.momentum!);
  const factor = momentum < 0 ? f(1 / f(before + 1)) : momentum;
  const keep = f(1 - factor);
  for (let c = 0; c < p.channels!; c++) {
    if (p.mean_at !== NONE) {
      const k = p.mean_at! + c;
      state![k] = f(f(keep * state![k]!) + f(factor * mean![c]!));
    }
    if (p.var_at !== NONE) {
      const k = p.var_at! + c;
      state![k] = f(f(keep * state![k]!) + f(factor * f(variance![c]! * f(p.unbias!))));
    }
  }
}

/** mean_out[c], variance_out[c] (biased) of channel c; one workgroup per channel. */
export const batchNormStats = spec('batch_norm_stats', [read('x'), write('mean_out'), write('variance_out')], { wg: WG }, statsTwin);

/** y = (x - mean[c]) rstd[c] weight[c] + bias[c], from batch or running statistics. */
export const batchNormForward = spec(
  'batch_norm_forward',
  [read('x'), read('mean'), read('variance'), read('weight'), read('bias'), write('y')],
  { wg: WG, has_weight: 1, has_bias: 1 },
  forwardTwin,
);

/** sum_dy_out[c] = Σ dy (dβ), sum_dy_xhat_out[c] = Σ dy x̂ (dγ); one workgroup per channel. */
export const batchNormBackwardReduce = spec(
  'batch_norm_backward_reduce',
  [read('x'), read('dy'), read('mean'), read('variance'), write('sum_dy_out'), write('sum_dy_xhat_out')],
  { wg: WG },
  backwardReduceTwin,
);

/** dx from dy and the per-channel sums (training) or from dy alone (fixed statistics). */
export const batchNormBackwardInput = spec(
  'batch_norm_backward_input',
  [read('x'), read('dy'), read('mean'), read('variance'), read('weight'), read('sum_dy'), read('sum_dy_xhat'), write('dx')],
  { wg: WG, has_weight: 1, training: 1 },
  backwardInputTwin,
);

/** Running mean / variance / batch count updated in place inside `state`; one workgroup. */
export const batchNormRunning = spec(
  'batch_norm_running',
  [read('mean'), read('variance'), read('tracked'), write('state')],
  { wg: 64 },
  runningTwin,
);

function shapeParams(s: BatchNormShape, eps = 0): Record<string, number> {
  return { ...s, eps, momentum: 0, unbias: 1, mean_at: NONE, var_at: NONE, count_at: NONE };
}

function checkShape(s: BatchNormShape, label: string): void {
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} must be a positive integer, got ${v}`);
  }
}

export function batchNormStatsLaunch(
  s: BatchNormShape,
  bindings: { x: BufferView; mean_out: BufferView; variance_out: BufferView },
  label = 'batch_norm_stats',
  options: ReductionOptions = {},
): Launch {
  checkShape(s, label);
  return launch(batchNormStats, {
    bindings,
    params: shapeParams(s),
    overrides: { wg: reductionGroupSize(s.batch * s.spatial, options) },
    workgroups: grid1d(s.channels, 1),
    needs: { x: s.batch * s.channels * s.spatial, mean_out: s.channels, variance_out: s.channels },
    label,
  });
}

/** Missing `weight` / `bias` are γ = 1 / β = 0; `dummy` fills their bindings. */
export function batchNormForwardLaunch(
  s: BatchNormShape,
  eps: number,
  bindings: { x: BufferView; mean: BufferView; variance: BufferView; weight?: BufferView; bias?: BufferView; y: BufferView },
  dummy: BufferView,
  label = 'batch_norm_forward',
): Launch {
  checkShape(s, label);
  const n = s.batch * s.channels * s.spatial;
  const { weight, bias } = bindings;
  return launch(batchNormForward, {
    bindings: { ...bindings, weight: weight ?? dummy, bias: bias ?? dummy },
    params: shapeParams(s, eps),
    overrides: { wg: WG, has_weight: weight ? 1 : 0, has_bias: bias ? 1 : 0 },
    threads: n,
    needs: { x: n, y: n, mean: s.channels, variance: s.channels, ...(weight ? { weight: s.channels } : {}), ...(bias ? { bias: s.channels } : {}) },
    label,
  });
}

export function batchNormBackwardReduceLaunch(
  s: BatchNormShape,
  eps: number,
  bindings: { x: BufferView; dy: BufferView; mean: BufferView; variance: BufferView; sum_dy_out: BufferView; sum_dy_xhat_out: BufferView },
  label = 'batch_norm_backward_reduce',
  options: ReductionOptions = {},
): Launch {
  checkShape(s, label);
  const n = s.batch * s.channels * s.spatial;
  const c = s.channels;
  return launch(batchNormBackwardReduce, {
    bindings,
    params: shapeParams(s, eps),
    overrides: { wg: reductionGroupSize(s.batch * s.spatial, options) },
    workgroups: grid1d(c, 1),
    needs: { x: n, dy: n, mean: c, variance: c, sum_dy_out: c, sum_dy_xhat_out: c },
    label,
  });
}

/**
 * dx of batch normalisation. With `sums` (Σ dy and Σ dy x̂ per channel) the statistics were the
 * batch's own (training); without, they were constants (evaluation).
 */
export function batchNormBackwardInputLaunch(
  s: BatchNormShape,
  eps: number,
  bindings: { x: BufferView; dy: BufferView; mean: BufferView; variance: BufferView; weight?: BufferView; dx: BufferView },
  sums: { sum_dy: BufferView; sum_dy_xhat: BufferView } | null,
  dummy: BufferView,
  label = 'batch_norm_backward_input',
): Launch {
  checkShape(s, label);
  const n = s.batch * s.channels * s.spatial;
  const c = s.channels;
  const { weight } = bindings;
  return launch(batchNormBackwardInput, {
    bindings: { ...bindings, weight: weight ?? dummy, sum_dy: sums?.sum_dy ?? dummy, sum_dy_xhat: sums?.sum_dy_xhat ?? dummy },
    params: shapeParams(s, eps),
    overrides: { wg: WG, has_weight: weight ? 1 : 0, training: sums ? 1 : 0 },
    threads: n,
    needs: { x: n, dy: n, dx: n, mean: c, variance: c, ...(weight ? { weight: c } : {}), ...(sums ? { sum_dy: c, sum_dy_xhat: c } : {}) },
    label,
  });
}

export interface RunningUpdate {
  readonly channels: number;
  /** Values per channel in the batch (m >= 2: the unbiased variance divides by m - 1). */
  readonly count: number;
  /** torch's momentum; null for a cumulative moving average (factor 1 / batches seen). */
  readonly momentum: number | null;
}

/**
 * The in-place update of running statistics: one dispatch per device buffer among running_mean,
 * running_var and num_batches_tracked, each binding one read_write range (`state`) that spans
 * those of the three held by that buffer. In the trainer all module buffers share one device
 * buffer, so this is one dispatch; where they are separate buffers, the counter is read through
 * `tracked` (read-only, legal since it is another buffer) and its own dispatch comes last.
 */
export function batchNormRunningLaunches(
  u: RunningUpdate,
  bindings: { mean: BufferView; variance: BufferView; runningMean: BufferView; runningVar: BufferView; tracked: BufferView | null },
  dummy: BufferView,
  label = 'batch_norm_running',
): Launch[] {
  if (!Number.isInteger(u.count) || u.count < 2) {
    throw new Error(`${label}: the running variance needs more than 1 value per channel, got ${u.count}`);
  }
  if (u.momentum === null && !bindings.tracked) throw new Error(`${label}: a cumulative average (momentum null) needs the batch counter`);
  const c = u.channels;
  const members = [
    { at: 'mean_at', view: bindings.runningMean, length: c },
    { at: 'var_at', view: bindings.runningVar, length: c },
    ...(bindings.tracked ? [{ at: 'count_at', view: bindings.tracked, length: 1 }] : []),
  ];
  const groups = new Map<number, typeof members>();
  for (const m of members) {
    if (m.view.length < m.length) throw new Error(`${label}: '${m.at.replace('_at', '')}' holds ${m.view.length} elements, needs ${m.length}`);
    groups.set(m.view.buffer.id, [...(groups.get(m.view.buffer.id) ?? []), m]);
  }
  const ordered = [...groups.values()].sort((a, b) => Number(a.some((m) => m.at === 'count_at')) - Number(b.some((m) => m.at === 'count_at')));
  return ordered.map((group) => {
    const start = Math.min(...group.map((m) => m.view.offset));
    const end = Math.max(...group.map((m) => m.view.offset + m.length));
    const offsets: Record<string, number> = { mean_at: NONE, var_at: NONE, count_at: NONE };
    for (const m of group) offsets[m.at] = m.view.offset - start;
    const counterHere = offsets.count_at !== NONE;
    return launch(batchNormRunning, {
      bindings: {
        mean: bindings.mean,
        variance: bindings.variance,
        tracked: counterHere || !bindings.tracked ? dummy : bindings.tracked,
        state: { buffer: group[0]!.view.buffer, offset: start, length: end - start },
      },
      params: {
        batch: 1,
        channels: c,
        spatial: 1,
        eps: 0,
        momentum: u.momentum ?? -1,
        unbias: u.count / (u.count - 1),
        ...offsets,
      },
      workgroups: [1, 1, 1],
      needs: { mean: c, variance: c },
      label,
    });
  });
}
