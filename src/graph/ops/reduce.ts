import { argmaxLaunch, type GradMode, reduceGradLaunch, reduceLaunch } from '../../kernels/reduce-axes.js';
import { softmaxGradLaunch, softmaxLaunch } from '../../kernels/softmax.js';
import { type GradIn, ONE, type OpDef } from '../op.js';
import { shapeString, type Tensor } from '../tensor.js';

/**
 * Reductions over dimensions and the softmax family, with torch semantics:
 *
 * - `dims` is a dim, a list of dims, or undefined for all of them; negative dims count from the
 *   end. As in torch, an empty list also means all dims. A duplicate or out-of-range dim is an
 *   error naming the layer, the dims and the shape.
 * - `keepdim` keeps reduced dims with extent 1; without it they are removed, and reducing every
 *   dim gives a 0-d tensor (shape [], one element).
 * - max and min are values only (torch.amax / amin). Their gradient is split evenly among the
 *   elements that tie for the extremum, as torch.amax does.
 * - variance is torch.var: unbiased (the default) divides by N − 1, else by N; with N ≤ the
 *   correction the result is NaN, as in torch.
 * - argmax gives int32 indices, the first of tied maxima, NaN counting as the largest; with no dim
 *   it indexes the flattened tensor.
 * - softmax and logSoftmax subtract the row maximum first, so large logits do not overflow.
 *
 * Inputs are float32 and dense (Graph.apply copies views), of rank at most 6.
 */

/** A dim, a list of dims, or undefined for all dims. */
export type Dims = number | readonly number[] | undefined;

type ReduceKind = 'sum' | 'mean' | 'max' | 'min' | 'countEq';

interface ReduceAttrs {
  readonly kind: ReduceKind;
  /** Sorted, distinct, in [0, rank). */
  readonly dims: readonly number[];
  readonly keepdim: boolean;
}

/**
 * The dims to reduce of a tensor of `shape`, sorted and non-negative, checked. A 0-d tensor
 * accepts dim 0 and -1 as torch does (there is nothing to reduce).
 */
export function reduceDims(dims: Dims, shape: readonly number[], label: string, what: string): number[] {
  const rank = shape.length;
  const given = dims === undefined ? [] : typeof dims === 'number' ? [dims] : [...dims];
  const shown = dims === undefined ? 'all' : `[${given.join(', ')}]`;
  if (dims === undefined || (Array.isArray(dims) && dims.length === 0)) return shape.map((_, d) => d);
  const span = Math.max(rank, 1);
  const seen = new Set<number>();
  for (const d of given) {
    if (!Number.isInteger(d) || d < -span || d >= span) {
      throw new Error(`${label}: ${what}: dim ${d} is out of range (expected -${span}..${span - 1}) in dims ${shown} for shape ${shapeString(shape)}`);
    }
    const n = d < 0 ? d + span : d;
    if (seen.has(n)) throw new Error(`${label}: ${what}: dim ${d} appears twice in dims ${shown} for shape ${shapeString(shape)}`);
    seen.add(n);
  }
  return rank === 0 ? [] : [...seen].sort((a, b) => a - b);
}

/** The shape after reducing `dims`: extent 1 with keepdim, removed without. */
export function reducedShape(shape: readonly number[], dims: readonly number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((n, d) => (dims.includes(d) ? 1 : n)) : shape.filter((_, d) => !dims.includes(d));
}

function count(shape: readonly number[], dims: readonly number[]): number {
  return dims.reduce((p, d) => p * shape[d]!, 1);
}

function checkInput(x: Tensor, what: string, label: string): void {
  if (x.dtype !== 'f32') throw new Error(`${label}: ${what} needs a float tensor, got ${x.dtype} ${shapeString(x.shape)}`);
  if (x.shape.length > 6) throw new Error(`${label}: ${what} supports tensors of rank at most 6, got shape ${shapeString(x.shape)}`);
  if (x.numel === 0) throw new Error(`${label}: ${what} of an empty tensor of shape ${shapeString(x.shape)}`);
}

