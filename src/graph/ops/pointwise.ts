import { binaryLaunch, type BinaryOp, toF32Launch, unaryLaunch, type UnaryOp, whereLaunch } from '../../kernels/map.js';
import { gradTensor, type OpDef } from '../op.js';
import { shapeString, type Tensor, type TensorLike, toTensor } from '../tensor.js';
import { operand, sumTo } from './shape.js';

/**
 * Pointwise arithmetic with numpy/torch broadcasting. Operands are read through their strides,
 * so transposed, expanded or narrowed views cost no copy. Each backward rule is written with the
 * same ops; the gradient of a broadcast operand is summed back to its shape.
 */

/** The broadcast of two shapes (numpy rules), or an error naming both. */
export function broadcastShapes(a: readonly number[], b: readonly number[], label: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`${label}: shapes ${shapeString(a)} and ${shapeString(b)} do not broadcast (dim ${i}: ${x} vs ${y})`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

interface UnaryAttrs {
  readonly op: UnaryOp;
  readonly value: number;
  readonly value2: number;
}

const NO_GRAD = new Set<UnaryOp>(['sign', 'between', 'gtScalar', 'ltScalar', 'geScalar', 'leScalar', 'eqScalar', 'neScalar']);

export const UNARY: OpDef<UnaryAttrs> = {
  name: 'unary',
  acceptsViews: true,
  infer([x], a, label) {
    if (x!.dtype !== 'f32') throw new Error(`${label}: ${a.op} needs a float tensor, got ${x!.dtype} ${shapeString(x!.shape)}`);
    return [{ shape: x!.shape, dtype: 'f32' }];
  },
  backward(g0, node, [gradOut], wants) {
    if (!wants[0] || !gradOut || NO_GRAD.has(node.attrs.op)) return [null];
    const g = gradTensor(g0, node, gradOut);
    const x = node.inputs[0]!;
    const y = node.outputs[0]!;
    const { op, value: s, value2: t } = node.attrs;
    switch (op) {
      case 'copy':
      case 'addScalar':
        return [g];
      case 'neg':
      case 'rsubScalar':
        return [neg(g)];
      case 'mulScalar':
        return [mulScalar(g, s)];
      case 'exp':
        return [mul(g, y)];
      case 'log':
        return [div(g, x)];
      case 'sqrt':
        return [div(mulScalar(g, 0.5), y)];
      case 'rsqrt':
        return [mul(g, mulScalar(unary(y, 'powScalar', 3), -0.5))];
      case 'abs':
        return [mul(g, unary(x, 'sign'))];
      case 'rdivScalar':
        return [mul(g, mulScalar(unary(x, 'powScalar', -2), -s))];
      case 'powScalar':
        return [mul(g, mulScalar(unary(x, 'powScalar', s - 1), s))];
      case 'rpowScalar':
        return [mul(g, mulScalar(y, Math.log(s)))];
      case 'clamp':
        return [mul(g, unary(x, 'between', s, t))];
      case 'silu':
        return [mul(g, unary(x, 'siluGrad'))];
      case 'softplus':
        return [mul(g, unary(x, 'softplusGrad', s, t))];
      case 'sin':
        return [mul(g, unary(x, 'cos'))];
      case 'cos':
        return [neg(mul(g, unary(x, 'sin')))];
      default:
        throw new Error(`${node.label}: no gradient for ${op}`);
    }
  },
  lower(node, io) {
    const { op, value, value2 } = node.attrs;
    return [unaryLaunch(op, operand(node.inputs[0]!, io), operand(node.outputs[0]!, io), value, value2, node.label)];
  },
};

const COMPARISONS = new Set<BinaryOp>(['gt', 'lt', 'ge', 'le', 'eq', 'ne']);

export const BINARY: OpDef<{ op: BinaryOp; value: number }> = {
  name: 'binary',
  acceptsViews: true,
  infer([a, b], attrs, label) {
    if (a!.dtype !== 'f32' || b!.dtype !== 'f32') {
      throw new Error(`${label}: ${attrs.op} needs float tensors, got ${a!.dtype} ${shapeString(a!.shape)} and ${b!.dtype} ${shapeString(b!.shape)}`);
    }
    return [{ shape: broadcastShapes(a!.shape, b!.shape, label), dtype: 'f32' }];
  },
  backward(g0, node, [gradOut], wants) {
    const { op, value } = node.attrs;
    if (!gradOut || COMPARISONS.has(op)) return [null, null];
    const g = gradTensor(g0, node, gradOut);
    const [a, b] = node.inputs as [Tensor, Tensor];
    const y = node.outputs[0]!;
    const to = (d: Tensor, t: Tensor): Tensor => sumTo(d, t.shape);
    const grads = ((): [(() => Tensor) | null, (() => Tensor) | null] => {
      switch (op) {
        case 'add':
          return [() => g, () => g];
        case 'sub':
          return [() => g, () => neg(g)];
        case 'mul':
          return [() => mul(g, b), () => mul(g, a)];
        case 'div':
          return [() => div(g, b), () => neg(div(mul(g, y), b))];
        case 'pow':
          return [() => mul(g, mul(b, pow(a, sub(b, 1)))), () => mul(g, mul(y, log(a)))];
        case 'maximum':
        case 'minimum': {
          const winA = () => add(binary(a, b, op === 'maximum' ? 'gt' : 'lt'), mulScalar(binary(a, b, 'eq'), 0.5));
          return [() => mul(g, winA()), () => mul(g, unary(winA(), 'rsubScalar', 1))];
        }
        case 'maskedFill':
          return [() => mul(g, unary(b, 'eqScalar', 0)), null];
        default:
          return [null, null];
      }
    })();
    return [wants[0] && grads[0] ? to(grads[0](), a) : null, wants[1] && grads[1] ? to(grads[1](), b) : null];
  },
  lower(node, io) {
    const [a, b] = node.inputs as [Tensor, Tensor];
    return [binaryLaunch(node.attrs.op, operand(a, io), operand(b, io), operand(node.outputs[0]!, io), node.attrs.value, node.label)];
  },
};

/** Integer tensor to float (no gradient). */
export const TO_FLOAT: OpDef<Record<string, never>> = {
  name: 'to_float',
  acceptsViews: true,
  infer([x]) {
    return [{ shape: x!.shape, dtype: 'f32' }];
  },
  lower(node, io) {
    return [toF32Launch(operand(node.inputs[0]!, io), operand(node.outputs[0]!, io), node.label)];
  },
};

/** `x` as a float tensor (`x.float()`): integer ids or labels become numbers. */
export function toFloat(x: Tensor): Tensor {
  return x.dtype === 'f32' ? x : x.graph.apply(TO_FLOAT, [x], {})[0]!;
}

export function unary(x: Tensor, op: UnaryOp, value = 0, value2 = 0): Tensor {
  return x.graph.apply(UNARY, [toFloat(x)], { op, value, value2 })[0]!;
}

export function binary(a: Tensor, b: Tensor, op: BinaryOp, value = 0): Tensor {
  return a.graph.apply(BINARY, [toFloat(a), toFloat(b)], { op, value })[0]!;
}

/** A tensor, a module's parameter or buffer (its tensor in the graph), or a number. */
export type Operand = TensorLike | number;

const lift = (g: Tensor, v: TensorLike): Tensor => toTensor(g.graph, v);

function checkNumber(v: number, what: string, x: Tensor): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${x.graph.currentLabel}: ${what} needs a tensor or a number, got ${String(v)}`);
  return v;
}

export function add(a: Tensor, b: Operand): Tensor {
  return typeof b === 'number' ? unary(a, 'addScalar', checkNumber(b, 'add', a)) : binary(a, lift(a, b), 'add');
}
export function sub(a: Tensor, b: Operand): Tensor {
  return typeof b === 'number' ? unary(a, 'addScalar', -checkNumber(b, 'sub', a)) : binary(a, lift(a, b), 'sub');
}
export function mul(a: Tensor, b: Operand): Tensor {
  return typeof b === 'number' ? mulScalar(a, checkNumber(b, 'mul', a)) : binary(a, lift(a, b), 'mul');
}
export function div(a: Tensor, b: Operand): Tensor {
  return typeof b === 'number' ? mulScalar(a, 1 / checkNumber(b, 'div', a)) : binary(a, lift(a, b), 'div');
}
export function pow(a: Tensor, b: Operand): Tensor {
  return typeof b === 'number' ? unary(a, 'powScalar', checkNumber(b, 'pow', a)) : binary(a, lift(a, b), 'pow');
}
export function mulScalar(a: Tensor, s: number): Tensor {
  return unary(a, 'mulScalar', s);
}
export function neg(x: Tensor): Tensor {
  return unary(x, 'neg');
}
export function exp(x: Tensor): Tensor {
  return unary(x, 'exp');
}
export function log(x: Tensor): Tensor {
  return unary(x, 'log');
}
export function sqrt(x: Tensor): Tensor {
  return unary(x, 'sqrt');
}
export function rsqrt(x: Tensor): Tensor {
  return unary(x, 'rsqrt');
}
export function abs(x: Tensor): Tensor {
  return unary(x, 'abs');
}
export function sign(x: Tensor): Tensor {
  return unary(x, 'sign');
}
export function sin(x: Tensor): Tensor {
  return unary(x, 'sin');
}
export function cos(x: Tensor): Tensor {
  return unary(x, 'cos');
}
/** torch.clamp: min and/or max (either may be omitted). */
export function clamp(x: Tensor, min = -Infinity, max = Infinity): Tensor {
  if (min > max) throw new Error(`${x.graph.currentLabel}: clamp(min ${min}, max ${max}): min exceeds max`);
  return unary(x, 'clamp', min, max);
}
export function maximum(a: Tensor, b: TensorLike): Tensor {
  return binary(a, lift(a, b), 'maximum');
}
export function minimum(a: Tensor, b: TensorLike): Tensor {
  return binary(a, lift(a, b), 'minimum');
}

const SCALAR_COMPARE = { gt: 'gtScalar', lt: 'ltScalar', ge: 'geScalar', le: 'leScalar', eq: 'eqScalar', ne: 'neScalar' } as const;
export type Comparison = keyof typeof SCALAR_COMPARE;

/** An elementwise comparison: 1 where it holds, 0 elsewhere (float; no gradient). */
export function compare(a: Tensor, b: Operand, op: Comparison): Tensor {
  return typeof b === 'number' ? unary(a, SCALAR_COMPARE[op], checkNumber(b, op, a)) : binary(a, lift(a, b), op);
}

/** torch.where: cond ? a : b, broadcasting all three; one of a, b may be a number. */
export function where(condition: TensorLike, x: Operand, y: Operand): Tensor {
  const anchor = [condition, x, y].find((v): v is Tensor => v instanceof Object && 'graph' in v);
  if (!anchor) throw new Error('where: needs at least one tensor operand');
  const cond = lift(anchor, condition);
  const a = typeof x === 'number' ? x : lift(anchor, x);
  const b = typeof y === 'number' ? y : lift(anchor, y);
  if (typeof a === 'number' && typeof b === 'number') {
    return add(mulScalar(compare(cond, 0, 'ne'), a - b), b);
  }
  if (typeof b === 'number') return binary(a as Tensor, compare(cond, 0, 'eq'), 'maskedFill', b);
  if (typeof a === 'number') return binary(b, compare(cond, 0, 'ne'), 'maskedFill', a);
  const label = cond.graph.currentLabel;
  broadcastShapes(broadcastShapes(cond.shape, a.shape, label), b.shape, label);
  return cond.graph.apply(WHERE, [toFloat(cond), toFloat(a), toFloat(b)], {})[0]!;
}

/** cond ? a : b with broadcasting; inputs [cond, a, b]. Unselected values never reach the result. */
export const WHERE: OpDef<Record<string, never>> = {
  name: 'where',
  acceptsViews: true,
  infer([c, a, b], _attrs, label) {
    return [{ shape: broadcastShapes(broadcastShapes(c!.shape, a!.shape, label), b!.shape, label), dtype: 'f32' }];
  },
  backward(g0, node, [gradOut], wants) {
    if (!gradOut) return [null, null, null];
    gradOut = gradTensor(g0, node, gradOut);
    const [c, a, b] = node.inputs as [Tensor, Tensor, Tensor];
    const take = compare(c, 0, 'ne');
    return [
      null,
      wants[1] ? sumTo(mul(gradOut, take), a.shape) : null,
      wants[2] ? sumTo(mul(gradOut, unary(take, 'rsubScalar', 1)), b.shape) : null,
    ];
  },
  lower(node, io) {
    const [c, a, b] = node.inputs as [Tensor, Tensor, Tensor];
    return [whereLaunch(operand(c, io), operand(a, io), operand(b, io), operand(node.outputs[0]!, io), node.label)];
  },
};

/** torch.Tensor.masked_fill: `value` where `mask` is non-zero. */
export function maskedFill(x: Tensor, mask: TensorLike, value: number): Tensor {
  return binary(x, lift(x, mask), 'maskedFill', value);
}

export function silu(x: Tensor): Tensor {
  return unary(x, 'silu');
}

/** torch.nn.functional.softplus(x, beta, threshold). */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return unary(x, 'softplus', beta, threshold);
}
