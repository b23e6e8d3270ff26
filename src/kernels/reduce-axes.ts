import source from '../../shaders/reduce_axes.wgsl';
import type { BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { grid1d } from '../backend/kernel.js';
import { launch } from './launch.js';
import { axisParams, axisValues, MAX_RANK, setAxisValues, withCommon } from './source.js';

/**
 * Reductions over any set of dimensions of a dense tensor, their argmax, and their gradients
 * (shaders/reduce_axes.wgsl). `reducePlan` turns a shape and the reduced dims into the uniform
 * values; `lanes` invocations share each output element, so a long reduction is a workgroup
 * tree, not one invocation looping over it. The twins follow the shader's order of operations
 * with float32 rounding.
 */

/** Codes of the `op` override of reduce_axes. */
export const REDUCE_OPS = {
  sum: 0,
  max: 1,
  min: 2,
  /** Σ (x − anchor)², anchor being the mean: the numerator of a variance. */
  sqDev: 3,
  /** Number of x equal to anchor, the max or min: how many elements tie for it. */
  countEq: 4,
} as const;

/** Codes of the `mode` override of reduce_grad. */
export const GRAD_MODES = {
  /** dx = scale · dy (sum, mean). */
  broadcast: 0,
  /** dx = dy / count where x equals y, else 0 (max, min). */
  tie: 1,
  /** dx = scale · (x − y) · dy, y the mean (variance). */
  deviation: 2,
} as const;

export type ReduceOp = keyof typeof REDUCE_OPS;
export type GradMode = keyof typeof GRAD_MODES;

export { MAX_RANK };
const WG = 256;
const f32 = Math.fround;

const params: readonly ParamSpec[] = [
  { name: 'n_out', type: 'u32' },
  { name: 'n_red', type: 'u32' },
  { name: 'n_in', type: 'u32' },
  ...axisParams('k', 'ks', 'r', 'rs', 'e', 'os'),
  { name: 'scale', type: 'f32' },
];

const wgsl = withCommon(source);
const read = (name: string) => ({ name, type: 'f32', access: 'read' }) as const;
const write = (name: string) => ({ name, type: 'f32', access: 'read_write' }) as const;

/** Where the reduction of a dense tensor of some shape over some dims finds its elements. */
export interface ReducePlan {
  readonly nOut: number;
  readonly nRed: number;
  readonly nIn: number;
  /** The uniform values except `scale`. */
  readonly layout: Readonly<Record<string, number>>;
}

interface Group {
  extent: number;
  stride: number;
  outStride: number;
  reduced: boolean;
}

/**
 * The uniform values that reduce a dense row-major tensor of `shape` over `dims` (distinct, in
 * [0, rank)). Dimensions of size 1 are dropped and neighbours that are both kept or both reduced
 * merge into one, which leaves the index maps unchanged and saves divisions in the shader.
 */
export function reducePlan(shape: readonly number[], dims: readonly number[], label = 'reduce'): ReducePlan {
  if (shape.length > MAX_RANK) throw new Error(`${label}: tensors of rank ${shape.length} exceed the maximum rank ${MAX_RANK}, got shape [${shape.join(', ')}]`);
  if (shape.some((n) => !(Number.isInteger(n) && n >= 1))) throw new Error(`${label}: cannot reduce an empty tensor of shape [${shape.join(', ')}]`);
  const reduced = new Set(dims);
  const rank = shape.length;
  const stride = new Array<number>(rank);
  const outStride = new Array<number>(rank).fill(0);
  let s = 1;
  let o = 1;
  for (let d = rank - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d]!;
    if (!reduced.has(d)) {
      outStride[d] = o;
      o *= shape[d]!;
    }
  }
  const groups: Group[] = [];
  for (let d = 0; d < rank; d++) {
    if (shape[d] === 1) continue;
    const last = groups[groups.length - 1];
    if (last && last.reduced === reduced.has(d)) {
      last.extent *= shape[d]!;
      last.stride = stride[d]!;
      last.outStride = outStride[d]!;
    } else {
      groups.push({ extent: shape[d]!, stride: stride[d]!, outStride: outStride[d]!, reduced: reduced.has(d) });
    }
  }
  const layout: Record<string, number> = {};
  const fill = (extentKey: string, strideKey: string, gs: Group[], strideOf: (g: Group) => number): void => {
    const pad = MAX_RANK - gs.length;
    setAxisValues(layout, extentKey, [...new Array<number>(pad).fill(1), ...gs.map((g) => g.extent)]);
    setAxisValues(layout, strideKey, [...new Array<number>(pad).fill(0), ...gs.map(strideOf)]);
  };
  const kept = groups.filter((g) => !g.reduced);
  const red = groups.filter((g) => g.reduced);
  fill('k', 'ks', kept, (g) => g.stride);
  fill('r', 'rs', red, (g) => g.stride);
  fill('e', 'os', groups, (g) => (g.reduced ? 0 : g.outStride));
  const nIn = s;
  const nOut = kept.reduce((p, g) => p * g.extent, 1);
  const nRed = red.reduce((p, g) => p * g.extent, 1);
  layout.n_out = nOut;
  layout.n_red = nRed;
  layout.n_in = nIn;
  return { nOut, nRed, nIn, layout };
}

