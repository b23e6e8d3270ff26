/**
 * The matmul kernel (src/kernels/matmul.ts) on WebAssembly SIMD: every transpose, batch stride,
 * bias, row-sum and gate variant except a gelu gate (whose derivative needs erf: the twin runs
 * it). The epilogue applies relu in the kernel; other activations run on the host over C, with
 * the twin's scalar function, after the bias has been added.
 */
import { ACTIVATIONS, actForward } from '../../../kernels/activations.js';
import type { Launch } from '../../kernel.js';
import type { WasmPlanContext, WasmRunner } from './runtime.js';

/** Packed A kept to about 256 KiB (L2) per block of rows. */
const PACKED_A_BYTES = 256 * 1024;

const GATES: ReadonlySet<number> = new Set([ACTIVATIONS.identity, ACTIVATIONS.relu, ACTIVATIONS.leaky_relu, ACTIVATIONS.sigmoid, ACTIVATIONS.tanh]);

/** Rows of A packed at a time: a multiple of 4, no more than M rounded up to 4. */
export function matmulBlockRows(m: number, k: number): number {
  const fit = Math.max(4, Math.floor(PACKED_A_BYTES / (4 * k)) & ~3);
  return Math.min(fit, Math.ceil(m / 4) * 4);
}

/** Scratch bytes of one call (see the layout in kernels.wat). */
export function matmulScratchBytes(m: number, n: number, k: number): number {
  return matmulBlockRows(m, k) * k * 4 + k * 32 + Math.ceil(n / 8) * 32 + 128;
}

export function planMatmul(launch: Launch, ctx: WasmPlanContext): WasmRunner | null {
  const o = { ...launch.kernel.overrides, ...launch.overrides };
  const p = launch.params ?? {};
  const gate = o.gate_a === 1 ? (o.act_gate ?? 0) : -1;
  if (gate >= 0 && !GATES.has(gate)) return null;
  const m = p.m!;
  const n = p.n!;
  const k = p.k!;
  const alpha = p.alpha ?? 0.01;
  const act = o.act ?? 0;
  const relu = act === ACTIVATIONS.relu ? 1 : 0;
  const hostAct = act !== ACTIVATIONS.identity && act !== ACTIVATIONS.relu;
  const hasBias = o.has_bias === 1 ? 1 : 0;
  const ones = o.ones_col === 1 ? 1 : 0;
  const transA = o.trans_a === 1 ? 1 : 0;
  const transB = o.trans_b === 1 ? 1 : 0;
  const batch = launch.workgroups[2];
  const strideA = 4 * (p.batch_a ?? 0);
  const strideB = 4 * (p.batch_b ?? 0);
  const strideC = 4 * (p.batch_c ?? 0);
  const mc = matmulBlockRows(m, k);
  ctx.reserveScratch(matmulScratchBytes(m, n, k));
  const bind = launch.bindings;
  const a = ctx.address(bind.a!);
  const b = ctx.address(bind.b!);
  const g = ctx.address(bind.gate!);
  const bias = ctx.address(bind.bias!);
  const c = ctx.address(bind.c!);
  const sums = ctx.address(bind.bias_out!);
  const run = ctx.exports.matmul;
  return (call) => {
    const scratch = ctx.scratch();
    for (let z = 0; z < batch; z++) {
      run(a + z * strideA, b + z * strideB, g + z * strideA, bias, c + z * strideC, sums, m, n, k, transA, transB, gate, alpha, hasBias, ones, relu, scratch, mc);
    }
    if (hostAct) {
      const out = call.buffers.c!;
      for (let z = 0; z < batch; z++) {
        const end = (z * strideC) / 4 + m * n;
        for (let i = (z * strideC) / 4; i < end; i++) out[i] = actForward(act, out[i]!, alpha);
      }
    }
  };
}
