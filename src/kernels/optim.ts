/**
 * What every optimizer kernel shares: the update header (shaders/optim/common.wgsl) in front of
 * each optimizer's update shader, the context its CPU twin starts from, and the two-stage
 * gradient-norm reduction (grad_norm.wgsl, grad_stats.wgsl) that feeds clipping, GradientNormLR
 * and the reported norm and penalty.
 *
 * An optimizer's own update kernel lives beside its class (src/optim/<name>.ts), made by
 * `updateKernel` from its WGSL file (a `struct Hyper` and an `update4` function), the names of
 * its per-step scalars (the members of `Hyper` after l1 and l2, checked by reflection) and its
 * twin. A new optimizer is that WGSL file and that one module.
 */
import optimCommon from '../../shaders/optim/common.wgsl';
import gradNormSource from '../../shaders/optim/grad_norm.wgsl';
import gradStatsSource from '../../shaders/optim/grad_stats.wgsl';
import normLanesSource from '../../shaders/optim/norm_lanes.wgsl';
import statsSource from '../../shaders/optim/stats.wgsl';
import type { BindingSpec, CpuInvocation, KernelSpec, ParamSpec } from '../backend/kernel.js';
import { withCommon } from './source.js';

/** `struct GradStats`, for the shaders that read or write the step's statistics. */
export { statsSource };

/** Workgroup size of every optimizer kernel; the reductions need a power of two <= 256. */
export const OPTIM_WG = 256;

const scalars = (names: readonly string[]): ParamSpec[] => names.map((name) => ({ name, type: 'f32' }));

/** The members of the WGSL `struct GradStats` (shaders/optim/stats.wgsl), in order. */
const STATS_FIELDS = ['grad_norm', 'clip_coef', 'lr_factor', 'penalty', 'skip'] as const;

/** Where each statistic sits in the `stats` buffer (a GradStats struct), by its camelCase name. */
export const STATS = {
  gradNorm: STATS_FIELDS.indexOf('grad_norm'),
  clipCoef: STATS_FIELDS.indexOf('clip_coef'),
  lrFactor: STATS_FIELDS.indexOf('lr_factor'),
  penalty: STATS_FIELDS.indexOf('penalty'),
  skip: STATS_FIELDS.indexOf('skip'),
} as const;

/** The first members of every update shader's `struct Hyper`, written by the update plan. */
export const PENALTY_FIELDS = ['l1', 'l2'] as const;

/** Rounds to float32, as every f32 operation of the shaders does. */
export const f = Math.fround;

/**
 * WGSL fma(a, b, c) = a * b + c rounded once. For f32 inputs a * b is exact in float64, so only
 * the sum rounds before the final rounding to f32 (a double rounding that can differ from a true
 * fused result only when the sum lands exactly on an f32 rounding boundary).
 */
export function fma(a: number, b: number, c: number): number {
  return f(a * b + c);
}

/** g + l1 * sign(w) + l2 * w in the shaders' order of roundings. */
function penalizedGrad(g: number, w: number, l1: number, l2: number): number {
  return f(f(g + f(l1 * Math.sign(w))) + f(l2 * w));
}

/** What an update twin works on: the group's buffers, its scalars by name and g_eff. */
export interface UpdateTwin<H extends string> {
  /** Elements of the group. */
  readonly n: number;
  readonly weights: Float32Array;
  /** The optimizer's state slots back to back; `slot(s)` is where slot s starts. */
  readonly state: Float32Array;
  slot(s: number): number;
  /** The group's per-step scalars, as the WGSL reads them from `hyper`. */
  readonly hyper: Readonly<Record<H | (typeof PENALTY_FIELDS)[number], number>>;
  /** Multiplies the learning rate: stats.lr_factor when scale_lr, else 1. */
  readonly lrFactor: number;
  readonly overrides: Readonly<Record<string, number>>;
  /** g_eff of element i: penalties, clipping and maximize applied (optimizer_grad4). */
  grad(i: number): number;
}

/** An optimizer's fused update: a kernel whose `hyper` binding is its `struct Hyper`. */
export interface UpdateKernel<H extends string = string> extends KernelSpec {
  /** The optimizer's own per-step scalars: the members of `struct Hyper` after l1 and l2. */
  readonly hyper: readonly H[];
}

/** The members of an update kernel's `struct Hyper`, in order: l1, l2, then its own. */
export function hyperFields(kernel: { readonly hyper: readonly string[] }): string[] {
  return [...PENALTY_FIELDS, ...kernel.hyper];
}

/** The values an optimizer writes for its kernel's scalars each step, by name. */
export type HyperValues<K extends UpdateKernel> = K extends UpdateKernel<infer H> ? Readonly<Record<H, number>> : never;

const UPDATE_PARAMS: readonly ParamSpec[] = [
  { name: 'n', type: 'u32' },
  { name: 'stride', type: 'u32' },
  { name: 'clip_value', type: 'f32' },
];

