import source from '../../shaders/loss.wgsl';
import treeReduce from '../../shaders/tree_reduce.wgsl';
import type { BindingSpec, BufferView, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { treeSum } from './reduce.js';
import { withCommon } from './source.js';

/**
 * Losses fused with their gradient (shaders/loss.wgsl): one single-workgroup dispatch writes the
 * mean loss and the gradient wrt the input, for d(total)/d(loss) = 1. A caller that weights the
 * loss scales the gradient afterwards. The twins follow the shader's order of operations with
 * float32 rounding.
 */

const wgsl = withCommon(`${source}\n${treeReduce}`);
const f32 = Math.fround;

const params: readonly ParamSpec[] = [
  { name: 'rows', type: 'u32' },
  { name: 'cols', type: 'u32' },
];

/** One single-workgroup loss kernel: entry point `name`, the shared uniform. */
function spec(name: string, bindings: BindingSpec[], cpu: KernelSpec['cpu']): KernelSpec {
  return { name, wgsl, entry: name, params, bindings, overrides: { wg: 256 }, cpu };
}

/**
 * torch.nn.CrossEntropyLoss with class indices and reduction 'mean'. Bindings: logits (read, f32
 * [rows, cols]), labels (read, i32 [rows], each in [0, cols)), dlogits (read_write, f32
 * [rows, cols]), correct (read_write, f32 [rows]: 1 where the first argmax equals the label),
 * loss (read_write, f32 [1]).
 */
export const softmaxXent = spec(
  'softmax_xent',
  [
    { name: 'logits', type: 'f32', access: 'read' },
    { name: 'labels', type: 'i32', access: 'read' },
    { name: 'dlogits', type: 'f32', access: 'read_write' },
    { name: 'correct', type: 'f32', access: 'read_write' },
    { name: 'loss', type: 'f32', access: 'read_write' },
  ],
  ({ buffers: { logits, labels, dlogits, correct, loss }, params, overrides }) => {
    const { rows, cols } = params as { rows: number; cols: number };
    const invRows = f32(1 / rows);
    const rowLoss = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let m = logits![base]!;
      let arg = 0;
      for (let c = 1; c < cols; c++) {
        if (logits![base + c]! > m) {
          m = logits![base + c]!;
          arg = c;
        }
      }
      let s = 0;
      for (let c = 0; c < cols; c++) s = f32(s + f32(Math.exp(f32(logits![base + c]! - m))));
      const invS = f32(1 / s);
      const t = labels![r]!;
      for (let c = 0; c < cols; c++) {
        const p = f32(f32(Math.exp(f32(logits![base + c]! - m))) * invS);
        dlogits![base + c] = f32(p - (c === t ? 1 : 0)) * invRows;
      }
      rowLoss[r] = f32(Math.log(s)) - f32(logits![base + t]! - m);
      correct![r] = arg === t ? 1 : 0;
    }
    loss![0] = treeSum(rows, overrides.wg!, (r) => rowLoss[r]!) * invRows;
  },
);

/**
 * torch.nn.MSELoss with reduction 'mean' over all rows * cols elements. Bindings: pred (read),
 * targets (read), dpred (read_write), each f32 [rows * cols]; loss (read_write, f32 [1]).
 */
export const mse = spec(
  'mse',
  [
    { name: 'pred', type: 'f32', access: 'read' },
    { name: 'targets', type: 'f32', access: 'read' },
    { name: 'dpred', type: 'f32', access: 'read_write' },
    { name: 'loss', type: 'f32', access: 'read_write' },
  ],
  ({ buffers: { pred, targets, dpred, loss }, params, overrides }) => {
    const n = params.rows! * params.cols!;
    const invN = f32(1 / n);
    const sq = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const d = f32(pred![i]! - targets![i]!);
      dpred![i] = 2 * d * invN;
      sq[i] = d * d;
    }
    loss![0] = treeSum(n, overrides.wg!, (i) => sq[i]!) * invN;
  },
);

export function softmaxXentLaunch(
  bindings: { logits: BufferView; labels: BufferView; dlogits: BufferView; correct: BufferView; loss: BufferView },
  rows: number,
  cols: number,
  label?: string,
): Launch {
  if (!(rows >= 1 && cols >= 1)) throw new Error(`${label ?? softmaxXent.name}: needs rows >= 1 and cols >= 1, got [${rows}, ${cols}]`);
  const needs = { logits: rows * cols, labels: rows, dlogits: rows * cols, correct: rows, loss: 1 };
  return launch(softmaxXent, { bindings, params: { rows, cols }, workgroups: [1, 1, 1], needs, label });
}

export function mseLaunch(
  bindings: { pred: BufferView; targets: BufferView; dpred: BufferView; loss: BufferView },
  n: number,
  label?: string,
): Launch {
  if (!(n >= 1)) throw new Error(`${label ?? mse.name}: needs at least one element, got n = ${n}`);
  const needs = { pred: n, targets: n, dpred: n, loss: 1 };
  return launch(mse, { bindings, params: { rows: n, cols: 1 }, workgroups: [1, 1, 1], needs, label });
}
