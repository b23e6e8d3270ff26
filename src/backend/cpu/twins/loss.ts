import type { CpuInvocation } from '../../kernel.js';
import { treeSum } from './reduce.js';

/** Twins of shaders/loss.wgsl, in the shader's order of operations with float32 rounding. */

const f32 = Math.fround;

export function softmaxXent({ buffers, params, overrides }: CpuInvocation): void {
  const { logits, labels, dlogits, correct, loss } = buffers;
  const rows = params.rows!;
  const cols = params.cols!;
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
}

export function mse({ buffers, params, overrides }: CpuInvocation): void {
  const { pred, targets, dpred, loss } = buffers;
  const n = params.rows! * params.cols!;
  const invN = f32(1 / n);
  const sq = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const d = f32(pred![i]! - targets![i]!);
    dpred![i] = 2 * d * invN;
    sq[i] = d * d;
  }
  loss![0] = treeSum(n, overrides.wg!, (i) => sq[i]!) * invN;
}