/** Σ_k idx_k · stride_k for index q row-major over `extents`, as the shader computes it. */
function offsetOf(q: number, extents: readonly number[], strides: readonly number[]): number {
  let off = 0;
  for (let a = MAX_RANK - 1; a > 0; a--) {
    const n = extents[a]!;
    off += (q % n) * strides[a]!;
    q = Math.floor(q / n);
  }
  return off + q * strides[0]!;
}

/** The offsets in x of reduced indices 0 .. n_red - 1, and a function giving each output's first. */
function walk(p: Readonly<Record<string, number>>): { offs: number[]; base: (o: number) => number } {
  const [r, rs, k, ks] = [axisValues(p, 'r'), axisValues(p, 'rs'), axisValues(p, 'k'), axisValues(p, 'ks')];
  return { offs: Array.from({ length: p.n_red! }, (_, i) => offsetOf(i, r, rs)), base: (o) => offsetOf(o, k, ks) };
}

/** Output elements (rows) a launch of `workgroups` covers, `wg / lanes` per workgroup. */
export function rowsCovered(call: CpuInvocation, n: number): number {
  const [gx, gy, gz] = call.workgroups;
  return Math.min(n, gx * gy * gz * (call.overrides.wg! / call.overrides.lanes!));
}

/** The lanes' partial results of one row combined in the shaders' fixed tree (in place). */
export function combineLanes(partial: Float32Array, combine: (a: number, b: number) => number): number {
  for (let s = partial.length >> 1; s > 0; s >>= 1) {
    for (let lane = 0; lane < s; lane++) partial[lane] = combine(partial[lane]!, partial[lane + s]!);
  }
  return partial[0]!;
}

function combine(op: number, a: number, b: number): number {
  if (op === REDUCE_OPS.max || op === REDUCE_OPS.min) {
    if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
    return op === REDUCE_OPS.max ? Math.max(a, b) : Math.min(a, b);
  }
  return f32(a + b);
}

function fold(op: number, a: number, v: number, anchor: number): number {
  if (op === REDUCE_OPS.sqDev) {
    const d = f32(v - anchor);
    return f32(a + f32(d * d));
  }
  if (op === REDUCE_OPS.countEq) return a + (v === anchor ? 1 : 0);
  return combine(op, a, v);
}

function cpuReduce(call: CpuInvocation): void {
  const { x, anchor, out } = call.buffers;
  const p = call.params;
  const op = call.overrides.op!;
  const lanes = call.overrides.lanes!;
  const nRed = p.n_red!;
  const scale = f32(p.scale!);
  const { offs, base: baseOf } = walk(p);
  const partial = new Float32Array(lanes);
  const fromFirst = op === REDUCE_OPS.max || op === REDUCE_OPS.min;
  const anchored = op === REDUCE_OPS.sqDev || op === REDUCE_OPS.countEq;
  const rows = rowsCovered(call, p.n_out!);
  for (let o = 0; o < rows; o++) {
    const base = baseOf(o);
    const ref = anchored ? anchor![o]! : 0;
    for (let lane = 0; lane < lanes; lane++) {
      let acc = fromFirst ? x![base]! : 0;
      for (let r = lane; r < nRed; r += lanes) acc = fold(op, acc, x![base + offs[r]!]!, ref);
      partial[lane] = acc;
    }
    out![o] = scale * combineLanes(partial, (a, b) => combine(op, a, b));
  }
}