/** Overrides every update shader has (optim/common.wgsl): switches off, one vec4 per invocation. */
const UPDATE_OVERRIDES = { wg: OPTIM_WG, clip_by_norm: 0, clip_by_value: 0, scale_lr: 0, maximize: 0, skip_nonfinite: 0, elems: 1 };

export interface UpdateKernelSpec<H extends string> {
  /** The kernel is `optim/<name>`; its entry point is the header's `update`. */
  readonly name: string;
  /** The optimizer's shader file; the update header goes in front of it. */
  readonly source: string;
  /** The members of its `struct Hyper` after l1 and l2, in order. */
  readonly hyper: readonly H[];
  /** Its own override constants (variants), with their defaults. */
  readonly variants?: Readonly<Record<string, number>>;
  /** The twin: the same f32 operations in the same order, each rounded through `f`. */
  readonly cpu: (u: UpdateTwin<H>) => void;
}

/**
 * An update kernel: the update header, then the optimizer's shader with its `struct Hyper` and
 * `update4`. Uniforms: n (elements of the group), stride (elements per state slot), clip_value.
 * Bindings: weights, grads, state (slot s at s * stride), hyper, stats. Every shader reads
 * weights, gradients and state four at a time (group lengths and state strides are multiples of
 * 64); its `elems` override sets how many vec4s one invocation updates.
 */
export function updateKernel<const H extends string>(spec: UpdateKernelSpec<H>): UpdateKernel<H> {
  const fields = hyperFields(spec);
  const bindings: BindingSpec[] = [
    { name: 'weights', type: 'f32', access: 'read_write', lanes: 4 },
    { name: 'grads', type: 'f32', access: 'read', lanes: 4 },
    { name: 'state', type: 'f32', access: 'read_write', lanes: 4 },
    { name: 'hyper', type: 'f32', access: 'read', fields: scalars(fields) },
    { name: 'stats', type: 'f32', access: 'read', fields: scalars(STATS_FIELDS) },
  ];
  return {
    name: `optim/${spec.name}`,
    wgsl: withCommon(`${statsSource}\n${optimCommon}\n${spec.source}`),
    entry: 'update',
    params: UPDATE_PARAMS,
    bindings,
    overrides: { ...UPDATE_OVERRIDES, ...spec.variants },
    hyper: spec.hyper,
    cpu: (call) => {
      if (call.overrides.skip_nonfinite && (call.buffers.stats as Float32Array)[STATS.skip] !== 0) return;
      spec.cpu(updateTwin(call, fields));
    },
  };
}

function updateTwin<H extends string>({ buffers, params, overrides }: CpuInvocation, fields: readonly string[]): UpdateTwin<H> {
  const weights = buffers.weights as Float32Array;
  const grads = buffers.grads as Float32Array;
  const stats = buffers.stats as Float32Array;
  const values = buffers.hyper as Float32Array;
  const hyper = Object.fromEntries(fields.map((name, i) => [name, values[i]!])) as UpdateTwin<H>['hyper'];
  const clipCoef = overrides.clip_by_norm ? stats[STATS.clipCoef]! : 1;
  const clipValue = f(params.clip_value!);
  const { l1, l2 } = hyper;
  return {
    n: params.n!,
    weights,
    state: buffers.state as Float32Array,
    slot: (s) => s * params.stride!,
    hyper,
    lrFactor: overrides.scale_lr ? stats[STATS.lrFactor]! : 1,
    overrides,
    grad(i) {
      let e = f(penalizedGrad(grads[i]!, weights[i]!, l1, l2) * clipCoef);
      if (overrides.clip_by_value) e = Math.min(Math.max(e, -clipValue), clipValue);
      return overrides.maximize ? -e : e;
    },
  };
}

/** Adds lanes pairwise in the order of the shaders' workgroup tree (sum) or takes their max. */
function treeReduce(lanes: Float32Array, max: boolean): number {
  for (let half = lanes.length >> 1; half > 0; half >>= 1) {
    for (let l = 0; l < half; l++) lanes[l] = max ? Math.max(lanes[l]!, lanes[l + half]!) : lanes[l]! + lanes[l + half]!;
  }
  return lanes[0]!;
}

/**
 * The twin of reduce_norm_lanes (norm_lanes.wgsl): `accumulate(lane, acc)` leaves a lane's norm
 * part in acc[0] and its penalty in acc[1]; the lanes then combine in the shaders' tree.
 */
function reduceNormLanes(wg: number, normInf: boolean, accumulate: (lane: number, acc: Float64Array) => void): [number, number] {
  const norms = new Float32Array(wg);
  const penalties = new Float32Array(wg);
  const acc = new Float64Array(2);
  for (let lane = 0; lane < wg; lane++) {
    acc.fill(0);
    accumulate(lane, acc);
    norms[lane] = acc[0]!;
    penalties[lane] = acc[1]!;
  }
  return [treeReduce(norms, normInf), treeReduce(penalties, false)];
}

