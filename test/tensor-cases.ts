/**
 * Graph functions over the public Tensor API, shared by the CPU tier (finite-difference gradient
 * checks) and the GPU tier (parity with the CPU twins): broadcasting, views read in place, and
 * copies where a layout needs one.
 */
import type { Tensor } from '../src/graph/tensor.js';
import { cat } from '../src/graph/ops/shape.js';
import type { OpBuild, OpInput } from './op-check.js';

export interface TensorCase {
  readonly name: string;
  readonly build: OpBuild;
  readonly inputs: readonly OpInput[];
  /** WebGPU's precision where it is looser than f32 rounding (sin and cos: 2^-11 absolute). */
  readonly gpu?: { readonly rtol?: number; readonly atol?: number };
}

const f = (...shape: number[]): OpInput => ({ shape });
const positive = (...shape: number[]): OpInput => ({ shape, lo: 0.5, hi: 2 });

export const POINTWISE_CASES: TensorCase[] = [
  { name: 'add with broadcasting [3,1,4] + [5,1]', build: (a, b) => a!.add(b!), inputs: [f(3, 1, 4), f(5, 1)] },
  { name: 'sub of a row vector', build: (a, b) => a!.sub(b!), inputs: [f(4, 3), f(3)] },
  { name: 'mul with a [1] tensor', build: (a, b) => a!.mul(b!), inputs: [f(2, 3), f(1)] },
  { name: 'div broadcasting both ways', build: (a, b) => a!.div(b!), inputs: [f(3, 1), positive(1, 4)] },
  { name: 'pow of tensors', build: (a, b) => a!.pow(b!), inputs: [positive(2, 3), f(2, 3)] },
  { name: 'maximum and minimum', build: (a, b) => a!.maximum(b!).add(a!.minimum(b!).mul(3)), inputs: [f(2, 5), f(5)] },
  { name: 'scalar arithmetic', build: (a) => a!.add(2).mul(-1.5).sub(0.25).div(4), inputs: [f(7)] },
  { name: 'powers with scalars', build: (a) => a!.pow(3).add(a!.pow(-1)).add(a!.pow(0.5)), inputs: [positive(6)] },
  { name: 'exp, log, sqrt, rsqrt', build: (a) => a!.exp().add(a!.log()).add(a!.sqrt()).add(a!.rsqrt()), inputs: [positive(2, 4)] },
  { name: 'abs, neg, sin, cos', build: (a) => a!.abs().add(a!.neg().sin()).add(a!.cos()), inputs: [{ shape: [9], lo: 0.1, hi: 1.5 }], gpu: { atol: 2e-3 } },
  { name: 'clamp with both bounds', build: (a) => a!.clamp(-0.4, 0.5).mul(a!), inputs: [f(3, 5)] },
  { name: 'activations: relu, leakyRelu, sigmoid, tanh, gelu, silu, softplus', build: (a) => a!.relu().add(a!.leakyRelu(0.2)).add(a!.sigmoid()).add(a!.tanh()).add(a!.gelu()).add(a!.silu()).add(a!.softplus(2, 3)), inputs: [{ shape: [3, 4], lo: -2, hi: 2 }] },
  { name: 'where with tensors and a mask from a comparison', build: (a, b) => b!.gt(0).where(a!, b!.mul(2)), inputs: [f(2, 3), f(3)] },
  { name: 'where with a number', build: (a) => a!.where(a!.lt(0.2), 0.5), inputs: [f(8)] },
  { name: 'maskedFill', build: (a, b) => a!.maskedFill(b!.ge(0.3), -2), inputs: [f(2, 4), f(4)] },
];