/** Whether value v at reduced index i beats (best, at): larger, or equal and earlier; NaN is largest. */
function beats(v: number, i: number, best: number, at: number): boolean {
  if (Number.isNaN(v)) return !Number.isNaN(best) || i < at;
  if (Number.isNaN(best)) return false;
  return v > best || (v === best && i < at);
}

function cpuArgmax(call: CpuInvocation): void {
  const { x, index } = call.buffers;
  const p = call.params;
  const lanes = call.overrides.lanes!;
  const nRed = p.n_red!;
  const { offs, base: baseOf } = walk(p);
  const best = new Float32Array(lanes);
  const at = new Uint32Array(lanes);
  const rows = rowsCovered(call, p.n_out!);
  for (let o = 0; o < rows; o++) {
    const base = baseOf(o);
    for (let lane = 0; lane < lanes; lane++) {
      best[lane] = x![base]!;
      at[lane] = 0;
      for (let r = lane; r < nRed; r += lanes) {
        const v = x![base + offs[r]!]!;
        if (beats(v, r, best[lane]!, at[lane]!)) {
          best[lane] = v;
          at[lane] = r;
        }
      }
    }
    for (let s = lanes >> 1; s > 0; s >>= 1) {
      for (let lane = 0; lane < s; lane++) {
        if (beats(best[lane + s]!, at[lane + s]!, best[lane]!, at[lane]!)) {
          best[lane] = best[lane + s]!;
          at[lane] = at[lane + s]!;
        }
      }
    }
    index![o] = at[0]!;
  }
}

function cpuGrad(call: CpuInvocation): void {
  const { dy, x, y, count, dx } = call.buffers;
  const p = call.params;
  const mode = call.overrides.mode!;
  const unit = call.overrides.unit === 1;
  const scale = f32(p.scale!);
  const [gx, gy, gz] = call.workgroups;
  const n = Math.min(p.n_in!, gx * gy * gz * call.overrides.wg!);
  const [e, os] = [axisValues(p, 'e'), axisValues(p, 'os')];
  for (let i = 0; i < n; i++) {
    const o = offsetOf(i, e, os);
    const g = unit ? 1 : dy![o]!;
    if (mode === GRAD_MODES.tie) dx![i] = x![i] === y![o] ? g / count![o]! : 0;
    else if (mode === GRAD_MODES.deviation) dx![i] = f32(scale * f32(x![i]! - y![o]!)) * g;
    else dx![i] = scale * g;
  }
}

/**
 * out[o] = scale · fold of x over the reduced dims, op choosing the fold (REDUCE_OPS); anchor[o]
 * is the mean (sqDev) or the extremum (countEq).
 */
export const reduceAxes: KernelSpec = {
  name: 'reduce_axes',
  wgsl,
  entry: 'reduce_axes',
  params,
  bindings: [read('x'), read('anchor'), write('out')],
  overrides: { wg: WG, lanes: 1, op: 0 },
  cpu: cpuReduce,
};

/** index[o] = the first reduced index (row-major over the reduced dims) of the largest x. */
export const argmaxAxes: KernelSpec = {
  name: 'argmax_axes',
  wgsl,
  entry: 'argmax_axes',
  params,
  bindings: [read('x'), { name: 'index', type: 'i32', access: 'read_write' }],
  overrides: { wg: WG, lanes: 1 },
  cpu: cpuArgmax,
};

/** dx[i] from the output's gradient dy (or 1 with unit = 1), mode choosing the rule (GRAD_MODES). */
export const reduceGrad: KernelSpec = {
  name: 'reduce_grad',
  wgsl,
  entry: 'reduce_grad',
  params,
  bindings: [read('dy'), read('x'), read('y'), read('count'), write('dx')],
  overrides: { wg: WG, mode: 0, unit: 0 },
  cpu: cpuGrad,
};

