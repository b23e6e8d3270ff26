import { fillLaunch } from '../../kernels/elementwise.js';
import { copyI32Launch, type MapOperand, unaryLaunch } from '../../kernels/map.js';
import type { LowerIO, OpDef } from '../op.js';
import { gradTensor } from '../op.js';
import { denseStrides, numel, shapeString, type Tensor } from '../tensor.js';
import { sum } from './reduce.js';

/**
 * Shape ops. Views (reshape of a contiguous tensor, transpose, permute, expand, narrow, squeeze,
 * unsqueeze) share their input's storage and only change the strides and offset through which it
 * is read; ops that accept views read them in place, the others get a dense copy from
 * `Graph.apply`. cat and the gradient of narrow write into slices of a new tensor.
 */

/** A dimension index in [0, rank), negative counting from the end, checked. */
export function normDim(dim: number, rank: number, label: string, what = 'dim'): number {
  if (!Number.isInteger(dim) || dim < -rank || dim >= rank) {
    throw new Error(`${label}: ${what} ${dim} is out of range for a tensor of rank ${rank} (expected ${rank === 0 ? 'none' : `-${rank}..${rank - 1}`})`);
  }
  return dim < 0 ? dim + rank : dim;
}

/** Dims given as separate arguments or as one array, normalised. */
export function dimList(dims: readonly (number | readonly number[])[]): number[] {
  return dims.length === 1 && Array.isArray(dims[0]) ? [...(dims[0] as readonly number[])] : (dims as number[]);
}

/** The operand of a map kernel for tensor `t`: its binding and where its elements lie. */
export function operand(t: Tensor, io: LowerIO): MapOperand {
  return { shape: t.shape, at: { view: io.view(t), strides: t.strides, offset: t.offset } };
}

type ViewKind =
  | { kind: 'reshape' }
  | { kind: 'permute'; dims: readonly number[] }
  | { kind: 'expand' }
  | { kind: 'narrow'; dim: number; start: number };

type ViewAttrs = ViewKind & { readonly shape: readonly number[]; readonly strides: readonly number[]; readonly offset: number };

/** A view: same storage, new shape, strides and offset (computed by the helper that applies it). */
export const VIEW: OpDef<ViewAttrs> = {
  name: 'view',
  aliases: 0,
  acceptsViews: true,
  infer([x], a) {
    return [{ shape: a.shape, dtype: x!.dtype, layout: { strides: a.strides, offset: a.offset } }];
  },
  backward(g0, node, [gradOut], wants) {
    if (!wants[0] || !gradOut) return [null];
    gradOut = gradTensor(g0, node, gradOut);
    const x = node.inputs[0]!;
    const a = node.attrs;
    switch (a.kind) {
      case 'reshape':
        return [reshape(gradOut, x.shape)];
      case 'permute': {
        const inverse = new Array<number>(a.dims.length);
        a.dims.forEach((d, i) => (inverse[d] = i));
        return [permute(gradOut, inverse)];
      }
      case 'expand':
        return [sumTo(gradOut, x.shape)];
      case 'narrow':
        return [gradOut.graph.apply(NARROW_GRAD, [gradOut], { shape: x.shape, dim: a.dim, start: a.start })[0]!];
    }
  },
  lower: () => [],
};

/** A dense copy of a view (what `Graph.apply` inserts before ops that need dense inputs). */
export const CONTIGUOUS: OpDef<Record<string, never>> = {
  name: 'contiguous',
  acceptsViews: true,
  infer([x]) {
    return [{ shape: x!.shape, dtype: x!.dtype }];
  },
  backward(g0, node, [gradOut], wants) {
    if (!wants[0] || !gradOut) return [null];
    return [gradTensor(g0, node, gradOut)];
  },
  lower(node, io) {
    const x = node.inputs[0]!;
    const out = operand(node.outputs[0]!, io);
    return [x.dtype === 'f32' ? unaryLaunch('copy', operand(x, io), out, 0, 0, node.label) : copyI32Launch(operand(x, io), out, node.label)];
  },
};

