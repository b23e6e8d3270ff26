import {
  batchNormBackwardInputLaunch,
  batchNormBackwardReduceLaunch,
  batchNormForwardLaunch,
  batchNormRunningLaunches,
  type BatchNormShape,
  batchNormStatsLaunch,
} from '../../kernels/batch-norm.js';
import { layerNormBackwardInputLaunch, layerNormBackwardParamsLaunch, layerNormForwardLaunch, type LayerNormShape } from '../../kernels/layer-norm.js';
import { ONE, type OpDef } from '../op.js';
import { numel, shapeString, type Tensor } from '../tensor.js';

/** The input layouts a layer accepts, as its errors print them (`[batch, 8, H, W]`). */
export interface InputContract {
  readonly channels: number;
  readonly ranks: readonly number[];
  readonly layout: string;
}

export interface BatchNormAttrs {
  readonly channels: number;
  /** Normalise with the batch's own statistics (outputs 1 and 2); else with the running ones (inputs). */
  readonly batchStats: boolean;
  readonly eps: number;
  readonly hasWeight: boolean;
  readonly hasBias: boolean;
  /** What a layer accepts; without it, any [batch, channels, *] input. */
  readonly contract?: InputContract;
}

/** Inputs of BATCH_NORM: [x, weight?, bias?, running_mean?, running_var?], as the attrs say. */
function batchNormInputs(inputs: readonly Tensor[], a: BatchNormAttrs) {
  let k = 1;
  const weight = a.hasWeight ? inputs[k++]! : null;
  const bias = a.hasBias ? inputs[k++]! : null;
  const running = a.batchStats ? null : { mean: inputs[k]!, variance: inputs[k + 1]! };
  return { x: inputs[0]!, weight, bias, running };
}

/** x [batch, channels, d1, ...] as the kernels see it: [batch, channels, d1 · d2 · ...]. */
function channelShape(x: Tensor): BatchNormShape {
  return { batch: x.shape[0]!, channels: x.shape[1]!, spatial: numel(x.shape.slice(2)) };
}

function expectVector(t: Tensor | null, n: number, what: string, label: string): void {
  if (t && (t.rank !== 1 || t.shape[0] !== n)) throw new Error(`${label}: ${what} must be [${n}], got ${shapeString(t.shape)}`);
}

/**
 * Batch normalisation over dim 1 of x [batch, channels, *], as torch.nn.functional.batch_norm:
 * y = (x - mean[c]) / sqrt(var[c] + eps) · weight[c] + bias[c]. With `batchStats` the statistics
 * are the batch's (variance biased), and they are outputs 1 and 2 (kept for backward and for the
 * running-statistics update); otherwise they are the running_mean / running_var inputs.
 */
