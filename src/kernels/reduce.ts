import source from '../../shaders/reduce.wgsl';
import treeReduce from '../../shaders/tree_reduce.wgsl';
import type { BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { withCommon } from './source.js';

/**
 * Deterministic reductions (shaders/reduce.wgsl). All share the uniform
 * `{ rows: u32, cols: u32, scale: f32 }`; the result is multiplied by `scale` (1 for a sum, 1/n
 * for a mean). `sum` and `sumSquares` are one workgroup of `wg` (a power of two) invocations.
 * The twins add in the shader's order with float32 rounding, so that the two backends agree to
 * the last bit or nearly.
 */

const wgsl = withCommon(`${source}\n${treeReduce}`);
const f32 = Math.fround;

const params: readonly ParamSpec[] = [
  { name: 'rows', type: 'u32' },
  { name: 'cols', type: 'u32' },
  { name: 'scale', type: 'f32' },
];

function spec(name: string, cpu: KernelSpec['cpu']): KernelSpec {
  return {
    name,
    wgsl,
    entry: name,
    params,
    bindings: [
      { name: 'x', type: 'f32', access: 'read' },
      { name: 'out', type: 'f32', access: 'read_write' },
    ],
    overrides: { wg: 256 },
    cpu,
  };
}

/**
 * The twin of a single-workgroup strided accumulation plus tree (tree_reduce.wgsl): lane l adds
 * term(l), term(l + wg), ... in order, then lanes combine pairwise.
 */
export function treeSum(n: number, wg: number, term: (i: number) => number): number {
  const partial = new Float64Array(wg);
  for (let l = 0; l < wg; l++) {
    let acc = 0;
    for (let i = l; i < n; i += wg) acc = f32(acc + term(i));
    partial[l] = acc;
  }
  for (let stride = wg >> 1; stride > 0; stride >>= 1) {
    for (let l = 0; l < stride; l++) partial[l] = f32(partial[l]! + partial[l + stride]!);
  }
  return partial[0]!;
}

/** out[c] = scale * sum_r x[r, c] for a row-major [rows, cols] x; out has cols elements. */
export const colSum = spec('col_sum', ({ buffers: { x, out }, params }) => {
  const { rows, cols } = params as { rows: number; cols: number };
  const scale = f32(params.scale!);
  for (let c = 0; c < cols; c++) {
    let acc = 0;
    for (let r = 0; r < rows; r++) acc = f32(acc + x![r * cols + c]!);
    out![c] = scale * acc;
  }
});

function total(term: (x: Float32Array, i: number) => number): KernelSpec['cpu'] {
  return ({ buffers, params, overrides }: CpuInvocation) => {
    const x = buffers.x as Float32Array;
    buffers.out![0] = f32(params.scale!) * treeSum(params.rows! * params.cols!, overrides.wg!, (i) => term(x, i));
  };
}

/** out[0] = scale * sum of all rows * cols elements of x. */
export const sum = spec('sum', total((x, i) => x[i]!));
/** out[0] = scale * sum of x[i]^2 over all rows * cols elements. */
export const sumSquares = spec('sum_squares', total((x, i) => f32(x[i]! * x[i]!)));

type ReduceBindings = { x: BufferView; out: BufferView };

export function colSumLaunch(bindings: ReduceBindings, rows: number, cols: number, scale = 1, label?: string): Launch {
  return launch(colSum, { bindings, params: { rows, cols, scale }, threads: cols, needs: { x: rows * cols, out: cols }, label });
}

function whole(kernel: KernelSpec, bindings: ReduceBindings, n: number, scale: number, label?: string): Launch {
  return launch(kernel, { bindings, params: { rows: n, cols: 1, scale }, workgroups: [1, 1, 1], needs: { x: n, out: 1 }, label });
}

export function sumLaunch(bindings: ReduceBindings, n: number, scale = 1, label?: string): Launch {
  return whole(sum, bindings, n, scale, label);
}

/** out[0] = the mean of the n values (the sum kernel with scale 1/n). */
export function meanLaunch(bindings: ReduceBindings, n: number, label?: string): Launch {
  if (!(n >= 1)) throw new Error(`${label ?? 'mean'}: needs at least one element, got n = ${n}`);
  return whole(sum, bindings, n, 1 / n, label);
}

export function sumSquaresLaunch(bindings: ReduceBindings, n: number, scale = 1, label?: string): Launch {
  return whole(sumSquares, bindings, n, scale, label);
}
