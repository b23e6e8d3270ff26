import { gradFromOutput } from '../kernels/activations.js';
import { ACTIVATION, type ActivationAttrs } from './ops/activation.js';
import { CONV2D, type Conv2dAttrs } from './ops/conv.js';
import { LINEAR, type LinearAttrs } from './ops/linear.js';
import type { Graph, Node, Tensor } from './tensor.js';

/** Ops with an activation epilogue (and the matching gated backward): matmul and convolution. */
const EPILOGUE_OPS = new Set<unknown>([LINEAR, CONV2D]);

/**
 * Folds an activation into the linear or convolution layer that feeds it (the epilogue), when the
 * linear output has no other consumer and the activation's derivative follows from its output.
 * Runs on the forward graph, before autodiff, so backward is built from the fused node. Returns
 * the map from each removed activation output to the tensor that now holds its value.
 */
export function fuseActivations(g: Graph, keep: ReadonlySet<Tensor> = new Set()): (t: Tensor) => Tensor {
  const consumers = new Map<Tensor, Node[]>();
  for (const node of g.nodes) {
    for (const t of node.inputs) consumers.set(t, [...(consumers.get(t) ?? []), node]);
  }
  const replaced = new Map<Tensor, Tensor>();
  const removed = new Set<Node>();
  for (const node of g.nodes) {
    if (node.op !== ACTIVATION) continue;
    const act = node as Node<ActivationAttrs>;
    const x = act.inputs[0]!;
    const producer = x.node as Node<LinearAttrs | Conv2dAttrs>;
    if (!EPILOGUE_OPS.has(producer.op) || producer.attrs.act !== 'identity') continue;
    if (!gradFromOutput(act.attrs.act) || keep.has(x) || consumers.get(x)?.length !== 1) continue;
    producer.attrs = { ...producer.attrs, act: act.attrs.act, alpha: act.attrs.alpha };
    producer.label = `${producer.label}+${act.attrs.act}`;
    replaced.set(act.outputs[0]!, x);
    removed.add(node);
  }
  const resolve = (t: Tensor): Tensor => replaced.get(t) ?? t;
  if (removed.size === 0) return resolve;
  const kept = g.nodes.filter((n) => !removed.has(n));
  g.nodes.length = 0;
  for (const node of kept) {
    node.inputs = node.inputs.map(resolve);
    g.nodes.push(node);
  }
  return resolve;
}
