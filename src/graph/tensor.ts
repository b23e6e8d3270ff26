import { ModuleBuffer, Parameter } from './parameter.js';
import type { OpDef } from './op.js';
import * as act from './ops/activation.js';
import * as mm from './ops/matmul.js';
import * as pw from './ops/pointwise.js';
import type { Operand } from './ops/pointwise.js';
import * as red from './ops/reduce.js';
import * as sh from './ops/shape.js';
import { CONTIGUOUS } from './ops/shape.js';

export type DType = 'f32' | 'i32';

/** Row-major strides of a dense tensor of `shape`. */
export function denseStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return strides;
}

/**
 * A symbolic tensor: a shape and the node output that produces it. No data lives here.
 *
 * A tensor made by a view op (transpose, expand, narrow, ...) shares the storage of the tensor it
 * views: `strides` and `offset` (in elements) locate its elements in that storage. Ops that read
 * views declare `acceptsViews`; every other op receives dense tensors (row-major, offset 0), a
 * copy being inserted by `Graph.apply` where needed.
 */
export class Tensor {
  readonly strides: readonly number[];
  readonly offset: number;

  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly node: Node,
    readonly index: number,
    layout?: { readonly strides: readonly number[]; readonly offset: number },
  ) {
    this.strides = layout ? [...layout.strides] : denseStrides(shape);
    this.offset = layout?.offset ?? 0;
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Row-major strides (dimensions of size 1 may have any stride); the offset may be non-zero. */
  get isContiguous(): boolean {
    const dense = denseStrides(this.shape);
    return this.shape.every((n, d) => n === 1 || this.strides[d] === dense[d]);
  }

  /** Contiguous and at offset 0: what ops without `acceptsViews` receive. */
  get isDense(): boolean {
    return this.offset === 0 && this.isContiguous;
  }

  toString(): string {
    return `${this.node.label}[${this.shape.join(', ')}]`;
  }

  // Pointwise, with broadcasting; the operand may be a tensor or a number.
  add(other: Operand): Tensor {
    return pw.add(this, other);
  }
  sub(other: Operand): Tensor {
    return pw.sub(this, other);
  }
  mul(other: Operand): Tensor {
    return pw.mul(this, other);
  }
  div(other: Operand): Tensor {
    return pw.div(this, other);
  }
  pow(exponent: Operand): Tensor {
    return pw.pow(this, exponent);
  }
  neg(): Tensor {
    return pw.neg(this);
  }
  exp(): Tensor {
    return pw.exp(this);
  }
  log(): Tensor {
    return pw.log(this);
  }
  sqrt(): Tensor {
    return pw.sqrt(this);
  }
  rsqrt(): Tensor {
    return pw.rsqrt(this);
  }
  abs(): Tensor {
    return pw.abs(this);
  }
  sign(): Tensor {
    return pw.sign(this);
  }
  sin(): Tensor {
    return pw.sin(this);
  }
  cos(): Tensor {
    return pw.cos(this);
  }
  /** torch.clamp; either bound may be omitted (`clamp(undefined, 1)`). */
  clamp(min?: number, max?: number): Tensor {
    return pw.clamp(this, min ?? -Infinity, max ?? Infinity);
  }
  maximum(other: TensorLike): Tensor {
    return pw.maximum(this, other);
  }
  minimum(other: TensorLike): Tensor {
    return pw.minimum(this, other);
  }
  /** Comparisons give 1 where they hold and 0 elsewhere, as a float tensor (no gradient). */
  gt(other: Operand): Tensor {
    return pw.compare(this, other, 'gt');
  }
  lt(other: Operand): Tensor {
    return pw.compare(this, other, 'lt');
  }
  ge(other: Operand): Tensor {
    return pw.compare(this, other, 'ge');
  }
  le(other: Operand): Tensor {
    return pw.compare(this, other, 'le');
  }
  eq(other: Operand): Tensor {
    return pw.compare(this, other, 'eq');
  }
  ne(other: Operand): Tensor {
    return pw.compare(this, other, 'ne');
  }
  /** torch.Tensor.where: this where `condition` is non-zero, else `other`. */
  where(condition: TensorLike, other: Operand): Tensor {
    return pw.where(condition, this, other);
  }
  /** `value` where `mask` is non-zero. */
  maskedFill(mask: TensorLike, value: number): Tensor {
    return pw.maskedFill(this, mask, value);
  }
  /** An integer tensor (ids, labels) as floats. */
  float(): Tensor {
    return pw.toFloat(this);
  }

  // Activations.
  relu(): Tensor {
    return act.activation(this, 'relu');
  }
  leakyRelu(negativeSlope = 0.01): Tensor {
    return act.activation(this, 'leaky_relu', negativeSlope);
  }
  sigmoid(): Tensor {
    return act.activation(this, 'sigmoid');
  }
  tanh(): Tensor {
    return act.activation(this, 'tanh');
  }
  gelu(): Tensor {
    return act.activation(this, 'gelu');
  }
  silu(): Tensor {
    return pw.silu(this);
  }
  softplus(beta = 1, threshold = 20): Tensor {
    return pw.softplus(this, beta, threshold);
  }

  // Products.
  /** torch.matmul: vectors, matrices and broadcast batches of them. */
  matmul(other: TensorLike): Tensor {
    return mm.matmul(this, toTensor(this.graph, other));
  }
  /** The transpose of a matrix (rank ≤ 2), as torch.Tensor.t. */
  t(): Tensor {
    if (this.shape.length > 2) throw new Error(`${this.graph.currentLabel}: t() expects a tensor of rank <= 2, got ${shapeString(this.shape)}; use transpose(-2, -1)`);
    return this.shape.length < 2 ? this : sh.transpose(this, 0, 1);
  }

  // Reductions; `dim` is one dim, a list, or undefined for all dims.
  sum(dim?: number | readonly number[], keepdim = false): Tensor {
    return red.sum(this, dim, keepdim);
  }
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return red.mean(this, dim, keepdim);
  }
  /** The largest values over `dim` (torch.amax: ties share the gradient). */
  max(dim?: number | readonly number[], keepdim = false): Tensor {
    return red.max(this, dim, keepdim);
  }
  min(dim?: number | readonly number[], keepdim = false): Tensor {
    return red.min(this, dim, keepdim);
  }
  /** torch.var (unbiased by default: divides by N - 1). */
  var(dim?: number | readonly number[], { unbiased = true, keepdim = false } = {}): Tensor {
    return red.variance(this, dim, { unbiased, keepdim });
  }
  /** Indices (int32) of the largest values along `dim`, or over all elements. */
  argmax(dim?: number, keepdim = false): Tensor {
    return red.argmax(this, dim, keepdim);
  }
  softmax(dim: number): Tensor {
    return red.softmax(this, dim);
  }
  logSoftmax(dim: number): Tensor {
    return red.logSoftmax(this, dim);
  }

  // Shape; dims may be given as separate arguments or as one array.
  /** torch.reshape: a view when the layout allows, else a copy; one size may be -1. */
  reshape(...shape: (number | readonly number[])[]): Tensor {
    return sh.reshape(this, sh.dimList(shape));
  }
  /** torch.Tensor.view: as reshape, but an error when it would need a copy. */
  view(...shape: (number | readonly number[])[]): Tensor {
    if (!this.isContiguous) {
      throw new Error(`${this.graph.currentLabel}: view of a non-contiguous ${shapeString(this.shape)} tensor; use reshape (which copies) or contiguous()`);
    }
    return sh.reshape(this, sh.dimList(shape));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return sh.transpose(this, dim0, dim1);
  }
  permute(...dims: (number | readonly number[])[]): Tensor {
    return sh.permute(this, sh.dimList(dims));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return sh.flatten(this, startDim, endDim);
  }
  unsqueeze(dim: number): Tensor {
    return sh.unsqueeze(this, dim);
  }
  /** Removes size-1 dims: the given ones, or all. */
  squeeze(...dims: (number | readonly number[])[]): Tensor {
    return sh.squeeze(this, dims.length === 0 ? undefined : sh.dimList(dims));
  }
  /** Repeats size-1 dims without copying; -1 keeps a size. */
  expand(...sizes: (number | readonly number[])[]): Tensor {
    return sh.expand(this, sh.dimList(sizes));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return sh.narrow(this, dim, start, length);
  }
  /** Elements start..end (exclusive; negative counts from the end) of `dim`: x[..., start:end] in Python. */
  slice(dim: number, start = 0, end?: number): Tensor {
    const d = sh.normDim(dim, this.shape.length, this.graph.currentLabel);
    const n = this.shape[d]!;
    const clampIndex = (i: number) => Math.min(n, Math.max(0, i < 0 ? i + n : i));
    const s = clampIndex(start);
    return sh.narrow(this, d, s, Math.max(0, clampIndex(end ?? n) - s));
  }
  split(sizes: number | readonly number[], dim = 0): Tensor[] {
    return sh.split(this, sizes, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return sh.chunk(this, chunks, dim);
  }
  unbind(dim = 0): Tensor[] {
    return sh.unbind(this, dim);
  }
  /** A dense copy (or this tensor, when already dense). */
  contiguous(): Tensor {
    return sh.contiguous(this);
  }
}