/** Concatenation along `dim`: one copy per input into its slice of the output. */
export const CAT: OpDef<{ dim: number }> = {
  name: 'cat',
  acceptsViews: true,
  infer(inputs, { dim }, label) {
    const first = inputs[0];
    if (!first) throw new Error(`${label}: cat needs at least one tensor`);
    const shape = [...first.shape];
    shape[dim] = 0;
    for (const t of inputs) {
      const same = t.shape.length === first.shape.length && t.shape.every((n, d) => d === dim || n === first.shape[d]);
      if (!same || t.dtype !== first.dtype) {
        throw new Error(`${label}: cat along dim ${dim} needs tensors equal in every other dim and dtype, got ${inputs.map((i) => `${i.dtype}${shapeString(i.shape)}`).join(', ')}`);
      }
      shape[dim]! += t.shape[dim]!;
    }
    return [{ shape, dtype: first.dtype }];
  },
  backward(g0, node, [gradOut], wants) {
    if (!gradOut) return node.inputs.map(() => null);
    const g = gradTensor(g0, node, gradOut);
    let start = 0;
    return node.inputs.map((t, i) => {
      const len = t.shape[node.attrs.dim]!;
      const d = wants[i] ? narrow(g, node.attrs.dim, start, len) : null;
      start += len;
      return d;
    });
  },
  lower(node, io) {
    const out = node.outputs[0]!;
    const base = io.view(out);
    const strides = denseStrides(out.shape);
    let start = 0;
    return node.inputs.map((t) => {
      const slice: MapOperand = { shape: t.shape, at: { view: base, strides, offset: start * strides[node.attrs.dim]! } };
      start += t.shape[node.attrs.dim]!;
      return t.dtype === 'f32' ? unaryLaunch('copy', operand(t, io), slice, 0, 0, node.label) : copyI32Launch(operand(t, io), slice, node.label);
    });
  },
};

/** The gradient of narrow: zeros of the input's shape with gradOut in the narrowed slice. */
export const NARROW_GRAD: OpDef<{ shape: readonly number[]; dim: number; start: number }> = {
  name: 'narrow_grad',
  acceptsViews: true,
  infer([g], a) {
    return [{ shape: a.shape, dtype: g!.dtype }];
  },
  backward(g0, node, [gradOut], wants) {
    if (!wants[0] || !gradOut) return [null];
    return [narrow(gradTensor(g0, node, gradOut), node.attrs.dim, node.attrs.start, node.inputs[0]!.shape[node.attrs.dim]!)];
  },
  lower(node, io) {
    const g = node.inputs[0]!;
    const out = node.outputs[0]!;
    const strides = denseStrides(out.shape);
    const slice: MapOperand = { shape: g.shape, at: { view: io.view(out), strides, offset: node.attrs.start * strides[node.attrs.dim]! } };
    return [fillLaunch({ out: io.view(out) }, out.numel, 0, node.label), unaryLaunch('copy', operand(g, io), slice, 0, 0, node.label)];
  },
};

function view(x: Tensor, attrs: ViewAttrs): Tensor {
  return x.graph.apply(VIEW, [x], attrs)[0]!;
}

/** A dense copy of `x`, or `x` itself when it is dense already. */
export function contiguous(x: Tensor): Tensor {
  return x.isDense ? x : x.graph.apply(CONTIGUOUS, [x], {})[0]!;
}

