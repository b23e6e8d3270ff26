import { matmulLaunch } from '../../kernels/matmul.js';
import { gradTensor, type OpDef } from '../op.js';
import { numel, shapeString, type Tensor } from '../tensor.js';
import { broadcastShapes } from './pointwise.js';
import { contiguous, expand, reshape, sumTo, transpose } from './shape.js';

/**
 * How the matmul kernel reads one operand in place: a matrix stored row-major or transposed, and
 * a batch of them at a fixed element stride (0 when broadcast over the batch).
 */
interface MatrixLayout {
  readonly transposed: boolean;
  readonly batchStride: number;
}

/**
 * The layout of operand `t` ([..., r, c]) for an output batch of `batch` dims, or null when the
 * kernel cannot read it in place (then it is copied first). Size-1 dims have any stride.
 */
function layoutOf(t: Tensor, batch: readonly number[]): MatrixLayout | null {
  if (t.offset !== 0) return null;
  const rank = t.shape.length;
  const [r, c] = [t.shape[rank - 2]!, t.shape[rank - 1]!];
  const [sr, sc] = [t.strides[rank - 2]!, t.strides[rank - 1]!];
  let transposed: boolean;
  if ((c === 1 || sc === 1) && (r === 1 || sr === c)) transposed = false;
  else if ((r === 1 || sr === 1) && (c === 1 || sc === r)) transposed = true;
  else return null;
  // Strides of the batch dims as the output sees them (0 where broadcast or missing).
  const lead = batch.length - (rank - 2);
  const strides = batch.map((n, d) => (d < lead || t.shape[d - lead] === 1 ? 0 : t.strides[d - lead]!));
  if (strides.every((s) => s === 0)) return { transposed, batchStride: 0 };
  // One stride s must step through the flattened batch: strides[d] = s · (product of later batch dims).
  let s = -1;
  let span = 1;
  for (let d = batch.length - 1; d >= 0; d--) {
    if (batch[d] !== 1) {
      if (s === -1) s = strides[d]! / span;
      if (strides[d] !== s * span) return null;
    }
    span *= batch[d]!;
  }
  return Number.isInteger(s) && s > 0 ? { transposed, batchStride: s } : null;
}

/** Batched matrix product [..., m, k] · [..., k, n] with broadcast batch dims (inputs of rank ≥ 2). */
export const MATMUL: OpDef<Record<string, never>> = {
  name: 'matmul',
  acceptsViews: true,
  infer([a, b], _attrs, label) {
    if (a!.dtype !== 'f32' || b!.dtype !== 'f32') throw new Error(`${label}: matmul needs float tensors`);
    const [ra, rb] = [a!.shape.length, b!.shape.length];
    if (a!.shape[ra - 1] !== b!.shape[rb - 2]) {
      throw new Error(`${label}: matmul of ${shapeString(a!.shape)} and ${shapeString(b!.shape)}: inner dims ${a!.shape[ra - 1]} and ${b!.shape[rb - 2]} differ`);
    }
    const batch = broadcastShapes(a!.shape.slice(0, -2), b!.shape.slice(0, -2), label);
    return [{ shape: [...batch, a!.shape[ra - 2]!, b!.shape[rb - 1]!], dtype: 'f32' }];
  },
  backward(g0, node, [gradOut], wants) {
    if (!gradOut) return [null, null];
    gradOut = gradTensor(g0, node, gradOut);
    const [a, b] = node.inputs as [Tensor, Tensor];
    return [
      wants[0] ? sumTo(matmul2(gradOut, transpose(b, -1, -2)), a.shape) : null,
      wants[1] ? sumTo(matmul2(transpose(a, -1, -2), gradOut), b.shape) : null,
    ];
  },
  lower(node, io) {
    const [a, b] = node.inputs as [Tensor, Tensor];
    const c = node.outputs[0]!;
    const rank = c.shape.length;
    const batch = c.shape.slice(0, -2);
    const [m, n] = [c.shape[rank - 2]!, c.shape[rank - 1]!];
    const k = a.shape[a.shape.length - 1]!;
    const la = layoutOf(a, batch)!;
    const lb = layoutOf(b, batch)!;
    return [
      matmulLaunch(
        { m, n, k, transA: la.transposed, transB: lb.transposed, batch: numel(batch), batchStrideA: la.batchStride, batchStrideB: lb.batchStride, batchStrideC: m * n },
        { a: io.view(a), b: io.view(b), c: io.view(c), biasOut: io.dummyOut },
        io.dummy,
        node.label,
      ),
    ];
  },
};

/** Both operands of rank ≥ 2; each copied first only when the kernel cannot read it in place. */
function matmul2(a: Tensor, b: Tensor): Tensor {
  const label = a.graph.currentLabel;
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), label);
  const ready = (t: Tensor): Tensor => {
    if (layoutOf(t, batch)) return t;
    const dense = contiguous(t);
    if (layoutOf(dense, batch)) return dense;
    return contiguous(expand(t, [...batch, ...t.shape.slice(-2)]));
  };
  return a.graph.apply(MATMUL, [ready(a), ready(b)], {})[0]!;
}

/**
 * torch.matmul: dot product of vectors, matrix-vector, matrix-matrix, and batched products with
 * broadcast batch dims. A 1-D first operand is a row ([1, k], removed after), a 1-D second one a
 * column ([k, 1], removed after). Transposed operands (`b.transpose(-1, -2)`) are read in place.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const label = a.graph.currentLabel;
  if (a.shape.length === 0 || b.shape.length === 0) {
    throw new Error(`${label}: matmul needs tensors of at least one dim, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`);
  }
  const a2 = a.shape.length === 1 ? reshape(a, [1, a.shape[0]!]) : a;
  const b2 = b.shape.length === 1 ? reshape(b, [b.shape[0]!, 1]) : b;
  const c = matmul2(a2, b2);
  const shape = [...c.shape];
  if (b.shape.length === 1) shape.splice(shape.length - 1, 1);
  if (a.shape.length === 1) shape.splice(shape.length - (b.shape.length === 1 ? 1 : 2), 1);
  return shape.length === c.shape.length ? c : reshape(c, shape);
}
