import source from '../../shaders/loss.wgsl';
import * as twin from '../backend/cpu/twins/loss.js';
import type { BufferView, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import treeReduce from '../../shaders/tree_reduce.wgsl';
import { withCommon } from './source.js';

/**
 * Losses fused with their gradient (shaders/loss.wgsl): one single-workgroup dispatch writes the
 * mean loss and the gradient wrt the input, for d(total)/d(loss) = 1. A caller that weights the
 * loss scales the gradient afterwards.
 */

const wgsl = withCommon(`${source}\n${treeReduce}`);
const WG = 256;

const params: readonly ParamSpec[] = [
  { name: 'rows', type: 'u32' },
  { name: 'cols', type: 'u32' },
];

/**
 * torch.nn.CrossEntropyLoss with class indices and reduction 'mean'. Bindings: logits (read, f32
 * [rows, cols]), labels (read, i32 [rows], each in [0, cols)), dlogits (read_write, f32
 * [rows, cols]), correct (read_write, f32 [rows]: 1 where the first argmax equals the label),
 * loss (read_write, f32 [1]).
 */
export const softmaxXent: KernelSpec = {
  name: 'softmax_xent',
  wgsl,
  entry: 'softmax_xent',
  params,
  bindings: [
    { name: 'logits', type: 'f32', access: 'read' },
    { name: 'labels', type: 'i32', access: 'read' },
    { name: 'dlogits', type: 'f32', access: 'read_write' },
    { name: 'correct', type: 'f32', access: 'read_write' },
    { name: 'loss', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: WG },
  cpu: twin.softmaxXent,
};

/**
 * torch.nn.MSELoss with reduction 'mean' over all rows * cols elements. Bindings: pred (read),
 * targets (read), dpred (read_write), each f32 [rows * cols]; loss (read_write, f32 [1]).
 */
export const mse: KernelSpec = {
  name: 'mse',
  wgsl,
  entry: 'mse',
  params,
  bindings: [
    { name: 'pred', type: 'f32', access: 'read' },
    { name: 'targets', type: 'f32', access: 'read' },
    { name: 'dpred', type: 'f32', access: 'read_write' },
    { name: 'loss', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: WG },
  cpu: twin.mse,
};

function check(name: string, bindings: Record<string, BufferView>, lengths: Record<string, number>): void {
  for (const [binding, length] of Object.entries(lengths)) {
    const v = bindings[binding]!;
    if (v.length < length) throw new Error(`${name}: binding '${binding}' holds ${v.length} elements, needs ${length}`);
  }
}

export function softmaxXentLaunch(
  bindings: { logits: BufferView; labels: BufferView; dlogits: BufferView; correct: BufferView; loss: BufferView },
  rows: number,
  cols: number,
  label?: string,
): Launch {
  const name = label ?? softmaxXent.name;
  if (!(rows >= 1 && cols >= 1)) throw new Error(`${name}: needs rows >= 1 and cols >= 1, got [${rows}, ${cols}]`);
  check(name, bindings, { logits: rows * cols, labels: rows, dlogits: rows * cols, correct: rows, loss: 1 });
  return { kernel: softmaxXent, bindings, params: { rows, cols }, workgroups: [1, 1, 1], label };
}

export function mseLaunch(
  bindings: { pred: BufferView; targets: BufferView; dpred: BufferView; loss: BufferView },
  n: number,
  label?: string,
): Launch {
  const name = label ?? mse.name;
  if (!(n >= 1)) throw new Error(`${name}: needs at least one element, got n = ${n}`);
  check(name, bindings, { pred: n, targets: n, dpred: n, loss: 1 });
  return { kernel: mse, bindings, params: { rows: n, cols: 1 }, workgroups: [1, 1, 1], label };
}