/** torch.reshape: a view when `x` is contiguous, else a copy; one dim may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const label = x.graph.currentLabel;
  const target = inferShape(shape, x.numel, x.shape, label);
  if (target.length === x.shape.length && target.every((n, d) => n === x.shape[d])) return x;
  const src = x.isContiguous ? x : contiguous(x);
  return view(src, { kind: 'reshape', shape: target, strides: denseStrides(target), offset: src.offset });
}

function inferShape(shape: readonly number[], total: number, from: readonly number[], label: string): number[] {
  const free = shape.filter((n) => n === -1).length;
  if (free > 1 || shape.some((n) => !Number.isInteger(n) || n < -1)) throw new Error(`${label}: invalid shape ${shapeString(shape)}`);
  const known = shape.filter((n) => n !== -1).reduce((a, b) => a * b, 1);
  const out = shape.map((n) => (n === -1 ? (known === 0 ? 0 : total / known) : n));
  if (numel(out) !== total || out.some((n) => !Number.isInteger(n))) {
    throw new Error(`${label}: cannot reshape ${shapeString(from)} (${total} elements) to ${shapeString(shape)}`);
  }
  return out;
}

/** torch.permute: dimension i of the result is dimension dims[i] of x. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const label = x.graph.currentLabel;
  const rank = x.shape.length;
  const norm = dims.map((d) => normDim(d, rank, label));
  if (norm.length !== rank || new Set(norm).size !== rank) {
    throw new Error(`${label}: permute(${dims.join(', ')}) is not a permutation of the ${rank} dims of ${shapeString(x.shape)}`);
  }
  if (norm.every((d, i) => d === i)) return x;
  return view(x, { kind: 'permute', dims: norm, shape: norm.map((d) => x.shape[d]!), strides: norm.map((d) => x.strides[d]!), offset: x.offset });
}

/** torch.transpose: swaps two dims. */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const label = x.graph.currentLabel;
  const rank = x.shape.length;
  const a = normDim(dim0, rank, label, 'dim0');
  const b = normDim(dim1, rank, label, 'dim1');
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/** torch.Tensor.expand: size-1 dims repeat (stride 0), new leading dims may be added; -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const label = x.graph.currentLabel;
  const lead = shape.length - x.shape.length;
  if (lead < 0) throw new Error(`${label}: cannot expand ${shapeString(x.shape)} to fewer dims ${shapeString(shape)}`);
  const strides: number[] = [];
  const out: number[] = [];
  shape.forEach((n, d) => {
    const xd = d - lead;
    const have = xd >= 0 ? x.shape[xd]! : 1;
    const size = n === -1 ? have : n;
    if (xd < 0 && n === -1) throw new Error(`${label}: expand to ${shapeString(shape)}: -1 is not allowed for a new leading dim`);
    if (have !== size && have !== 1) throw new Error(`${label}: cannot expand ${shapeString(x.shape)} to ${shapeString(shape)}: dim ${d} is ${have}, not 1`);
    out.push(size);
    strides.push(xd < 0 || (have === 1 && size !== 1) ? 0 : x.strides[xd]!);
  });
  if (out.length === x.shape.length && out.every((n, d) => n === x.shape[d])) return x;
  return view(x, { kind: 'expand', shape: out, strides, offset: x.offset });
}

/** torch.narrow: `length` elements of `dim` from `start`, as a view. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const label = x.graph.currentLabel;
  const d = normDim(dim, x.shape.length, label);
  const size = x.shape[d]!;
  const s = start < 0 ? start + size : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > size) {
    throw new Error(`${label}: narrow(dim ${dim}, start ${start}, length ${length}) is out of range for ${shapeString(x.shape)}`);
  }
  if (s === 0 && length === size) return x;
  const shape = [...x.shape];
  shape[d] = length;
  return view(x, { kind: 'narrow', dim: d, start: s, shape, strides: x.strides, offset: x.offset + s * x.strides[d]! });
}

/** torch.unsqueeze: a new dim of size 1 at `dim` (in [-rank-1, rank]). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim(dim, x.shape.length + 1, x.graph.currentLabel);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return restride(x, shape);
}

/** torch.squeeze: removes the given dims of size 1 (all of them when none are given). */
export function squeeze(x: Tensor, dims?: readonly number[]): Tensor {
  const label = x.graph.currentLabel;
  const drop = new Set(dims === undefined ? x.shape.flatMap((n, d) => (n === 1 ? [d] : [])) : dims.map((d) => normDim(d, x.shape.length, label)));
  const shape = x.shape.filter((n, d) => !(drop.has(d) && n === 1));
  return restride(x, shape);
}