/** Which tensors a REDUCE_GRAD node reads, in input order: dy unless the output is the loss. */
type GradRole = 'dy' | 'x' | 'y' | 'count';

interface ReduceGradAttrs {
  readonly mode: GradMode;
  readonly shape: readonly number[];
  readonly dims: readonly number[];
  readonly scale: number;
  readonly roles: readonly GradRole[];
}

/** dx of a reduction, shaped like its input: one reduce_grad launch. */
export const REDUCE_GRAD: OpDef<ReduceGradAttrs> = {
  name: 'reduce_grad',
  infer(_inputs, a) {
    return [{ shape: a.shape, dtype: 'f32' }];
  },
  lower(node, io) {
    const a = node.attrs;
    const at = (role: GradRole) => {
      const i = a.roles.indexOf(role);
      return i < 0 ? io.dummy : io.view(node.inputs[i]!);
    };
    const bindings = { dy: at('dy'), x: at('x'), y: at('y'), count: at('count'), dx: io.view(node.outputs[0]!) };
    const unit = !a.roles.includes('dy');
    return [reduceGradLaunch(a.mode, bindings, a.shape, a.dims, { scale: a.scale, unit }, node.label)];
  },
};

/**
 * dx for a reduction of x over `dims` whose output gradient is `gradOut`; `refs` are the other
 * tensors the mode reads (x and y for tie, with count; x and the mean for deviation).
 */
function reduceGrad(
  gradOut: Exclude<GradIn, null>,
  mode: GradMode,
  x: Tensor,
  dims: readonly number[],
  scale: number,
  refs: Partial<Record<'x' | 'y' | 'count', Tensor>>,
  label: string,
): Tensor {
  const roles: GradRole[] = [];
  const inputs: Tensor[] = [];
  if (gradOut !== ONE) {
    roles.push('dy');
    inputs.push(gradOut);
  }
  for (const role of ['x', 'y', 'count'] as const) {
    const t = refs[role];
    if (t) {
      roles.push(role);
      inputs.push(t);
    }
  }
  return x.graph.apply(REDUCE_GRAD, inputs, { mode, shape: x.shape, dims, scale, roles }, label)[0]!;
}

/** sum, mean, amax, amin over dims; countEq counts the elements equal to a per-output anchor. */
export const REDUCE: OpDef<ReduceAttrs> = {
  name: 'reduce',
  infer(inputs, a, label) {
    const x = inputs[0]!;
    checkInput(x, a.kind, label);
    const shape = reducedShape(x.shape, a.dims, a.keepdim);
    if (a.kind === 'countEq' && inputs[1]!.numel !== x.numel / count(x.shape, a.dims)) {
      throw new Error(`${label}: countEq needs one anchor per output element ${shapeString(shape)}, got ${shapeString(inputs[1]!.shape)}`);
    }
    return [{ shape, dtype: 'f32' }];
  },
  backward(_g, node, [gradOut], wants) {
    const { kind, dims } = node.attrs;
    if (!wants[0] || !gradOut || kind === 'countEq') return node.inputs.map(() => null);
    const x = node.inputs[0]!;
    const label = `${node.label}.grad`;
    const n = count(x.shape, dims);
    if (kind === 'sum' || kind === 'mean') return [reduceGrad(gradOut, 'broadcast', x, dims, kind === 'mean' ? 1 / n : 1, {}, label)];
    const y = node.outputs[0]!;
    const ties = x.graph.apply(REDUCE, [x, y], { kind: 'countEq', dims, keepdim: node.attrs.keepdim }, `${node.label}.ties`)[0]!;
    return [reduceGrad(gradOut, 'tie', x, dims, 1, { x, y, count: ties }, label)];
  },
  lower(node, io) {
    const [x, anchor] = node.inputs as [Tensor, Tensor | undefined];
    const { kind, dims } = node.attrs;
    const bindings = { x: io.view(x), anchor: anchor ? io.view(anchor) : io.dummy, out: io.view(node.outputs[0]!) };
    const scale = kind === 'mean' ? 1 / count(x.shape, dims) : 1;
    const op = kind === 'mean' ? 'sum' : kind;
    return [reduceLaunch(op, bindings, x.shape, dims, scale, node.label)];
  },
};

