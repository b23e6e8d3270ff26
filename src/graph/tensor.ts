import type { ModuleBuffer, Parameter } from './parameter.js';
import type { OpDef } from './op.js';

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
 * Makes a dense copy of a view; set by `ops/view.ts` (kept as a hook so that this module does not
 * import the op modules, which import it).
 */
export const densify: { copy: ((t: Tensor) => Tensor) | null } = { copy: null };

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
    if (!densify.copy) throw new Error(`${label}: ${t} is a view, and no copy op is registered`);
    return this.scope('', () => densify.copy!(t));
  }
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
