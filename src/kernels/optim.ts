/**
 * Optimizer kernels: one fused update per parameter group (shaders/optim/<optimizer>.wgsl) and a
 * two-stage gradient-norm reduction (grad_norm.wgsl, grad_stats.wgsl). Every shader is built as
 * shaders/common.wgsl + shaders/optim/common.wgsl + its own file. Boolean variants are `override`
 * constants given as 0 or 1.
 */
import adadeltaSource from '../../shaders/optim/adadelta.wgsl';
import adagradSource from '../../shaders/optim/adagrad.wgsl';
import adamSource from '../../shaders/optim/adam.wgsl';
import adamaxSource from '../../shaders/optim/adamax.wgsl';
import optimCommon from '../../shaders/optim/common.wgsl';
import gradNormSource from '../../shaders/optim/grad_norm.wgsl';
import gradStatsSource from '../../shaders/optim/grad_stats.wgsl';
import normLanesSource from '../../shaders/optim/norm_lanes.wgsl';
import lionSource from '../../shaders/optim/lion.wgsl';
import nadamSource from '../../shaders/optim/nadam.wgsl';
import rmspropSource from '../../shaders/optim/rmsprop.wgsl';
import sgdSource from '../../shaders/optim/sgd.wgsl';
import * as twin from '../backend/cpu/twins/optim.js';
import type { BindingSpec, CpuInvocation, KernelSpec, ParamSpec } from '../backend/kernel.js';
import { withCommon } from './source.js';

function optimShader(source: string): string {
  return withCommon(`${optimCommon}\n${source}`);
}

/** Workgroup size of every optimizer kernel; the reductions need a power of two <= 256. */
export const OPTIM_WG = 256;

/** Indices into the `stats` buffer written by `gradStats`. */
export const STATS = { gradNorm: 0, clipCoef: 1, lrFactor: 2, penalty: 3 } as const;

/** hyper[0..1] of every group; the optimizer's own scalars start at HYPER_OPTIMIZER. */
export const HYPER_L1 = 0;
export const HYPER_L2 = 1;
export const HYPER_OPTIMIZER = 2;

const UPDATE_PARAMS: readonly ParamSpec[] = [
  { name: 'n', type: 'u32' },
  { name: 'stride', type: 'u32' },
  { name: 'clip_value', type: 'f32' },
];

/**
 * Every update shader reads weights, gradients and state four at a time (group lengths and state
 * strides are multiples of 64); its `elems` override sets how many vec4s one invocation updates
 * (see `updateElems`).
 */
const UPDATE_BINDINGS: readonly BindingSpec[] = [
  { name: 'weights', type: 'f32', access: 'read_write', lanes: 4 },
  { name: 'grads', type: 'f32', access: 'read', lanes: 4 },
  { name: 'state', type: 'f32', access: 'read_write', lanes: 4 },
  { name: 'hyper', type: 'f32', access: 'read' },
  { name: 'stats', type: 'f32', access: 'read' },
];

/** Overrides every update shader has (optim/common.wgsl, `elems`): switches off, one vec4 per invocation. */
const UPDATE_OVERRIDES = { wg: OPTIM_WG, clip_by_norm: 0, clip_by_value: 0, scale_lr: 0, maximize: 0, elems: 1 };

/**
 * An update kernel. Uniforms: n (elements of the group), stride (elements per state slot),
 * clip_value. Bindings: weights, grads, state (slot s at s * stride), hyper, stats.
 */
function updateKernel(name: string, source: string, variants: Record<string, number>, cpu: (call: CpuInvocation) => void): KernelSpec {
  return {
    name: `optim/${name}`,
    wgsl: optimShader(source),
    entry: `${name}_update`,
    params: UPDATE_PARAMS,
    bindings: UPDATE_BINDINGS,
    overrides: { ...UPDATE_OVERRIDES, ...variants },
    cpu,
  };
}

/** Overrides: has_momentum, nesterov. State: momentum_buffer. */
export const sgdUpdate = updateKernel('sgd', sgdSource, { has_momentum: 0, nesterov: 0 }, twin.sgdUpdate);
/** State: sum. */
export const adagradUpdate = updateKernel('adagrad', adagradSource, {}, twin.adagradUpdate);
/** State: square_avg, acc_delta. */
export const adadeltaUpdate = updateKernel('adadelta', adadeltaSource, {}, twin.adadeltaUpdate);
/** Overrides: has_momentum, centered. State: square_avg [, momentum_buffer] [, grad_avg]. */
export const rmspropUpdate = updateKernel('rmsprop', rmspropSource, { has_momentum: 0, centered: 0 }, twin.rmspropUpdate);
/** Overrides: amsgrad. State: exp_avg, exp_avg_sq [, max_exp_avg_sq]. */
export const adamUpdate = updateKernel('adam', adamSource, { amsgrad: 0 }, twin.adamUpdate);
/** Same shader file and state as `adamUpdate`, with decoupled weight decay. */
export const adamwUpdate = updateKernel('adamw', adamSource, { amsgrad: 0 }, twin.adamwUpdate);
/** State: exp_avg, exp_inf. */
export const adamaxUpdate = updateKernel('adamax', adamaxSource, {}, twin.adamaxUpdate);
/** State: exp_avg, exp_avg_sq. */
export const nadamUpdate = updateKernel('nadam', nadamSource, {}, twin.nadamUpdate);
/** State: exp_avg. */
export const lionUpdate = updateKernel('lion', lionSource, {}, twin.lionUpdate);

/**
 * Stage 1 of the gradient norm over one group: `workgroups[0]` partials written at `base`.
 * Uniforms: n, base. Override: norm_inf.
 */
export const gradNormPartial: KernelSpec = {
  name: 'optim/grad_norm_partial',
  wgsl: optimShader(`${gradNormSource}\n${normLanesSource}`),
  entry: 'grad_norm_partial',
  params: [
    { name: 'n', type: 'u32' },
    { name: 'base', type: 'u32' },
  ],
  bindings: [
    { name: 'weights', type: 'f32', access: 'read' },
    { name: 'grads', type: 'f32', access: 'read' },
    { name: 'hyper', type: 'f32', access: 'read' },
    { name: 'partials', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: OPTIM_WG, norm_inf: 0 },
  cpu: twin.gradNormPartial,
};

/**
 * Stage 2, one workgroup: combines `count` partials into stats (see STATS).
 * Uniforms: count, max_norm, gamma, eps. Overrides: norm_inf, clip_by_norm, scale_lr.
 */
export const gradStats: KernelSpec = {
  name: 'optim/grad_stats',
  wgsl: optimShader(`${gradStatsSource}\n${normLanesSource}`),
  entry: 'grad_stats',
  params: [
    { name: 'count', type: 'u32' },
    { name: 'max_norm', type: 'f32' },
    { name: 'gamma', type: 'f32' },
    { name: 'eps', type: 'f32' },
  ],
  bindings: [
    { name: 'partials', type: 'f32', access: 'read' },
    { name: 'stats', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: OPTIM_WG, norm_inf: 0, clip_by_norm: 0, scale_lr: 0 },
  cpu: twin.gradStats,
};

/**
 * vec4s per invocation for a vectorised update: many on a software adapter, where each
 * invocation costs CPU time of its own, a few on a GPU, which needs enough invocations to fill
 * its cores.
 */
export function updateElems(software: boolean): number {
  return software ? 64 : 4;
}