export const VIEW_CASES: TensorCase[] = [
  { name: 'transpose read in place by mul', build: (a, b) => a!.transpose(0, 1).mul(b!), inputs: [f(3, 4), f(4, 3)] },
  { name: 'permute then reshape (a copy)', build: (a) => a!.permute(2, 0, 1).reshape(4, 6), inputs: [f(2, 3, 4)] },
  { name: 'permute with an array and negative dims', build: (a) => a!.permute([-1, 0, 1]).mul(2), inputs: [f(2, 3, 4)] },
  { name: 'expand of size-1 dims', build: (a) => a!.expand(2, 3, 4).mul(a!.expand(-1, 3, -1).add(1)), inputs: [f(2, 1, 4)] },
  { name: 'expand with a new leading dim', build: (a) => a!.expand(5, 3).exp(), inputs: [f(3)] },
  { name: 'narrow and slice', build: (a) => a!.narrow(1, 1, 2).add(a!.slice(1, -2)), inputs: [f(3, 4)] },
  { name: 'narrow of a transpose', build: (a) => a!.transpose(0, 1).narrow(0, 1, 3).exp(), inputs: [f(2, 5)] },
  { name: 'cat along dims 0 and 1', build: (a, b) => cat([cat([a!, b!], 0), cat([b!, a!], 0)], 1), inputs: [f(2, 3), f(1, 3)] },
  { name: 'cat of views', build: (a) => cat([a!.transpose(0, 1), a!.transpose(0, 1).mul(2)], 1), inputs: [f(3, 2)] },
  { name: 'split, chunk and unbind', build: (a) => { const [p, q] = a!.split([1, 3], 1); const [r] = a!.chunk(2, 0); const rows = a!.unbind(0); return [p!.mul(3), q!.exp(), r!, rows[1]!.mul(rows[0]!)]; }, inputs: [f(2, 4)] },
  { name: 'squeeze, unsqueeze, flatten', build: (a) => a!.unsqueeze(0).squeeze(0).flatten(1).unsqueeze(-1).mul(a!.reshape(2, 12, 1)), inputs: [f(2, 3, 4)] },
  { name: 'view and reshape with -1', build: (a) => a!.view(-1).mul(a!.reshape([4, -1]).reshape(12)), inputs: [f(3, 4)] },
];

export const MATMUL_CASES: TensorCase[] = [
  { name: 'matrix · matrix', build: (a, b) => a!.matmul(b!), inputs: [f(5, 3), f(3, 4)] },
  { name: 'transposed operands read in place', build: (a, b) => a!.transpose(0, 1).matmul(b!.t()), inputs: [f(3, 5), f(4, 3)] },
  { name: 'batched with broadcasting [2,1,3,4] · [5,4,2]', build: (a, b) => a!.matmul(b!), inputs: [f(2, 1, 3, 4), f(5, 4, 2)] },
  { name: 'batched · matrix', build: (a, b) => a!.matmul(b!), inputs: [f(3, 2, 4), f(4, 3)] },
  { name: 'vector · vector, matrix · vector, vector · batched', build: (a, b, c) => [a!.matmul(a!), b!.matmul(a!), a!.matmul(c!)], inputs: [f(4), f(3, 4), f(2, 4, 3)] },
  { name: 'batched transposed operand (attention scores)', build: (q, k) => q!.matmul(k!.transpose(-1, -2)), inputs: [f(2, 3, 5, 4), f(2, 3, 6, 4)] },
  { name: 'permuted batch dims need a copy', build: (a, b) => a!.permute(1, 0, 2).matmul(b!), inputs: [f(3, 2, 4), f(2, 4, 3)] },
];

/** A reference for a pointwise map over broadcast shapes, for the value tests. */
export function broadcastIndex(outShape: readonly number[], shape: readonly number[], i: number): number {
  let rem = i;
  let idx = 0;
  let stride = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    const k = rem % outShape[d]!;
    rem = Math.floor(rem / outShape[d]!);
    const sd = d - (outShape.length - shape.length);
    if (sd >= 0) {
      if (shape[sd] !== 1) idx += k * stride;
      stride *= shape[sd]!;
    }
  }
  return idx;
}

export type { Tensor };