/**
 * Stage 1 of the gradient norm over one group: `workgroups[0]` partials written at `base`.
 * Uniforms: n, base. Override: norm_inf. `hyper` is the group's Hyper, read as its l1 and l2.
 */
export const gradNormPartial: KernelSpec = {
  name: 'optim/grad_norm_partial',
  wgsl: withCommon(`${gradNormSource}\n${normLanesSource}`),
  entry: 'grad_norm_partial',
  params: [
    { name: 'n', type: 'u32' },
    { name: 'base', type: 'u32' },
  ],
  bindings: [
    { name: 'weights', type: 'f32', access: 'read' },
    { name: 'grads', type: 'f32', access: 'read' },
    { name: 'hyper', type: 'f32', access: 'read', fields: scalars(PENALTY_FIELDS) },
    { name: 'partials', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: OPTIM_WG, norm_inf: 0 },
  cpu({ buffers, params, overrides, workgroups }) {
    const weights = buffers.weights as Float32Array;
    const grads = buffers.grads as Float32Array;
    const partials = buffers.partials as Float32Array;
    const [l1, l2] = buffers.hyper as Float32Array;
    const wg = overrides.wg!;
    const normInf = Boolean(overrides.norm_inf);
    const n = params.n!;
    const groups = workgroups[0];
    for (let k = 0; k < groups; k++) {
      const [norm, penalty] = reduceNormLanes(wg, normInf, (lane, acc) => {
        for (let i = k * wg + lane; i < n; i += groups * wg) {
          const w = weights[i]!;
          const g = penalizedGrad(grads[i]!, w, l1!, l2!);
          const bad = !Number.isFinite(g);
          acc[0] = normInf ? Math.max(acc[0]!, bad ? Infinity : Math.abs(g)) : f(acc[0]! + (bad ? Infinity : f(g * g)));
          acc[1] = f(acc[1]! + f(f(l1! * Math.abs(w)) + f(f(f(0.5 * l2!) * w) * w)));
        }
      });
      partials[2 * (params.base! + k)] = norm;
      partials[2 * (params.base! + k) + 1] = penalty;
    }
  },
};

/**
 * Stage 2, one workgroup: combines `count` partials into the GradStats struct `stats`, and with
 * check_finite sets its `skip` when the step's `loss`, norm or penalty is not finite.
 * Uniforms: count, max_norm, gamma, eps. Overrides: norm_inf, clip_by_norm, scale_lr, check_finite.
 */
export const gradStats: KernelSpec = {
  name: 'optim/grad_stats',
  wgsl: withCommon(`${statsSource}\n${gradStatsSource}\n${normLanesSource}`),
  entry: 'grad_stats',
  params: [
    { name: 'count', type: 'u32' },
    { name: 'max_norm', type: 'f32' },
    { name: 'gamma', type: 'f32' },
    { name: 'eps', type: 'f32' },
  ],
  bindings: [
    { name: 'partials', type: 'f32', access: 'read' },
    { name: 'loss', type: 'f32', access: 'read' },
    { name: 'stats', type: 'f32', access: 'read_write', fields: scalars(STATS_FIELDS) },
  ],
  overrides: { wg: OPTIM_WG, norm_inf: 0, clip_by_norm: 0, scale_lr: 0, check_finite: 0 },
  cpu({ buffers, params, overrides }) {
    const partials = buffers.partials as Float32Array;
    const stats = buffers.stats as Float32Array;
    const wg = overrides.wg!;
    const normInf = Boolean(overrides.norm_inf);
    const [reduced, penalty] = reduceNormLanes(wg, normInf, (lane, acc) => {
      for (let k = lane; k < params.count!; k += wg) {
        acc[0] = normInf ? Math.max(acc[0]!, partials[2 * k]!) : f(acc[0]! + partials[2 * k]!);
        acc[1] = f(acc[1]! + partials[2 * k + 1]!);
      }
    });
    const norm = normInf ? reduced : f(Math.sqrt(reduced));
    stats[STATS.gradNorm] = norm;
    stats[STATS.clipCoef] = overrides.clip_by_norm ? Math.min(1, f(f(1 / f(norm + f(1e-6))) * f(params.max_norm!))) : 1;
    stats[STATS.lrFactor] = overrides.scale_lr ? f(1 / f(Math.pow(Math.max(norm, f(params.eps!)), f(params.gamma!)))) : 1;
    stats[STATS.penalty] = penalty;
    const finite = Number.isFinite(buffers.loss![0]!) && Number.isFinite(norm) && Number.isFinite(penalty);
    stats[STATS.skip] = overrides.check_finite && !finite ? 1 : 0;
  },
};

/**
 * vec4s per invocation for a vectorised update: many on a software adapter, where each
 * invocation costs CPU time of its own, a few on a GPU, which needs enough invocations to fill
 * its cores.
 */
export function updateElems(software: boolean): number {
  return software ? 64 : 4;
}
