/**
 * The matmul case, TF.js side: `tf.matMul` of two square matrices filled like bench/matmul.ts's,
 * timed in the same windows; each window waits for the device without reading the product back.
 */
import { type MatmulBenchRow, matmulFill } from './matmul.js';
import { tf, type TfBackendName, useTfBackend } from './tfjs-setup.js';
import { type Prepared, type WindowPlan } from './timing.js';

/**
 * One size on the tfjs backend `backend` as a side that takes turns with others: `tf.matMul`
 * per iteration, a window waits with `settle` (tfjs-webgpu's queue; the CPU backends compute
 * synchronously, so for them it only waits for nothing). The products are disposed untimed.
 */
export async function tfMatmulSide(backend: TfBackendName, size: number, plan: WindowPlan, settle: () => Promise<void>): Promise<Prepared<MatmulBenchRow>> {
  await useTfBackend(backend);
  const fill = matmulFill(size);
  const a = tf.tensor2d(fill, [size, size]);
  const b = tf.tensor2d(fill, [size, size]);
  const products: tf.Tensor[] = [];
  return {
    side: {
      label: `TF.js ${backend} matmul ${size}`,
      plan,
      async enter() {
        await useTfBackend(backend);
        for (const c of products.splice(0)) c.dispose();
      },
      enqueue: () => void products.push(tf.matMul(a, b)),
      settle,
    },
    async finish(timing) {
      await useTfBackend(backend);
      for (const t of [a, b, ...products]) t.dispose();
      return { size, runs: timing.iterations, windows: timing.windowsMs.length, medianMs: timing.medianMs, gflops: (2 * size ** 3) / (timing.medianMs * 1e6) };
    },
  };
}