interface VarianceAttrs {
  readonly dims: readonly number[];
  readonly keepdim: boolean;
  /** 1 for the unbiased estimate (divide by N − 1), 0 for the population variance. */
  readonly correction: number;
}

/** 1 / (N − correction), NaN where no degrees of freedom are left (torch gives NaN there too). */
function perDegree(n: number, correction: number): number {
  return n > correction ? 1 / (n - correction) : NaN;
}

/** torch.var over dims. Outputs: the variance, and the mean it is taken about (for backward). */
export const VARIANCE: OpDef<VarianceAttrs> = {
  name: 'variance',
  infer([x], a, label) {
    checkInput(x!, 'variance', label);
    const shape = reducedShape(x!.shape, a.dims, a.keepdim);
    return [
      { shape, dtype: 'f32' },
      { shape, dtype: 'f32' },
    ];
  },
  backward(_g, node, [gradOut], wants) {
    if (!wants[0] || !gradOut) return [null];
    const x = node.inputs[0]!;
    const { dims, correction } = node.attrs;
    const scale = 2 * perDegree(count(x.shape, dims), correction);
    return [reduceGrad(gradOut, 'deviation', x, dims, scale, { x, y: node.outputs[1]! }, `${node.label}.grad`)];
  },
  lower(node, io) {
    const x = node.inputs[0]!;
    const [variance, mean] = node.outputs as [Tensor, Tensor];
    const { dims, correction } = node.attrs;
    const n = count(x.shape, dims);
    return [
      reduceLaunch('sum', { x: io.view(x), anchor: io.dummy, out: io.view(mean) }, x.shape, dims, 1 / n, node.label),
      reduceLaunch('sqDev', { x: io.view(x), anchor: io.view(mean), out: io.view(variance) }, x.shape, dims, perDegree(n, correction), node.label),
    ];
  },
};

interface ArgmaxAttrs {
  readonly dims: readonly number[];
  /** The output shape (flattened argmax keeps every dim as 1 with keepdim, as torch does). */
  readonly shape: readonly number[];
}

/** torch.argmax: int32 indices of the first maximum; no gradient. */
export const ARGMAX: OpDef<ArgmaxAttrs> = {
  name: 'argmax',
  infer([x], a, label) {
    checkInput(x!, 'argmax', label);
    return [{ shape: a.shape, dtype: 'i32' }];
  },
  backward: () => [null],
  lower(node, io) {
    const x = node.inputs[0]!;
    return [argmaxLaunch({ x: io.view(x), index: io.view(node.outputs[0]!) }, x.shape, node.attrs.dims, node.label)];
  },
};

interface SoftmaxAttrs {
  /** In [0, max(rank, 1)). */
  readonly dim: number;
  readonly log: boolean;
}

/** softmax (or, with log, log-softmax) along one dim. */
export const SOFTMAX: OpDef<SoftmaxAttrs> = {
  name: 'softmax',
  infer([x], a, label) {
    checkInput(x!, a.log ? 'logSoftmax' : 'softmax', label);
    return [{ shape: x!.shape, dtype: 'f32' }];
  },
  backward(g, node, [gradOut], wants) {
    if (!wants[0] || !gradOut) return [null];
    if (gradOut === ONE) throw new Error(`${node.label}: a ${node.attrs.log ? 'logSoftmax' : 'softmax'} output cannot be the loss; reduce it first`);
    return [g.apply(SOFTMAX_GRAD, [gradOut, node.outputs[0]!], node.attrs, `${node.label}.grad`)[0]!];
  },
  lower(node, io) {
    const x = node.inputs[0]!;
    return [softmaxLaunch({ x: io.view(x), out: io.view(node.outputs[0]!) }, x.shape, node.attrs.dim, node.attrs.log, node.label)];
  },
};

