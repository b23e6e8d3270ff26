import source from '../../shaders/reduce.wgsl';
import * as twin from '../backend/cpu/twins/reduce.js';
import type { BufferView, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { grid1d } from '../backend/kernel.js';
import treeReduce from '../../shaders/tree_reduce.wgsl';
import { withCommon } from './source.js';

/**
 * Deterministic reductions (shaders/reduce.wgsl). All share the uniform
 * `{ rows: u32, cols: u32, scale: f32 }`; the result is multiplied by `scale` (1 for a sum, 1/n
 * for a mean). `sum` and `sumSquares` are one workgroup of `wg` (a power of two) invocations.
 */

const wgsl = withCommon(`${source}\n${treeReduce}`);
const WG = 256;

const params: readonly ParamSpec[] = [
  { name: 'rows', type: 'u32' },
  { name: 'cols', type: 'u32' },
  { name: 'scale', type: 'f32' },
];

function spec(name: string, entry: string, cpu: KernelSpec['cpu']): KernelSpec {
  return {
    name,
    wgsl,
    entry,
    params,
    bindings: [
      { name: 'x', type: 'f32', access: 'read' },
      { name: 'out', type: 'f32', access: 'read_write' },
    ],
    overrides: { wg: WG },
    cpu,
  };
}

/** out[c] = scale * sum_r x[r, c] for a row-major [rows, cols] x; out has cols elements. */
export const colSum = spec('col_sum', 'col_sum', twin.colSum);
/** out[0] = scale * sum of all rows * cols elements of x. */
export const sum = spec('sum', 'sum', twin.sum);
/** out[0] = scale * sum of x[i]^2 over all rows * cols elements. */
export const sumSquares = spec('sum_squares', 'sum_squares', twin.sumSquares);

type ReduceBindings = { x: BufferView; out: BufferView };

function check(name: string, bindings: ReduceBindings, inLength: number, outLength: number): void {
  for (const [binding, length] of [['x', inLength], ['out', outLength]] as const) {
    const held = bindings[binding].length;
    if (held < length) throw new Error(`${name}: binding '${binding}' holds ${held} elements, needs ${length}`);
  }
}

export function colSumLaunch(bindings: ReduceBindings, rows: number, cols: number, scale = 1, label?: string): Launch {
  check(label ?? colSum.name, bindings, rows * cols, cols);
  return { kernel: colSum, bindings, params: { rows, cols, scale }, workgroups: grid1d(cols, WG), label };
}

function total(kernel: KernelSpec, bindings: ReduceBindings, n: number, scale: number, label?: string): Launch {
  check(label ?? kernel.name, bindings, n, 1);
  return { kernel, bindings, params: { rows: n, cols: 1, scale }, workgroups: [1, 1, 1], label };
}

export function sumLaunch(bindings: ReduceBindings, n: number, scale = 1, label?: string): Launch {
  return total(sum, bindings, n, scale, label);
}

/** out[0] = the mean of the n values (the sum kernel with scale 1/n). */
export function meanLaunch(bindings: ReduceBindings, n: number, label?: string): Launch {
  if (!(n >= 1)) throw new Error(`${label ?? 'mean'}: needs at least one element, got n = ${n}`);
  return total(sum, bindings, n, 1 / n, label);
}

export function sumSquaresLaunch(bindings: ReduceBindings, n: number, scale = 1, label?: string): Launch {
  return total(sumSquares, bindings, n, scale, label);
}
