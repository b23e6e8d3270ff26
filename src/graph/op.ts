import type { BufferView, Launch } from '../backend/kernel.js';
import { fillLaunch } from '../kernels/elementwise.js';
import type { DType, Graph, Node, Tensor } from './tensor.js';

export interface OutputSpec {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** For view ops (`aliases`): where the output's elements lie in the aliased storage. */
  readonly layout?: { readonly strides: readonly number[]; readonly offset: number };
}

/**
 * What lowering sees: the buffer view of every tensor, and dummies for bindings a kernel variant
 * ignores (`dummy` for read-only bindings, `dummyOut` for writable ones: WebGPU forbids binding
 * one buffer both ways in a dispatch).
 */
export interface LowerIO {
  view(t: Tensor): BufferView;
  readonly dummy: BufferView;
  readonly dummyOut: BufferView;
  /**
   * The backend runs kernels on a few CPU cores (`Backend.software`): reductions then choose few
   * invocations per workgroup, because every barrier switches between its groups of invocations.
   */
  readonly software: boolean;
}

/**
 * The gradient flowing into an op output: a tensor, `ONE` for the seed of a scalar loss
 * (d loss / d loss = 1, never materialised), or null when the output does not affect the loss.
 */
export type GradIn = Tensor | typeof ONE | null;
export const ONE = Symbol('one');

/**
 * An op: shape rule, backward rule and lowering to kernel launches. One entry per op; the
 * incoming gradients are always called `gradOut`.
 */
export interface OpDef<A = unknown> {
  readonly name: string;
  /** Validates inputs and returns the output shapes; throws an error naming `label` and shapes. */
  infer(inputs: readonly Tensor[], attrs: A, label: string): OutputSpec[];
  /**
   * Gradients of the inputs given the gradients of the outputs. `wants[i]` says whether input i
   * leads to a parameter; return null for the others (and where no gradient flows).
   */
  backward?(g: Graph, node: Node<A>, gradOut: readonly GradIn[], wants: readonly boolean[]): (Tensor | null)[];
  lower(node: Node<A>, io: LowerIO): Launch[];
  /** For ops whose output is a view of an input (reshape): the input index it aliases. */
  readonly aliases?: number;
  /**
   * The lowering reads inputs through their `strides` and `offset`, so views reach it uncopied.
   * Without it, `Graph.apply` hands the op dense inputs.
   */
  readonly acceptsViews?: boolean;
}

/** A constant tensor: `value` in every element (the seed of a loss computed by pointwise ops). */
export const FULL: OpDef<{ shape: readonly number[]; value: number }> = {
  name: 'full',
  infer: (_inputs, a) => [{ shape: a.shape, dtype: 'f32' }],
  lower(node, io) {
    const out = node.outputs[0]!;
    return [fillLaunch({ out: io.view(out) }, out.numel, node.attrs.value, node.label)];
  },
};

/**
 * The gradient flowing into output `index` of `node` as a tensor: the seed ONE (the output is the
 * loss itself, as in `loss1.add(loss2)`) becomes a tensor of ones. Reductions and losses handle
 * ONE themselves, without a dispatch.
 */
export function gradTensor(g: Graph, node: Node, gradOut: Tensor | typeof ONE, index = 0): Tensor {
  if (gradOut !== ONE) return gradOut;
  return g.apply(FULL, [], { shape: node.outputs[index]!.shape, value: 1 }, `${node.label}.seed`)[0]!;
}
