import { dropoutLaunch } from '../../kernels/dropout.js';
import { ONE, type OpDef } from '../op.js';
import { shapeString, type Tensor } from '../tensor.js';

export interface DropoutAttrs {
  /** Probability of zeroing an element, in [0, 1]. */
  readonly p: number;
  /** The random stream (Graph.randomStream()): one per dropout layer. */
  readonly stream: number;
}

/**
 * y = x ⊙ m / (1 - p), m ~ Bernoulli(1 - p) drawn from (seed, step, stream, element); inputs
 * [x, stepInfo]. The gradient is the same op on gradOut: for a fixed mask dropout is diagonal and
 * linear, so backward regenerates the mask from the same counters instead of keeping it.
 */
export const DROPOUT: OpDef<DropoutAttrs> = {
  name: 'dropout',
  infer([x, info], _attrs, label) {
    if (x!.dtype !== 'f32') throw new Error(`${label}: dropout needs an f32 input, got ${x!.dtype} ${x}`);
    if (!info || info.dtype !== 'i32' || info.shape.join() !== '4') {
      throw new Error(`${label}: dropout's second input must be the i32 [4] step info, got ${info ? `${info.dtype} ${shapeString(info.shape)}` : 'none'}`);
    }
    return [{ shape: x!.shape, dtype: 'f32' }];
  },
  backward(g, node, [gradOut], wants) {
    if (!wants[0] || !gradOut) return [null, null];
    if (gradOut === ONE) throw new Error(`${node.label}: a dropout output cannot be the loss`);
    return [g.apply(DROPOUT, [gradOut, node.inputs[1]!], node.attrs, `${node.label}.grad`)[0]!, null];
  },
  lower(node, io) {
    const [x, info] = node.inputs as [Tensor, Tensor];
    const { p, stream } = node.attrs;
    return [dropoutLaunch({ step_info: io.view(info), input: io.view(x), output: io.view(node.outputs[0]!) }, x.numel, p, stream, node.label)];
  },
};

/** Dropout of `x` with probability `p` on a fresh random stream of its graph. */
export function dropout(x: Tensor, p: number, stream = x.graph.randomStream()): Tensor {
  return x.graph.apply(DROPOUT, [x, x.graph.stepInfo()], { p, stream })[0]!;
}
