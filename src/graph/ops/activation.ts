import { type Activation, gradFromOutput } from '../../kernels/activations.js';
import { actBackwardLaunch, actForwardLaunch } from '../../kernels/unary.js';
import { ONE, type OpDef } from '../op.js';
import type { Tensor } from '../tensor.js';

export interface ActivationAttrs {
  readonly act: Activation;
  readonly alpha: number;
}

/** y = act(x), elementwise. */
export const ACTIVATION: OpDef<ActivationAttrs> = {
  name: 'activation',
  infer([x]) {
    return [{ shape: x!.shape, dtype: 'f32' }];
  },
  backward(g, node, [gradOut], wants) {
    if (!wants[0] || !gradOut) return [null];
    if (gradOut === ONE) throw new Error(`${node.label}: an activation output cannot be the loss`);
    const through = gradFromOutput(node.attrs.act) ? node.outputs[0]! : node.inputs[0]!;
    return [g.apply(ACTIVATION_GRAD, [gradOut, through], node.attrs, `${node.label}.grad`)[0]!];
  },
  lower(node, io) {
    const [x] = node.inputs as [Tensor];
    return [actForwardLaunch({ input: io.view(x), output: io.view(node.outputs[0]!) }, x.numel, node.attrs.act, node.attrs.alpha, node.label)];
  },
};

/** dx = dy ⊙ act'(v), v being y (or x for gelu). */
export const ACTIVATION_GRAD: OpDef<ActivationAttrs> = {
  name: 'activation_grad',
  infer([dy]) {
    return [{ shape: dy!.shape, dtype: 'f32' }];
  },
  lower(node, io) {
    const [dy, v] = node.inputs as [Tensor, Tensor];
    return [
      actBackwardLaunch({ dy: io.view(dy), v: io.view(v), dx: io.view(node.outputs[0]!) }, dy.numel, node.attrs.act, node.attrs.alpha, node.label),
    ];
  },
};

export function activation(x: Tensor, act: Activation, alpha = 0.01): Tensor {
  return x.graph.apply(ACTIVATION, [x], { act, alpha })[0]!;
}