/** torch.flatten: dims start..end merged into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.shape.length === 0) return reshape(x, [1]);
  const label = x.graph.currentLabel;
  const s = normDim(startDim, x.shape.length, label, 'startDim');
  const e = normDim(endDim, x.shape.length, label, 'endDim');
  if (s > e) throw new Error(`${label}: flatten: startDim ${startDim} comes after endDim ${endDim} for ${shapeString(x.shape)}`);
  return reshape(x, [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** A reshape that only adds or removes size-1 dims: a view even of a non-contiguous tensor. */
function restride(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length === x.shape.length) return x;
  if (x.isContiguous) return reshape(x, shape);
  const kept = x.shape.flatMap((n, d) => (n === 1 ? [] : [x.strides[d]!]));
  let k = 0;
  const strides = shape.map((n) => (n === 1 ? 0 : kept[k++]!));
  return view(x, { kind: 'reshape', shape, strides, offset: x.offset });
}

/** torch.cat along `dim`. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  const first = tensors[0];
  if (!first) throw new Error('cat: needs at least one tensor');
  const d = normDim(dim, first.shape.length, first.graph.currentLabel);
  if (tensors.length === 1) return first;
  return first.graph.apply(CAT, tensors, { dim: d })[0]!;
}

/** torch.split: pieces of `size` along `dim` (the last may be smaller), or of the given sizes. */
export function split(x: Tensor, sizes: number | readonly number[], dim = 0): Tensor[] {
  const label = x.graph.currentLabel;
  const d = normDim(dim, x.shape.length, label);
  const n = x.shape[d]!;
  let lengths: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes < 1) throw new Error(`${label}: split size must be a positive integer, got ${sizes}`);
    lengths = [];
    for (let s = 0; s < n; s += sizes) lengths.push(Math.min(sizes, n - s));
  } else {
    lengths = [...sizes];
    if (lengths.reduce((a, b) => a + b, 0) !== n) throw new Error(`${label}: split sizes [${lengths.join(', ')}] do not add up to dim ${dim} of ${shapeString(x.shape)}`);
  }
  let start = 0;
  return lengths.map((len) => {
    const piece = narrow(x, d, start, len);
    start += len;
    return piece;
  });
}

/** torch.chunk: `chunks` pieces of ceil(n / chunks) along `dim` (fewer when n is small). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  const label = x.graph.currentLabel;
  if (!Number.isInteger(chunks) || chunks < 1) throw new Error(`${label}: chunk count must be a positive integer, got ${chunks}`);
  const d = normDim(dim, x.shape.length, label);
  return split(x, Math.max(1, Math.ceil(x.shape[d]! / chunks)), d);
}

/** torch.unbind: the slices along `dim`, that dim removed. */
export function unbind(x: Tensor, dim = 0): Tensor[] {
  const d = normDim(dim, x.shape.length, x.graph.currentLabel);
  return split(x, 1, d).map((t) => squeeze(t, [d]));
}

/** Sums `x` down to `shape` (the inverse of broadcasting): the gradient of a broadcast operand. */
export function sumTo(x: Tensor, shape: readonly number[]): Tensor {
  if (x.shape.length === shape.length && x.shape.every((n, d) => n === shape[d])) return x;
  const lead = x.shape.length - shape.length;
  const dims: number[] = [];
  x.shape.forEach((n, d) => {
    if (d < lead || (shape[d - lead] === 1 && n !== 1)) dims.push(d);
  });
  const reduced = dims.length > 0 ? sum(x, dims, true) : x;
  return reshape(reduced, shape);
}