/**
 * Invocations per output element for a reduction of n elements: a power of two up to wg, with
 * at least 16 elements per lane, so short reductions stay one invocation each and long ones
 * spread over a workgroup.
 */
export function lanesFor(n: number, wg = WG): number {
  let lanes = 1;
  while (lanes * 2 <= wg && lanes * 2 * 16 <= n) lanes *= 2;
  return lanes;
}

/**
 * `lanes` invocations per row (by default `lanesFor(n)`, for rows of n elements) and the grid that
 * covers `rows` rows, `wg / lanes` per workgroup. Lanes must be a power of two in [1, wg].
 */
export function laneGrid(rows: number, n: number, lanes: number | undefined, who: string): { lanes: number; workgroups: [number, number, number] } {
  const l = lanes ?? lanesFor(n);
  if (!(Number.isInteger(l) && l >= 1 && l <= WG && (l & (l - 1)) === 0)) {
    throw new Error(`${who}: lanes must be a power of two in [1, ${WG}], got ${l}`);
  }
  return { lanes: l, workgroups: grid1d(rows, WG / l) };
}

/**
 * out = the reduction `op` of a dense x of `shape` over `dims`, times scale. `anchor` is read by
 * sqDev and countEq only (pass any buffer otherwise). `lanes` defaults to `lanesFor(n_red)`.
 */
export function reduceLaunch(
  op: ReduceOp,
  bindings: { x: BufferView; anchor: BufferView; out: BufferView },
  shape: readonly number[],
  dims: readonly number[],
  scale = 1,
  label?: string,
  lanes?: number,
): Launch {
  const who = label ?? reduceAxes.name;
  const plan = reducePlan(shape, dims, who);
  const grid = laneGrid(plan.nOut, plan.nRed, lanes, who);
  const anchored = op === 'sqDev' || op === 'countEq';
  return launch(reduceAxes, {
    bindings,
    params: { ...plan.layout, scale },
    overrides: { op: REDUCE_OPS[op], lanes: grid.lanes },
    workgroups: grid.workgroups,
    needs: { x: plan.nIn, out: plan.nOut, ...(anchored ? { anchor: plan.nOut } : {}) },
    label,
  });
}

/** index = argmax of a dense x of `shape` over `dims`, as a row-major index into the reduced dims. */
export function argmaxLaunch(
  bindings: { x: BufferView; index: BufferView },
  shape: readonly number[],
  dims: readonly number[],
  label?: string,
  lanes?: number,
): Launch {
  const who = label ?? argmaxAxes.name;
  const plan = reducePlan(shape, dims, who);
  const grid = laneGrid(plan.nOut, plan.nRed, lanes, who);
  return launch(argmaxAxes, {
    bindings,
    params: { ...plan.layout, scale: 1 },
    overrides: { lanes: grid.lanes },
    workgroups: grid.workgroups,
    needs: { x: plan.nIn, index: plan.nOut },
    label,
  });
}

/**
 * dx (shaped like x, `shape`) from the gradient dy of the reduction of x over `dims`. Bindings a
 * mode does not read (x and count for broadcast, count for deviation, dy when `unit`) may be any
 * buffer.
 */
export function reduceGradLaunch(
  mode: GradMode,
  bindings: { dy: BufferView; x: BufferView; y: BufferView; count: BufferView; dx: BufferView },
  shape: readonly number[],
  dims: readonly number[],
  { scale = 1, unit = false }: { scale?: number; unit?: boolean } = {},
  label?: string,
): Launch {
  const plan = reducePlan(shape, dims, label ?? reduceGrad.name);
  const needs: Record<string, number> = { dx: plan.nIn };
  if (!unit) needs.dy = plan.nOut;
  if (mode !== 'broadcast') Object.assign(needs, { x: plan.nIn, y: plan.nOut });
  if (mode === 'tie') needs.count = plan.nOut;
  return launch(reduceGrad, {
    bindings,
    params: { ...plan.layout, scale },
    overrides: { mode: GRAD_MODES[mode], unit: unit ? 1 : 0 },
    threads: plan.nIn,
    needs,
    label,
  });
}
