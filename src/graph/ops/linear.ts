import { type Activation, gradFromOutput } from '../../kernels/activations.js';
import { matmulLaunch } from '../../kernels/matmul.js';
import { ONE, type OpDef } from '../op.js';
import { shapeString, type Tensor } from '../tensor.js';
import { reshape } from './shape.js';

export interface LinearAttrs {
  readonly act: Activation;
  readonly alpha: number;
  readonly hasBias: boolean;
}

/**
 * y = act(x · Wᵀ + b) with x [batch, in], W [out, in] (torch layout), b [out]: one matmul with a
 * bias and activation epilogue. Only activations whose derivative follows from y are fused, so
 * backward needs y alone.
 */
export const LINEAR: OpDef<LinearAttrs> = {
  name: 'linear',
  infer([x, w, b], attrs, label) {
    if (!gradFromOutput(attrs.act)) throw new Error(`${label}: '${attrs.act}' cannot be fused into linear`);
    if (x!.shape.length !== 2) throw new Error(`${label}: Linear expects input [batch, features], got ${shapeString(x!.shape)}`);
    const [out, inF] = w!.shape as [number, number];
    if (x!.shape[1] !== inF) {
      throw new Error(`${label}: Linear(${inF}, ${out}) got input ${shapeString(x!.shape)}: expected ${inF} features, got ${x!.shape[1]}`);
    }
    if (attrs.hasBias && (b === undefined || b.shape.length !== 1 || b.shape[0] !== out)) {
      throw new Error(`${label}: bias must be [${out}]`);
    }
    return [{ shape: [x!.shape[0]!, out], dtype: 'f32' }];
  },
  backward(g, node, [gradOut], wants) {
    if (gradOut === null || gradOut === undefined) return node.inputs.map(() => null);
    if (gradOut === ONE) throw new Error(`${node.label}: a linear output cannot be the loss`);
    const [x, w] = node.inputs as [Tensor, Tensor];
    const { act, alpha, hasBias } = node.attrs;
    const gated = act !== 'identity';
    const y = node.outputs[0]!;
    const grads: (Tensor | null)[] = [null, null, null];
    if (wants[0]) {
      const inputs = gated ? [gradOut, w, y] : [gradOut, w];
      grads[0] = g.apply(LINEAR_GRAD_INPUT, inputs, { act, alpha }, `${node.label}.grad_input`)[0]!;
    }
    if (wants[1] || (hasBias && wants[2])) {
      const inputs = gated ? [gradOut, x, y] : [gradOut, x];
      const [dw, db] = g.apply(LINEAR_GRAD_WEIGHT, inputs, { act, alpha, hasBias }, `${node.label}.grad_weight`);
      grads[1] = dw!;
      grads[2] = hasBias ? db! : null;
    }
    return grads.slice(0, node.inputs.length);
  },
  lower(node, io) {
    const [x, w, b] = node.inputs as [Tensor, Tensor, Tensor | undefined];
    const y = node.outputs[0]!;
    return [
      matmulLaunch(
        { m: x.shape[0]!, n: w.shape[0]!, k: w.shape[1]!, transB: true, act: node.attrs.act, alpha: node.attrs.alpha, hasBias: node.attrs.hasBias },
        { a: io.view(x), b: io.view(w), c: io.view(y), bias: b ? io.view(b) : undefined, biasOut: io.dummyOut },
        io.dummy,
        node.label,
      ),
    ];
  },
};

/** dx = (dy ⊙ act'(y)) · W: the activation backward folded into the matmul's operand load. */
export const LINEAR_GRAD_INPUT: OpDef<{ act: Activation; alpha: number }> = {
  name: 'linear_grad_input',
  infer([dy, w]) {
    return [{ shape: [dy!.shape[0]!, w!.shape[1]!], dtype: 'f32' }];
  },
  lower(node, io) {
    const [dy, w, y] = node.inputs as [Tensor, Tensor, Tensor | undefined];
    const gated = node.attrs.act !== 'identity';
    return [
      matmulLaunch(
        { m: dy.shape[0]!, n: w.shape[1]!, k: w.shape[0]!, gate: gated ? node.attrs.act : null, alpha: node.attrs.alpha },
        { a: io.view(dy), b: io.view(w), c: io.view(node.outputs[0]!), gate: y ? io.view(y) : undefined, biasOut: io.dummyOut },
        io.dummy,
        node.label,
      ),
    ];
  },
};

/** dW = (dy ⊙ act'(y))ᵀ · x and db = column sums of the same, in one dispatch. */
export const LINEAR_GRAD_WEIGHT: OpDef<{ act: Activation; alpha: number; hasBias: boolean }> = {
  name: 'linear_grad_weight',
  infer([dy, x], attrs) {
    const out = dy!.shape[1]!;
    return [
      { shape: [out, x!.shape[1]!], dtype: 'f32' },
      { shape: [attrs.hasBias ? out : 1], dtype: 'f32' },
    ];
  },
  lower(node, io) {
    const [dy, x, y] = node.inputs as [Tensor, Tensor, Tensor | undefined];
    const gated = node.attrs.act !== 'identity';
    const [dw, db] = node.outputs as [Tensor, Tensor];
    return [
      matmulLaunch(
        {
          m: dy.shape[1]!,
          n: x.shape[1]!,
          k: dy.shape[0]!,
          transA: true,
          gate: gated ? node.attrs.act : null,
          alpha: node.attrs.alpha,
          onesCol: node.attrs.hasBias,
        },
        { a: io.view(dy), b: io.view(x), c: io.view(dw), gate: y ? io.view(y) : undefined, biasOut: node.attrs.hasBias ? io.view(db) : io.dummyOut },
        io.dummy,
        node.label,
      ),
    ];
  },
};

export function linear(x: Tensor, w: Tensor, b: Tensor | null, act: Activation = 'identity', alpha = 0.01): Tensor {
  const inputs = b ? [x, w, b] : [x, w];
  return x.graph.apply(LINEAR, inputs, { act, alpha, hasBias: b !== null })[0]!;
}

/**
 * torch.nn.functional.linear: x [..., in] · Wᵀ + b for any number of leading dims, which are
 * folded into the rows of one matmul (a view when x is contiguous).
 */
export function linearAnyRank(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const label = x.graph.currentLabel;
  const inF = w.shape[1]!;
  if (x.shape.length === 0 || x.shape[x.shape.length - 1] !== inF) {
    throw new Error(`${label}: Linear(${inF}, ${w.shape[0]}) got input ${shapeString(x.shape)}: expected ${inF} features, got ${x.shape[x.shape.length - 1] ?? 'a scalar'}`);
  }
  if (x.shape.length === 2) return linear(x, w, b);
  const lead = x.shape.slice(0, -1);
  const rows = lead.reduce((p, q) => p * q, 1);
  const y = linear(reshape(x, [rows, inF]), w, b);
  return reshape(y, [...lead, w.shape[0]!]);
}
