import type { CpuInvocation } from '../../kernel.js';
import { actForward, actGrad } from './activations.js';

/**
 * Twin of shaders/matmul.wgsl: C = act(gatedOpA(A) · opB(B) + bias), and with `ones_col` the row
 * sums of gatedOpA(A) into bias_out. The gated A is rounded to f32 element by element as the GPU
 * does; sums are accumulated in f64 and rounded once, which stays within the GPU's f32 error.
 */
export function matmul({ buffers, params, overrides }: CpuInvocation): void {
  const m = params.m!;
  const n = params.n!;
  const k = params.k!;
  const alpha = params.alpha!;
  const a = buffers.a!;
  const b = buffers.b!;
  const c = buffers.c!;
  const transA = overrides.trans_a === 1;
  const gateKind = overrides.gate_a === 1 ? overrides.act_gate ?? 0 : -1;
  const act = overrides.act ?? 0;

  // opA(A) gated, row-major [M, K], and opB(B) row-major [K, N], so that the product below walks
  // both operands contiguously whatever their stored layouts.
  const aEff = new Float32Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const s = transA ? p * m + i : i * k + p;
      aEff[i * k + p] = gateKind >= 0 ? a[s]! * actGrad(gateKind, buffers.gate![s]!, alpha) : a[s]!;
    }
  }
  let bRows = b;
  if (overrides.trans_b === 1) {
    const t = new Float32Array(k * n);
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) t[p * n + j] = b[j * k + p]!;
    bRows = t;
  }

  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    let rowSum = 0;
    for (let p = 0; p < k; p++) {
      const av = aEff[i * k + p]!;
      rowSum += av;
      const base = p * n;
      for (let j = 0; j < n; j++) row[j] += av * bRows[base + j]!;
    }
    for (let j = 0; j < n; j++) {
      const v = overrides.has_bias === 1 ? Math.fround(row[j]!) + buffers.bias![j]! : row[j]!;
      c[i * n + j] = actForward(act, Math.fround(v), alpha);
    }
    if (overrides.ones_col === 1) buffers.bias_out![i] = rowSum;
  }
}
