import source from '../../shaders/layer_norm.wgsl';
import welford from '../../shaders/welford.wgsl';
import type { BindingSpec, BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { grid1d } from '../backend/kernel.js';
import { launch } from './launch.js';
import { withCommon } from './source.js';
import { type ReductionOptions, reductionGroupSize, rstdOf, treeMoments, treeSums } from './welford.js';

/**
 * Layer normalisation over the last `cols` values of each row (shaders/layer_norm.wgsl): the
 * forward pass in one dispatch (one workgroup per row, Welford moments merged in a fixed tree)
 * that also keeps each row's mean and rstd for backward, and the backward pass in two (dx per
 * row; dγ and dβ per column).
 */

const wgsl = withCommon(`${source}\n${welford}`);
const WG = 256;

const params: readonly ParamSpec[] = [
  { name: 'rows', type: 'u32' },
  { name: 'cols', type: 'u32' },
  { name: 'eps', type: 'f32' },
];

const read = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read' });
const write = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read_write' });

function spec(entry: string, bindings: BindingSpec[], overrides: Record<string, number>, cpu: KernelSpec['cpu']): KernelSpec {
  return { name: entry, wgsl, entry, params, bindings, overrides, cpu };
}

const f = Math.fround;

function forwardTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const { x, weight, bias, y, mean_out, rstd_out } = buffers as Record<string, Float32Array>;
  const { rows, cols, eps } = p as Record<string, number>;
  for (let r = 0; r < rows!; r++) {
    const base = r * cols!;
    const m = treeMoments(cols!, overrides.wg!, (j) => x![base + j]!);
    const inv = rstdOf(f(m.m2 / m.count), eps!);
    for (let j = 0; j < cols!; j++) {
      let v = f(f(x![base + j]! - m.mean) * inv);
      if (overrides.has_weight === 1) v = f(v * weight![j]!);
      if (overrides.has_bias === 1) v = f(v + bias![j]!);
      y![base + j] = v;
    }
    mean_out![r] = m.mean;
    rstd_out![r] = inv;
  }
}

function backwardInputTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const { x, dy, weight, mean, rstd, dx } = buffers as Record<string, Float32Array>;
  const { rows, cols } = p as Record<string, number>;
  const invCols = f(1 / cols!);
  for (let r = 0; r < rows!; r++) {
    const base = r * cols!;
    const mu = mean![r]!;
    const inv = rstd![r]!;
    const g = (j: number): number => (overrides.has_weight === 1 ? f(dy![base + j]! * weight![j]!) : dy![base + j]!);
    const xhat = (j: number): number => f(f(x![base + j]! - mu) * inv);
    const [s, sXhat] = treeSums(cols!, overrides.wg!, (j) => [g(j), f(g(j) * xhat(j))]);
    const meanG = f(s * invCols);
    const meanGXhat = f(sXhat * invCols);
    for (let j = 0; j < cols!; j++) dx![base + j] = f(inv * f(f(g(j) - meanG) - f(xhat(j) * meanGXhat)));
  }
}

function backwardParamsTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const { x, dy, mean, rstd, dweight, dbias } = buffers as Record<string, Float32Array>;
  const { rows, cols } = p as Record<string, number>;
  for (let j = 0; j < cols!; j++) {
    const [s, sXhat] = treeSums(rows!, overrides.wg!, (r) => {
      const k = r * cols! + j;
      const g = dy![k]!;
      return [g, f(g * f(f(x![k]! - mean![r]!) * rstd![r]!))];
    });
    dweight![j] = sXhat;
    dbias![j] = s;
  }
}

/** y, mean_out[r] and rstd_out[r] of each row; one workgroup per row. */
export const layerNormForward = spec(
  'layer_norm_forward',
  [read('x'), read('weight'), read('bias'), write('y'), write('mean_out'), write('rstd_out')],
  { wg: WG, has_weight: 1, has_bias: 1 },
  forwardTwin,
);

/** dx of each row from dy, γ and the saved mean and rstd; one workgroup per row. */
export const layerNormBackwardInput = spec(
  'layer_norm_backward_input',
  [read('x'), read('dy'), read('weight'), read('mean'), read('rstd'), write('dx')],
  { wg: WG, has_weight: 1 },
  backwardInputTwin,
);

/** dweight[j] = Σ_r dy x̂, dbias[j] = Σ_r dy; one workgroup per column. */
export const layerNormBackwardParams = spec(
  'layer_norm_backward_params',
  [read('x'), read('dy'), read('mean'), read('rstd'), write('dweight'), write('dbias')],
  { wg: WG },
  backwardParamsTwin,
);

/** x viewed as [rows, cols], normalised over each row. */
export interface LayerNormShape {
  readonly rows: number;
  readonly cols: number;
}

function checkShape(s: LayerNormShape, label: string): void {
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} must be a positive integer, got ${v}`);
  }
}

/** Missing `weight` / `bias` are γ = 1 / β = 0; `dummy` fills their bindings. */
export function layerNormForwardLaunch(
  s: LayerNormShape,
  eps: number,
  bindings: { x: BufferView; weight?: BufferView; bias?: BufferView; y: BufferView; mean_out: BufferView; rstd_out: BufferView },
  dummy: BufferView,
  label = 'layer_norm_forward',
  options: ReductionOptions = {},
): Launch {
  checkShape(s, label);
  const n = s.rows * s.cols;
  const { weight, bias } = bindings;
  return launch(layerNormForward, {
    bindings: { ...bindings, weight: weight ?? dummy, bias: bias ?? dummy },
    params: { ...s, eps },
    overrides: { wg: reductionGroupSize(s.cols, options), has_weight: weight ? 1 : 0, has_bias: bias ? 1 : 0 },
    workgroups: grid1d(s.rows, 1),
    needs: { x: n, y: n, mean_out: s.rows, rstd_out: s.rows, ...(weight ? { weight: s.cols } : {}), ...(bias ? { bias: s.cols } : {}) },
    label,
  });
}

export function layerNormBackwardInputLaunch(
  s: LayerNormShape,
  bindings: { x: BufferView; dy: BufferView; weight?: BufferView; mean: BufferView; rstd: BufferView; dx: BufferView },
  dummy: BufferView,
  label = 'layer_norm_backward_input',
  options: ReductionOptions = {},
): Launch {
  checkShape(s, label);
  const n = s.rows * s.cols;
  const { weight } = bindings;
  return launch(layerNormBackwardInput, {
    bindings: { ...bindings, weight: weight ?? dummy },
    params: { ...s, eps: 0 },
    overrides: { wg: reductionGroupSize(s.cols, options), has_weight: weight ? 1 : 0 },
    workgroups: grid1d(s.rows, 1),
    needs: { x: n, dy: n, dx: n, mean: s.rows, rstd: s.rows, ...(weight ? { weight: s.cols } : {}) },
    label,
  });
}

export function layerNormBackwardParamsLaunch(
  s: LayerNormShape,
  bindings: { x: BufferView; dy: BufferView; mean: BufferView; rstd: BufferView; dweight: BufferView; dbias: BufferView },
  label = 'layer_norm_backward_params',
  options: ReductionOptions = {},
): Launch {
  checkShape(s, label);
  const n = s.rows * s.cols;
  return launch(layerNormBackwardParams, {
    bindings,
    params: { ...s, eps: 0 },
    overrides: { wg: reductionGroupSize(s.rows, options) },
    workgroups: grid1d(s.cols, 1),
    needs: { x: n, dy: n, mean: s.rows, rstd: s.rows, dweight: s.cols, dbias: s.cols },
    label,
  });
}
