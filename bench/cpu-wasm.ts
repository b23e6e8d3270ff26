/**
 * The CPU backend's MLP step (784-256-256-10, batch 128, Adam, softmax cross-entropy) on its
 * TypeScript twins and on its WebAssembly SIMD kernels, beside TensorFlow.js's 'wasm' backend
 * (XNNPACK, one thread, SIMD) on the same weights and batches: medians of 15 single-step windows
 * after 5 warm-up steps, sides in turns.
 *
 *   node scripts/run-ts.mjs bench/cpu-wasm.ts [--no-tfjs] [--tfjs-cpu]
 */
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { createDevice } from '../src/device.js';
import { GpuCounter } from './counting-gpu.js';
import { descentStep, mlpData, type StepBench, tfjsStep } from './mlp.js';
import { tf } from './tfjs-setup.js';
import { type Prepared, runSides, type WindowPlan } from './timing.js';

const PLAN: WindowPlan = { warmup: 5, perWindow: 1, windows: 15 };
const args = new Set(process.argv.slice(2));

/** Makes TensorFlow.js's 'wasm' backend (single-threaded) the active one. */
async function useTfWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
  wasm.setWasmPaths(`${join(dist, '..', 'dist')}/`);
  wasm.setThreadsCount(1);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error("tfjs: setBackend('wasm') failed");
}

const data = mlpData();
const counter = new GpuCounter();
const rows: { label: string; prepared: Prepared<StepBench> }[] = [];
const twins = await createDevice({ backend: 'cpu', wasm: false });
const simd = await createDevice({ backend: 'cpu' });
if (simd.backend.description !== 'CPU (WebAssembly SIMD)') throw new Error(`no WebAssembly SIMD backend: ${simd.reason}`);
rows.push({ label: `Descent ${twins.backend.description}`, prepared: descentStep(twins, counter, 'adam', data, PLAN) });
rows.push({ label: `Descent ${simd.backend.description}`, prepared: descentStep(simd, counter, 'adam', data, PLAN) });
// tfjs checks on every step that its active backend is the one it was prepared on: one tfjs side.
if (args.has('--tfjs-cpu')) {
  if (!(await tf.setBackend('cpu'))) throw new Error("tfjs: setBackend('cpu') failed");
  rows.push({ label: 'TF.js cpu', prepared: await tfjsStep('adam', data, PLAN) });
} else if (!args.has('--no-tfjs')) {
  await useTfWasm();
  rows.push({ label: 'TF.js wasm (XNNPACK, 1 thread)', prepared: await tfjsStep('adam', data, PLAN) });
}

const results = await runSides(rows.map((r) => r.prepared));
console.log(`MLP 784-256-256-10, batch 128, Adam: ms per step (median of ${PLAN.windows} after ${PLAN.warmup} warm-up)`);
const base = results[0]!.timing.medianMs;
for (const [i, r] of results.entries()) {
  const ms = r.timing.medianMs;
  console.log(`  ${rows[i]!.label.padEnd(34)} ${ms.toFixed(1).padStart(7)} ms  (${(base / ms).toFixed(1)}x the twins)  first loss ${r.firstLoss.toFixed(5)}`);
}
twins.dispose();
simd.dispose();