export const BATCH_NORM: OpDef<BatchNormAttrs> = {
  name: 'batch_norm',
  infer(inputs, a, label) {
    const { x, weight, bias, running } = batchNormInputs(inputs, a);
    const C = a.channels;
    const rankOk = a.contract ? a.contract.ranks.includes(x.rank) : x.rank >= 2;
    if (!rankOk || x.shape[1] !== C) {
      throw new Error(`${label}: expected input ${a.contract?.layout ?? `[batch, ${C}, *]`}, got ${shapeString(x.shape)}`);
    }
    if (x.dtype !== 'f32') throw new Error(`${label}: batch norm needs an f32 input, got ${x.dtype} ${x}`);
    expectVector(weight, C, 'weight', label);
    expectVector(bias, C, 'bias', label);
    expectVector(running?.mean ?? null, C, 'running_mean', label);
    expectVector(running?.variance ?? null, C, 'running_var', label);
    if (a.batchStats && x.numel / C < 2) {
      throw new Error(`${label}: expected more than 1 value per channel when training, got input ${shapeString(x.shape)}`);
    }
    const y = { shape: x.shape, dtype: 'f32' as const };
    return a.batchStats ? [y, { shape: [C], dtype: 'f32' }, { shape: [C], dtype: 'f32' }] : [y];
  },
  backward(g, node, [gradOut], wants) {
    const grads: (Tensor | null)[] = node.inputs.map(() => null);
    if (!gradOut) return grads;
    if (gradOut === ONE) throw new Error(`${node.label}: a batch norm output cannot be the loss`);
    const a = node.attrs;
    const { x, weight } = batchNormInputs(node.inputs, a);
    const stats = a.batchStats ? node.outputs.slice(1, 3) : node.inputs.slice(-2);
    const [mean, variance] = stats as [Tensor, Tensor];
    const iWeight = a.hasWeight ? 1 : -1;
    const iBias = a.hasBias ? (a.hasWeight ? 2 : 1) : -1;
    if (!a.batchStats && wants.slice(-2).some(Boolean)) {
      throw new Error(`${node.label}: gradients with respect to the running statistics are not computed`);
    }
    const wantsParams = (iWeight > 0 && wants[iWeight]) || (iBias > 0 && wants[iBias]);
    let sums: [Tensor, Tensor] | null = null;
    if (wantsParams || (wants[0] && a.batchStats)) {
      const [sumDy, sumDyXhat] = g.apply(BATCH_NORM_GRAD_REDUCE, [x, gradOut, mean, variance], { eps: a.eps }, `${node.label}.grad_params`);
      sums = [sumDy!, sumDyXhat!];
    }
    if (wants[0]) {
      const inputs = [x, gradOut, mean, variance, ...(weight ? [weight] : []), ...(a.batchStats ? sums! : [])];
      const attrs = { eps: a.eps, hasWeight: weight !== null, batchStats: a.batchStats };
      grads[0] = g.apply(BATCH_NORM_GRAD_INPUT, inputs, attrs, `${node.label}.grad_input`)[0]!;
    }
    if (iWeight > 0 && wants[iWeight]) grads[iWeight] = sums![1];
    if (iBias > 0 && wants[iBias]) grads[iBias] = sums![0];
    return grads;
  },
  lower(node, io) {
    const a = node.attrs;
    const { x, weight, bias, running } = batchNormInputs(node.inputs, a);
    const s = channelShape(x);
    const [y, mean, variance] = node.outputs as [Tensor, Tensor?, Tensor?];
    const stats = running ?? { mean: mean!, variance: variance! };
    const launches = a.batchStats
      ? [batchNormStatsLaunch(s, { x: io.view(x), mean_out: io.view(mean!), variance_out: io.view(variance!) }, `${node.label}.stats`, { software: io.software })]
      : [];
    const bindings = {
      x: io.view(x),
      mean: io.view(stats.mean),
      variance: io.view(stats.variance),
      ...(weight ? { weight: io.view(weight) } : {}),
      ...(bias ? { bias: io.view(bias) } : {}),
      y: io.view(y),
    };
    launches.push(batchNormForwardLaunch(s, a.eps, bindings, io.dummy, node.label));
    return launches;
  },
};

/** [Σ dy, Σ dy · x̂] per channel, inputs [x, dy, mean, variance]: dβ and dγ, and dx's two means. */
export const BATCH_NORM_GRAD_REDUCE: OpDef<{ eps: number }> = {
  name: 'batch_norm_grad_reduce',
  infer([x]) {
    const C = x!.shape[1]!;
    return [
      { shape: [C], dtype: 'f32' },
      { shape: [C], dtype: 'f32' },
    ];
  },
  lower(node, io) {
    const [x, dy, mean, variance] = node.inputs as [Tensor, Tensor, Tensor, Tensor];
    const [sumDy, sumDyXhat] = node.outputs as [Tensor, Tensor];
    const bindings = {
      x: io.view(x),
      dy: io.view(dy),
      mean: io.view(mean),
      variance: io.view(variance),
      sum_dy_out: io.view(sumDy),
      sum_dy_xhat_out: io.view(sumDyXhat),
    };
    return [batchNormBackwardReduceLaunch(channelShape(x), node.attrs.eps, bindings, node.label, { software: io.software })];
  },
};

/**
 * dx, inputs [x, dy, mean, variance, weight?, Σ dy?, Σ dy x̂?]: with batch statistics the means
 * depend on x, dx = γ·rstd·(dy - mean(dy) - x̂·mean(dy·x̂)); with running ones, dx = γ·rstd·dy.
 */