/** dx of softmax (y · (dy − Σ dy·y)) or log-softmax (dy − exp(y) · Σ dy) from dy and y. */
export const SOFTMAX_GRAD: OpDef<SoftmaxAttrs> = {
  name: 'softmax_grad',
  infer([dy]) {
    return [{ shape: dy!.shape, dtype: 'f32' }];
  },
  lower(node, io) {
    const [dy, y] = node.inputs as [Tensor, Tensor];
    const bindings = { dy: io.view(dy), y: io.view(y), dx: io.view(node.outputs[0]!) };
    return [softmaxGradLaunch(bindings, dy.shape, node.attrs.dim, node.attrs.log, node.label)];
  },
};

function reduce(kind: ReduceKind, x: Tensor, dims: Dims, keepdim: boolean): Tensor {
  const d = reduceDims(dims, x.shape, x.graph.currentLabel, kind);
  return x.graph.apply(REDUCE, [x], { kind, dims: d, keepdim })[0]!;
}

/** torch.sum over `dims` (all by default). */
export function sum(x: Tensor, dims?: Dims, keepdim = false): Tensor {
  return reduce('sum', x, dims, keepdim);
}

/** torch.mean over `dims` (all by default). */
export function mean(x: Tensor, dims?: Dims, keepdim = false): Tensor {
  return reduce('mean', x, dims, keepdim);
}

/** torch.amax over `dims` (all by default); the gradient is shared evenly by tied maxima. */
export function max(x: Tensor, dims?: Dims, keepdim = false): Tensor {
  return reduce('max', x, dims, keepdim);
}

/** torch.amin over `dims` (all by default); the gradient is shared evenly by tied minima. */
export function min(x: Tensor, dims?: Dims, keepdim = false): Tensor {
  return reduce('min', x, dims, keepdim);
}

/** torch.var over `dims` (all by default): unbiased (N − 1) unless `unbiased: false` (N). */
export function variance(x: Tensor, dims?: Dims, { unbiased = true, keepdim = false }: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
  const d = reduceDims(dims, x.shape, x.graph.currentLabel, 'variance');
  return x.graph.apply(VARIANCE, [x], { dims: d, keepdim, correction: unbiased ? 1 : 0 })[0]!;
}

/**
 * torch.argmax: int32 index of the first maximum along `dim`, or into the flattened tensor when
 * `dim` is undefined (then keepdim gives every dim extent 1).
 */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  const label = x.graph.currentLabel;
  const dims = reduceDims(dim, x.shape, label, 'argmax');
  const shape = dim === undefined ? (keepdim ? x.shape.map(() => 1) : []) : reducedShape(x.shape, dims, keepdim);
  return x.graph.apply(ARGMAX, [x], { dims, shape })[0]!;
}

function softmaxOf(x: Tensor, dim: number, log: boolean): Tensor {
  const what = log ? 'logSoftmax' : 'softmax';
  if (typeof dim !== 'number') throw new Error(`${x.graph.currentLabel}: ${what} needs a dim for shape ${shapeString(x.shape)}`);
  // A 0-d tensor is a row of one, as in torch.
  const [d] = reduceDims(dim, x.shape.length === 0 ? [1] : x.shape, x.graph.currentLabel, what) as [number];
  return x.graph.apply(SOFTMAX, [x], { dim: d, log })[0]!;
}

/** torch.softmax along `dim`: exp(x − max) / Σ exp(x − max). */
export function softmax(x: Tensor, dim: number): Tensor {
  return softmaxOf(x, dim, false);
}

/** torch.log_softmax along `dim`: x − max − log Σ exp(x − max). */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return softmaxOf(x, dim, true);
}
