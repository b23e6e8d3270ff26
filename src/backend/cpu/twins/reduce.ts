import type { CpuInvocation } from '../../kernel.js';

/**
 * Twins of shaders/reduce.wgsl, adding in the shader's order with float32 rounding, so that the
 * two backends agree to the last bit or nearly.
 */

const f32 = Math.fround;

export function colSum({ buffers, params }: CpuInvocation): void {
  const { x, out } = buffers;
  const rows = params.rows!;
  const cols = params.cols!;
  const scale = f32(params.scale!);
  for (let c = 0; c < cols; c++) {
    let acc = 0;
    for (let r = 0; r < rows; r++) acc = f32(acc + x![r * cols + c]!);
    out![c] = scale * acc;
  }
}

/** The single-workgroup strided accumulation plus tree of `sum` and `sum_squares`. */
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

export function sum({ buffers, params, overrides }: CpuInvocation): void {
  const x = buffers.x!;
  const total = treeSum(params.rows! * params.cols!, overrides.wg!, (i) => x[i]!);
  buffers.out![0] = f32(params.scale!) * total;
}

export function sumSquares({ buffers, params, overrides }: CpuInvocation): void {
  const x = buffers.x!;
  const total = treeSum(params.rows! * params.cols!, overrides.wg!, (i) => f32(x[i]! * x[i]!));
  buffers.out![0] = f32(params.scale!) * total;
}