export const BATCH_NORM_GRAD_INPUT: OpDef<{ eps: number; hasWeight: boolean; batchStats: boolean }> = {
  name: 'batch_norm_grad_input',
  infer([x]) {
    return [{ shape: x!.shape, dtype: 'f32' }];
  },
  lower(node, io) {
    const [x, dy, mean, variance, ...rest] = node.inputs as Tensor[];
    const { eps, hasWeight, batchStats } = node.attrs;
    const weight = hasWeight ? rest.shift()! : null;
    const sums = batchStats ? { sum_dy: io.view(rest[0]!), sum_dy_xhat: io.view(rest[1]!) } : null;
    const bindings = {
      x: io.view(x!),
      dy: io.view(dy!),
      mean: io.view(mean!),
      variance: io.view(variance!),
      ...(weight ? { weight: io.view(weight) } : {}),
      dx: io.view(node.outputs[0]!),
    };
    return [batchNormBackwardInputLaunch(channelShape(x!), eps, bindings, sums, io.dummy, node.label)];
  },
};

export interface RunningStatsAttrs {
  /** torch's momentum; null: cumulative moving average over the batches seen. */
  readonly momentum: number | null;
  /** Values per channel in the batch (the unbiased variance divides by count - 1). */
  readonly count: number;
}

/**
 * Updates running_mean, running_var (and the batch counter) in place from a batch's mean and
 * biased variance, inputs [mean, variance, running_mean, running_var, num_batches_tracked?]:
 * running = (1 - f)·running + f·batch, f = momentum or 1 / (batches seen + 1), with the unbiased
 * batch variance, as torch. Its output is a token with no value: `Graph.effect` keeps the node.
 */
export const BATCH_NORM_RUNNING: OpDef<RunningStatsAttrs> = {
  name: 'batch_norm_running',
  infer([mean, , runningMean, runningVar, tracked], a, label) {
    const C = mean!.shape[0]!;
    expectVector(runningMean!, C, 'running_mean', label);
    expectVector(runningVar!, C, 'running_var', label);
    if (tracked && tracked.numel !== 1) throw new Error(`${label}: num_batches_tracked must hold one value, got ${shapeString(tracked.shape)}`);
    if (a.momentum === null && !tracked) throw new Error(`${label}: momentum null (a cumulative average) needs num_batches_tracked`);
    return [{ shape: [1], dtype: 'f32' }];
  },
  lower(node, io) {
    const [mean, variance, runningMean, runningVar, tracked] = node.inputs as [Tensor, Tensor, Tensor, Tensor, Tensor?];
    const { momentum, count } = node.attrs;
    const bindings = {
      mean: io.view(mean),
      variance: io.view(variance),
      runningMean: io.view(runningMean),
      runningVar: io.view(runningVar),
      tracked: tracked ? io.view(tracked) : null,
    };
    return batchNormRunningLaunches({ channels: mean.numel, count, momentum }, bindings, io.dummy, node.label);
  },
};

export interface BatchNormOptions {
  /** Batch statistics (and running-statistics updates) when true; default: the graph's mode. */
  readonly training?: boolean;
  /** Weight of the batch in the running averages; null for a cumulative average. Default 0.1. */
  readonly momentum?: number | null;
  readonly eps?: number;
  /** The batch counter (torch's num_batches_tracked): incremented by each training pass; needed for momentum null. */
  readonly numBatchesTracked?: Tensor | null;
}

function checkEps(eps: number, label: string): void {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new Error(`${label}: eps must be a finite number >= 0, got ${eps}`);
}

export function checkMomentum(momentum: number | null, label: string): void {
  if (momentum !== null && (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))) {
    throw new Error(`${label}: momentum must be a number in [0, 1] or null, got ${momentum}`);
  }
}

