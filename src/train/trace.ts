import { gradients } from '../graph/autodiff.js';
import { fuseActivations } from '../graph/fuse.js';
import { contiguous } from '../graph/ops/shape.js';
import { targetShape } from './batch.js';
import { Graph, type Tensor } from '../graph/tensor.js';
import type { Loss } from '../nn/loss.js';
import { type Module, withModuleScopes } from '../nn/module.js';
import type { Parameter } from '../graph/parameter.js';

export interface Traced {
  readonly graph: Graph;
  readonly x: Tensor;
  readonly output: Tensor;
  /** Present when a loss was applied. */
  readonly y: Tensor | null;
  readonly loss: Tensor | null;
  readonly correct: Tensor | null;
  /** Gradient tensor per entry of `wrt` (null when the loss does not depend on it). */
  readonly grads: (Tensor | null)[];
}

export interface TraceOptions {
  readonly batch: number;
  readonly inputShape: readonly number[];
  /** The input's element type: 'i32' for token ids (default 'f32'). */
  readonly inputDtype?: 'f32' | 'i32';
  readonly training: boolean;
  readonly loss?: Loss;
  /** Parameters to differentiate the loss with respect to (training only). */
  readonly wrt?: readonly Parameter[];
}

/**
 * Traces `model` on a symbolic batch, applies the loss, fuses activations into the layers before
 * them and, for training, appends the backward graph. The model's mode is restored afterwards.
 * `graph.moduleOutputs` holds each module's output after fusion; a Linear or Conv2d whose
 * activation was fused into it is left out (its pre-activation values are never stored).
 */
export function trace(model: Module, opts: TraceOptions): Traced {
  const g = new Graph();
  g.training = opts.training;
  const wasTraining = model.training;
  model.train(opts.training);
  try {
    const x = g.input('x', [opts.batch, ...opts.inputShape], opts.inputDtype ?? 'f32');
    let output = contiguous(withModuleScopes(model, () => model.forward(x)));
    let y: Tensor | null = null;
    let loss: Tensor | null = null;
    let correct: Tensor | null = null;
    if (opts.loss) {
      y = g.input('y', targetShape(opts.loss, output.shape), opts.loss.targets === 'class' ? 'i32' : 'f32');
      ({ loss, correct } = opts.loss.apply(output, y));
    }
    const producers = new Map([...g.moduleOutputs.values()].map((t) => [t, t.node.attrs]));
    const fused = fuseActivations(g);
    output = fused(output);
    for (const [path, t] of g.moduleOutputs) {
      // A layer whose activation was fused into it now computes the activation's value: its own
      // output no longer exists, and the activation's output resolves to its tensor.
      if (fused(t) === t && t.node.attrs !== producers.get(t)) g.moduleOutputs.delete(path);
      else g.moduleOutputs.set(path, fused(t));
    }
    const wrt = opts.wrt ?? [];
    const grads = wrt.length > 0 && loss ? gradients(g, loss, wrt.map((p) => g.param(p))) : [];
    return { graph: g, x, output, y, loss, correct, grads };
  } finally {
    model.train(wasTraining);
  }
}