/** One application of an op. Inputs and parameters are nodes too, with no launches. */
export interface Node<A = unknown> {
  readonly id: number;
  readonly op: OpDef<A>;
  /** Rewritten only by graph passes (fusion), before autodiff and compilation. */
  inputs: readonly Tensor[];
  attrs: A;
  readonly outputs: Tensor[];
  /** Names the module (or role) that created the node, for errors and profiles. */
  label: string;
}

/** Name of the graph input that carries the per-step scalars. */
export const STEP_INFO = 'step_info';

export const INPUT: OpDef<{ name: string }> = {
  name: 'input',
  infer: () => [],
  lower: () => [],
};

export const PARAM: OpDef<{ param: Parameter }> = {
  name: 'param',
  infer: () => [],
  lower: () => [],
};

export const BUFFER: OpDef<{ buffer: ModuleBuffer }> = {
  name: 'buffer',
  infer: () => [],
  lower: () => [],
};


/**
 * A graph under construction. Modules call `apply` (through the op helpers) while tracing the
 * forward pass; autodiff appends the backward nodes to the same graph.
 */
export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs = new Map<string, Tensor>();
  readonly params = new Map<Parameter, Tensor>();
  /** Module buffers (running statistics), bound by the trainer apart from the parameters. */
  readonly buffers = new Map<ModuleBuffer, Tensor>();
  /**
   * Tensors computed for their side effect on a buffer (BatchNorm's running statistics updated
   * in place): the compiler keeps them, and what they need, even though no output reads them.
   */
  readonly effects: Tensor[] = [];
  /**
   * The output of each module's forward by module path ('0', 'blocks.1.fc'; not the root),
   * recorded while tracing, in the order the forwards first returned; a module called twice
   * keeps its last output. The compiler ignores it; layer statistics measure these tensors.
   */
  readonly moduleOutputs = new Map<string, Tensor>();
  /** True while tracing for training (dropout active), false for evaluation. */
  training = true;
  private nextId = 0;
  private streams = 0;
  private readonly labels: string[] = [];

  /** Prefix node labels with a module path while `body` runs. */
  scope<T>(label: string, body: () => T): T {
    this.labels.push(label);
    try {
      return body();
    } finally {
      this.labels.pop();
    }
  }

  /** Runs `body` with the labels replaced by `path` (a module's full path), then restores them. */
  scopeAt<T>(path: string, body: () => T): T {
    const saved = this.labels.splice(0);
    this.labels.push(path);
    try {
      return body();
    } finally {
      this.labels.splice(0, this.labels.length, ...saved);
    }
  }

  get currentLabel(): string {
    return this.labels.filter(Boolean).join('.') || 'graph';
  }

  input(name: string, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    if (this.inputs.has(name)) throw new Error(`graph input '${name}' is defined twice`);
    const t = this.leaf(INPUT, { name }, shape, dtype, name);
    this.inputs.set(name, t);
    return t;
  }

  /**
   * The per-step scalars `[seed, step, 0, 0]` (int32), written by the trainer before each step.
   * Counter-based random kernels (dropout) derive their bits from them, so masks are a pure
   * function of (seed, step, stream, element) and backward regenerates instead of storing them.
   */
  stepInfo(): Tensor {
    return this.inputs.get(STEP_INFO) ?? this.input(STEP_INFO, [4], 'i32');
  }

  /** A fresh id for one random stream (one dropout layer), stable for a given model. */
  randomStream(): number {
    return this.streams++;
  }

  param(p: Parameter): Tensor {
    let t = this.params.get(p);
    if (!t) {
      t = this.leaf(PARAM, { param: p }, p.shape, 'f32', p.name || 'param');
      this.params.set(p, t);
    }
    return t;
  }

  /** The tensor of a module buffer (not trained; kernels may update it in place). */
  buffer(b: ModuleBuffer): Tensor {
    let t = this.buffers.get(b);
    if (!t) {
      t = this.leaf(BUFFER, { buffer: b }, b.shape, 'f32', b.name || 'buffer');
      this.buffers.set(b, t);
    }
    return t;
  }

  /** Marks `t` as computed for its side effect, so that compilation keeps it. */
  effect(t: Tensor): void {
    this.effects.push(t);
  }

  private leaf<A>(op: OpDef<A>, attrs: A, shape: readonly number[], dtype: DType, label: string): Tensor {
    const node: Node<A> = { id: this.nextId++, op, inputs: [], attrs, outputs: [], label };
    const t = new Tensor(this, this.nextId++, [...shape], dtype, node as Node, 0);
    node.outputs.push(t);
    this.nodes.push(node as Node);
    return t;
  }

  /** Adds a node; `op.infer` validates the inputs and gives the output shapes. */
  apply<A>(op: OpDef<A>, given: readonly Tensor[], attrs: A, label = this.currentLabel): Tensor[] {
    for (const t of given) {
      if (t.graph !== this) throw new Error(`${label}: input ${t} belongs to another graph`);
    }
    const inputs = op.acceptsViews || given.every((t) => t.isDense) ? given : given.map((t) => (t.isDense ? t : this.dense(t, label)));
    const specs = op.infer(inputs, attrs, label);
    const node: Node<A> = { id: this.nextId++, op, inputs, attrs, outputs: [], label };
    specs.forEach((s, i) => node.outputs.push(new Tensor(this, this.nextId++, [...s.shape], s.dtype, node as Node, i, s.layout)));
    this.nodes.push(node as Node);
    return node.outputs;
  }

  private dense(t: Tensor, label: string): Tensor {
    return this.apply(CONTIGUOUS, [t], {}, label)[0]!;
  }
}

/** Tensors, or parameters and buffers of a module, which stand for their tensor in `g`. */
export type TensorLike = Tensor | Parameter;

/** The tensor of `v` in graph `g`: a parameter or module buffer becomes its graph tensor. */
export function toTensor(g: Graph, v: TensorLike): Tensor {
  if (v instanceof ModuleBuffer) return g.buffer(v);
  if (v instanceof Parameter) return g.param(v);
  if (!(v instanceof Tensor)) throw new Error(`${g.currentLabel}: expected a tensor or a parameter, got ${String(v)}`);
  return v;
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