/**
 * torch.nn.functional.batch_norm over dim 1 of x [batch, C, *]. In training, the batch's
 * statistics normalise, and running statistics given as tensors are updated in place as
 * torch.nn.BatchNorm does (the counter too, when given); in evaluation the running statistics
 * normalise and must be given. `training` defaults to the graph's mode (torch's to false).
 * `contract` lets a layer name its accepted layouts in errors.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  { training = x.graph.training, momentum = 0.1, eps = 1e-5, numBatchesTracked = null }: BatchNormOptions = {},
  contract?: InputContract,
): Tensor {
  const g = x.graph;
  const label = g.currentLabel;
  checkEps(eps, label);
  checkMomentum(momentum, label);
  if ((runningMean === null) !== (runningVar === null)) throw new Error(`${label}: give both runningMean and runningVar, or neither`);
  if (!training && !runningMean) throw new Error(`${label}: evaluation normalises with runningMean and runningVar, which are null`);
  const attrs: BatchNormAttrs = {
    channels: contract?.channels ?? (weight ?? bias ?? runningMean)?.shape[0] ?? x.shape[1] ?? 0,
    batchStats: training,
    eps,
    hasWeight: weight !== null,
    hasBias: bias !== null,
    ...(contract ? { contract } : {}),
  };
  const given = [x, weight, bias].filter((t): t is Tensor => t !== null);
  const inputs = training ? given : [...given, runningMean!, runningVar!];
  const [y, mean, variance] = g.apply(BATCH_NORM, inputs, attrs);
  if (training && runningMean && runningVar) {
    const running = [mean!, variance!, runningMean, runningVar, ...(numBatchesTracked ? [numBatchesTracked] : [])];
    g.effect(g.apply(BATCH_NORM_RUNNING, running, { momentum, count: x.numel / attrs.channels }, `${label}.running`)[0]!);
  }
  return y!;
}

export interface LayerNormAttrs {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly hasWeight: boolean;
  readonly hasBias: boolean;
}

/** Inputs of LAYER_NORM: [x, weight?, bias?], as the attrs say. */
function layerNormInputs(inputs: readonly Tensor[], a: LayerNormAttrs) {
  return { x: inputs[0]!, weight: a.hasWeight ? inputs[1]! : null, bias: a.hasBias ? inputs[a.hasWeight ? 2 : 1]! : null };
}

function rowShape(x: Tensor, normalizedShape: readonly number[]): LayerNormShape {
  const cols = numel(normalizedShape);
  return { rows: x.numel / cols, cols };
}

/**
 * torch.nn.functional.layer_norm over the trailing `normalizedShape` dims of x, inputs
 * [x, weight?, bias?]: y = (x - mean) / sqrt(var + eps) · weight + bias, statistics per row
 * (variance biased). Outputs 1 and 2 are each row's mean and rstd, kept for backward.
 */
export const LAYER_NORM: OpDef<LayerNormAttrs> = {
  name: 'layer_norm',
  infer(inputs, a, label) {
    const x = inputs[0]!;
    const k = a.normalizedShape.length;
    const tail = x.shape.slice(x.rank - k);
    if (x.rank < k || tail.join() !== a.normalizedShape.join()) {
      throw new Error(`${label}: expected input [*, ${a.normalizedShape.join(', ')}], got ${shapeString(x.shape)}`);
    }
    if (x.dtype !== 'f32') throw new Error(`${label}: layer norm needs an f32 input, got ${x.dtype} ${x}`);
    const { weight, bias } = layerNormInputs(inputs, a);
    for (const [t, what] of [[weight, 'weight'], [bias, 'bias']] as const) {
      if (t && t.shape.join() !== a.normalizedShape.join()) {
        throw new Error(`${label}: ${what} must be ${shapeString(a.normalizedShape)}, got ${shapeString(t.shape)}`);
      }
    }
    const rows = x.numel / numel(a.normalizedShape);
    return [
      { shape: x.shape, dtype: 'f32' },
      { shape: [rows], dtype: 'f32' },
      { shape: [rows], dtype: 'f32' },
    ];
  },
  backward(g, node, [gradOut], wants) {
    const grads: (Tensor | null)[] = node.inputs.map(() => null);
    if (!gradOut) return grads;
    if (gradOut === ONE) throw new Error(`${node.label}: a layer norm output cannot be the loss`);
    const a = node.attrs;
    const { x, weight } = layerNormInputs(node.inputs, a);
    const [, mean, rstd] = node.outputs as [Tensor, Tensor, Tensor];
    if (wants[0]) {
      const inputs = [x, gradOut, mean, rstd, ...(weight ? [weight] : [])];
      grads[0] = g.apply(LAYER_NORM_GRAD_INPUT, inputs, { normalizedShape: a.normalizedShape, hasWeight: a.hasWeight }, `${node.label}.grad_input`)[0]!;
    }
    const iWeight = a.hasWeight ? 1 : -1;
    const iBias = a.hasBias ? (a.hasWeight ? 2 : 1) : -1;
    if ((iWeight > 0 && wants[iWeight]) || (iBias > 0 && wants[iBias])) {
      const [dw, db] = g.apply(LAYER_NORM_GRAD_PARAMS, [x, gradOut, mean, rstd], { normalizedShape: a.normalizedShape }, `${node.label}.grad_params`);
      if (iWeight > 0 && wants[iWeight]) grads[iWeight] = dw!;
      if (iBias > 0 && wants[iBias]) grads[iBias] = db!;
    }
    return grads;
  },
  lower(node, io) {
    const a = node.attrs;
    const { x, weight, bias } = layerNormInputs(node.inputs, a);
    const [y, mean, rstd] = node.outputs as [Tensor, Tensor, Tensor];
    const bindings = {
      x: io.view(x),
      ...(weight ? { weight: io.view(weight) } : {}),
      ...(bias ? { bias: io.view(bias) } : {}),
      y: io.view(y),
      mean_out: io.view(mean),
      rstd_out: io.view(rstd),
    };
    return [layerNormForwardLaunch(rowShape(x, a.normalizedShape), a.eps, bindings, io.dummy, node.label, { software: io.software })];
  },
};

