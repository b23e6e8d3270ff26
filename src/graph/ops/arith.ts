import { addLaunch } from '../../kernels/elementwise.js';
import { gradTensor, ONE, type OpDef } from '../op.js';
import { shapeString, type Tensor } from '../tensor.js';

/** a + b, same shapes (residual connections, gradient accumulation). */
export const ADD: OpDef<Record<string, never>> = {
  name: 'add',
  infer([a, b], _attrs, label) {
    if (a!.shape.join() !== b!.shape.join()) {
      throw new Error(`${label}: cannot add ${shapeString(a!.shape)} and ${shapeString(b!.shape)}: shapes differ`);
    }
    return [{ shape: a!.shape, dtype: 'f32' }];
  },
  backward(g, node, [gradOut], wants) {
    if (!gradOut) return [null, null];
    const d = gradTensor(g, node, gradOut);
    return wants.map((w) => (w ? d : null));
  },
  lower(node, io) {
    const [a, b] = node.inputs as [Tensor, Tensor];
    return [addLaunch({ a: io.view(a), b: io.view(b), out: io.view(node.outputs[0]!) }, a.numel, node.label)];
  },
};

/** Same values, new shape: a view, no launch (nn.Flatten). */
export const RESHAPE: OpDef<{ shape: readonly number[] }> = {
  name: 'reshape',
  aliases: 0,
  infer([x], attrs, label) {
    const n = attrs.shape.reduce((p, q) => p * q, 1);
    if (n !== x!.numel) throw new Error(`${label}: cannot reshape ${shapeString(x!.shape)} to ${shapeString(attrs.shape)}`);
    return [{ shape: attrs.shape, dtype: x!.dtype }];
  },
  backward(g, node, [gradOut], wants) {
    if (!wants[0] || !gradOut || gradOut === ONE) return [null];
    return [g.apply(RESHAPE, [gradOut], { shape: node.inputs[0]!.shape }, `${node.label}.grad`)[0]!];
  },
  lower: () => [],
};

export function add(a: Tensor, b: Tensor): Tensor {
  return a.graph.apply(ADD, [a, b], {})[0]!;
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return x.graph.apply(RESHAPE, [x], { shape })[0]!;
}
