import source from '../../shaders/softmax.wgsl';
import type { BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { combineLanes, laneGrid, rowsCovered } from './reduce-axes.js';
import { withCommon } from './source.js';

/**
 * Softmax and log-softmax along any one dimension of a dense tensor, and their gradients
 * (shaders/softmax.wgsl). A row is the `len` elements that share every index but `dim`, `inner`
 * apart. The twins follow the shader's order of operations with float32 rounding.
 */

const WG = 256;
const f32 = Math.fround;
const wgsl = withCommon(source);

const params: readonly ParamSpec[] = [
  { name: 'rows', type: 'u32' },
  { name: 'len', type: 'u32' },
  { name: 'inner', type: 'u32' },
];

/** Rows, row length and element spacing of a softmax over `dim` of a dense tensor of `shape`. */
export function softmaxRows(shape: readonly number[], dim: number): { rows: number; len: number; inner: number } {
  const len = shape[dim] ?? 1;
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const rows = shape.reduce((a, b) => a * b, 1) / len;
  return { rows, len, inner };
}

/** The rows a launch covers, with their first element; `wg / lanes` rows per workgroup. */
function eachRow(call: CpuInvocation, body: (start: number) => void): void {
  const { rows, len, inner } = call.params as Record<string, number>;
  const covered = rowsCovered(call, rows!);
  for (let row = 0; row < covered; row++) body(Math.floor(row / inner!) * len! * inner! + (row % inner!));
}

const add = (a: number, b: number): number => a + b;

function cpuForward(call: CpuInvocation): void {
  const { x, out } = call.buffers;
  const { len, inner } = call.params as Record<string, number>;
  const lanes = call.overrides.lanes!;
  const log = call.overrides.log_softmax === 1;
  const partial = new Float32Array(lanes);
  eachRow(call, (start) => {
    for (let lane = 0; lane < lanes; lane++) {
      let m = x![start]!;
      for (let k = lane; k < len!; k += lanes) m = Math.max(m, x![start + k * inner!]!);
      partial[lane] = m;
    }
    const m = combineLanes(partial, Math.max);
    for (let lane = 0; lane < lanes; lane++) {
      let total = 0;
      for (let k = lane; k < len!; k += lanes) total = f32(total + f32(Math.exp(f32(x![start + k * inner!]! - m))));
      partial[lane] = total;
    }
    const total = combineLanes(partial, add);
    const logTotal = f32(Math.log(total));
    for (let k = 0; k < len!; k++) {
      const at = start + k * inner!;
      const shifted = f32(x![at]! - m);
      out![at] = log ? shifted - logTotal : f32(Math.exp(shifted)) / total;
    }
  });
}

function cpuBackward(call: CpuInvocation): void {
  const { dy, y, dx } = call.buffers;
  const { len, inner } = call.params as Record<string, number>;
  const lanes = call.overrides.lanes!;
  const log = call.overrides.log_softmax === 1;
  const partial = new Float32Array(lanes);
  eachRow(call, (start) => {
    for (let lane = 0; lane < lanes; lane++) {
      let total = 0;
      for (let k = lane; k < len!; k += lanes) {
        const at = start + k * inner!;
        total = f32(total + (log ? dy![at]! : f32(dy![at]! * y![at]!)));
      }
      partial[lane] = total;
    }
    const total = combineLanes(partial, add);
    for (let k = 0; k < len!; k++) {
      const at = start + k * inner!;
      dx![at] = log ? dy![at]! - f32(f32(Math.exp(y![at]!)) * total) : y![at]! * f32(dy![at]! - total);
    }
  });
}

/** out = softmax of x along its rows, or log-softmax with log_softmax = 1. */
export const softmaxForward: KernelSpec = {
  name: 'softmax_forward',
  wgsl,
  entry: 'softmax_forward',
  params,
  bindings: [
    { name: 'x', type: 'f32', access: 'read' },
    { name: 'out', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: WG, lanes: 1, log_softmax: 0 },
  cpu: cpuForward,
};

/** dx from dy and the forward output y, for softmax or (log_softmax = 1) log-softmax. */
export const softmaxBackward: KernelSpec = {
  name: 'softmax_backward',
  wgsl,
  entry: 'softmax_backward',
  params,
  bindings: [
    { name: 'dy', type: 'f32', access: 'read' },
    { name: 'y', type: 'f32', access: 'read' },
    { name: 'dx', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: WG, lanes: 1, log_softmax: 0 },
  cpu: cpuBackward,
};

function rowLaunch(
  kernel: KernelSpec,
  bindings: Record<string, BufferView>,
  shape: readonly number[],
  dim: number,
  log: boolean,
  label: string | undefined,
  lanes: number | undefined,
): Launch {
  const who = label ?? kernel.name;
  if (!(Number.isInteger(dim) && dim >= 0 && dim < Math.max(shape.length, 1))) {
    throw new Error(`${who}: dim ${dim} is out of range for shape [${shape.join(', ')}]`);
  }
  const { rows, len, inner } = softmaxRows(shape, dim);
  if (!(rows >= 1 && len >= 1)) throw new Error(`${who}: cannot take a softmax of an empty tensor of shape [${shape.join(', ')}]`);
  const grid = laneGrid(rows, len, lanes, who);
  const n = rows * len;
  return launch(kernel, {
    bindings,
    params: { rows, len, inner },
    overrides: { lanes: grid.lanes, log_softmax: log ? 1 : 0 },
    workgroups: grid.workgroups,
    needs: Object.fromEntries(Object.keys(bindings).map((k) => [k, n])),
    label,
  });
}

/** out = softmax (or log-softmax) of a dense x of `shape` along `dim` (in [0, rank)). */
export function softmaxLaunch(
  bindings: { x: BufferView; out: BufferView },
  shape: readonly number[],
  dim: number,
  log = false,
  label?: string,
  lanes?: number,
): Launch {
  return rowLaunch(softmaxForward, bindings, shape, dim, log, label, lanes);
}

/** dx of a softmax (or log-softmax) along `dim`, from dy and the forward output y. */
export function softmaxGradLaunch(
  bindings: { dy: BufferView; y: BufferView; dx: BufferView },
  shape: readonly number[],
  dim: number,
  log = false,
  label?: string,
  lanes?: number,
): Launch {
  return rowLaunch(softmaxBackward, bindings, shape, dim, log, label, lanes);
}
