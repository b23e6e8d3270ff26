import { ADD } from './ops/arith.js';
import { CONTIGUOUS } from './ops/shape.js';
import { type GradIn, ONE } from './op.js';
import type { Graph, Tensor } from './tensor.js';

/**
 * Reverse-mode differentiation: appends to `g` the nodes that compute d loss / d t for every
 * tensor of `wrt`, walking the forward nodes backwards and summing the gradients of tensors used
 * more than once. Returns the gradient tensor of each `wrt` entry (null when the loss does not
 * depend on it).
 */
export function gradients(g: Graph, loss: Tensor, wrt: readonly Tensor[]): (Tensor | null)[] {
  if (loss.numel !== 1) throw new Error(`the loss must be a scalar, got ${loss}`);
  const forward = g.nodes.slice();
  const targets = new Set(wrt);
  const leadsToTarget = new Set<Tensor>();
  for (const node of forward) {
    for (const out of node.outputs) {
      if (targets.has(out) || node.inputs.some((i) => leadsToTarget.has(i))) leadsToTarget.add(out);
    }
  }

  const grads = new Map<Tensor, GradIn>([[loss, ONE]]);
  const accumulate = (t: Tensor, gradOut: Tensor): void => {
    const prior = grads.get(t);
    if (prior === undefined || prior === null) grads.set(t, gradOut);
    else if (prior === ONE) throw new Error(`${t}: the loss is used inside the graph`);
    else grads.set(t, g.apply(ADD, [prior, gradOut], {}, `${t.node.label}.grad_sum`)[0]!);
  };

  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i]!;
    const gradOut = node.outputs.map((o) => grads.get(o) ?? null);
    if (gradOut.every((x) => x === null)) continue;
    const wants = node.inputs.map((t) => leadsToTarget.has(t));
    if (!wants.some(Boolean)) continue;
    if (!node.op.backward) throw new Error(`${node.label}: op '${node.op.name}' has no gradient`);
    const inputGrads = node.op.backward(g, node, gradOut, wants);
    node.inputs.forEach((t, k) => {
      const d = inputGrads[k];
      if (wants[k] && d) accumulate(t, d);
    });
  }
  // Each gradient gets storage of its own, which the caller may bind (the trainer's flat gradient
  // buffer): a view, a leaf or a tensor already returned for another target is copied.
  const given = new Set<Tensor>();
  return wrt.map((t) => {
    let d = grads.get(t);
    if (d === undefined || d === null || d === ONE) return null;
    const op = d.node.op;
    if (op.aliases !== undefined || d.node.inputs.length === 0 || given.has(d)) d = g.apply(CONTIGUOUS, [d], {}, `${t.node.label}.grad`)[0]!;
    given.add(d);
    return d;
  });
}
