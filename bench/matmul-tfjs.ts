/**
 * Case 3, TF.js side: `tf.matMul` of two square matrices on the active backend, filled and timed
 * like bench/matmul.ts (same values, same warm-up, the same run counts unless a size runs over a
 * time budget; each run waits for the device, without reading the product back).
 */
import type { MatmulBenchRow } from './matmul.js';
import { tf } from './tfjs-setup.js';
import { median } from './timing.js';

/** The run counts bench/matmul.ts uses, so both sides average over as many runs... */
export function matmulRuns(size: number): number {
  return size <= 256 ? 15 : size <= 512 ? 7 : 5;
}

/** ...unless the runs of one size take longer than this; at least three are timed. */
const BUDGET_MS = 25_000;

export async function benchTfMatmul(settle: () => Promise<void>, sizes: readonly number[]): Promise<MatmulBenchRow[]> {
  const rows: MatmulBenchRow[] = [];
  for (const size of sizes) {
    const fill = new Float32Array(size * size);
    for (let i = 0; i < fill.length; i++) fill[i] = Math.sin(i) * 0.5;
    const a = tf.tensor2d(fill, [size, size]);
    const b = tf.tensor2d(fill, [size, size]);
    const once = async (): Promise<number> => {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await settle();
      const ms = performance.now() - t0;
      c.dispose();
      return ms;
    };
    for (let i = 0; i < 2; i++) await once();
    const runs = matmulRuns(size);
    const times: number[] = [];
    let spent = 0;
    for (let i = 0; i < runs && (i < 3 || spent < BUDGET_MS); i++) {
      times.push(await once());
      spent += times[i]!;
    }
    a.dispose();
    b.dispose();
    const medianMs = median(times);
    rows.push({ size, runs: times.length, medianMs, gflops: (2 * size ** 3) / (medianMs * 1e6) });
  }
  return rows;
}