/** dx = rstd·(g - mean(g) - x̂·mean(g·x̂)) per row, g = dy·γ; inputs [x, dy, mean, rstd, weight?]. */
export const LAYER_NORM_GRAD_INPUT: OpDef<{ normalizedShape: readonly number[]; hasWeight: boolean }> = {
  name: 'layer_norm_grad_input',
  infer([x]) {
    return [{ shape: x!.shape, dtype: 'f32' }];
  },
  lower(node, io) {
    const [x, dy, mean, rstd, weight] = node.inputs as [Tensor, Tensor, Tensor, Tensor, Tensor?];
    const bindings = {
      x: io.view(x),
      dy: io.view(dy),
      ...(weight ? { weight: io.view(weight) } : {}),
      mean: io.view(mean),
      rstd: io.view(rstd),
      dx: io.view(node.outputs[0]!),
    };
    return [layerNormBackwardInputLaunch(rowShape(x, node.attrs.normalizedShape), bindings, io.dummy, node.label, { software: io.software })];
  },
};

/** [dγ, dβ] = [Σ_rows dy·x̂, Σ_rows dy], each of normalizedShape; inputs [x, dy, mean, rstd]. */
export const LAYER_NORM_GRAD_PARAMS: OpDef<{ normalizedShape: readonly number[] }> = {
  name: 'layer_norm_grad_params',
  infer(_inputs, a) {
    return [
      { shape: a.normalizedShape, dtype: 'f32' },
      { shape: a.normalizedShape, dtype: 'f32' },
    ];
  },
  lower(node, io) {
    const [x, dy, mean, rstd] = node.inputs as [Tensor, Tensor, Tensor, Tensor];
    const [dw, db] = node.outputs as [Tensor, Tensor];
    const bindings = { x: io.view(x), dy: io.view(dy), mean: io.view(mean), rstd: io.view(rstd), dweight: io.view(dw), dbias: io.view(db) };
    return [layerNormBackwardParamsLaunch(rowShape(x, node.attrs.normalizedShape), bindings, node.label, { software: io.software })];
  },
};

export interface LayerNormOptions {
  readonly eps?: number;
}

/** torch.nn.functional.layer_norm: normalises each x[..., *normalizedShape] slice. */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight: Tensor | null,
  bias: Tensor | null,
  { eps = 1e-5 }: LayerNormOptions = {},
): Tensor {
  const label = x.graph.currentLabel;
  checkEps(eps, label);
  const shape = normalizedShapeOf(normalizedShape, label);
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  return x.graph.apply(LAYER_NORM, inputs, { normalizedShape: shape, eps, hasWeight: weight !== null, hasBias: bias !== null })[0]!;
}

/** A normalized shape as a list of positive integers (a number n is [n]). */
export function normalizedShapeOf(s: number | readonly number[], label: string): number[] {
  const shape = typeof s === 'number' ? [s] : [...s];
  if (shape.length === 0 || !shape.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new Error(`${label}: normalizedShape must be a positive integer or a non-empty list of them, got ${JSON.stringify(s)}`);
  }
  return shape;
}
