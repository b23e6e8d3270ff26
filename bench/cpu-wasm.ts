/**
 * A quick look at the CPU backend alone: the MLP step (784-256-256-10, batch 128, Adam) on its
 * TypeScript twins and on its WebAssembly SIMD kernels, beside TensorFlow.js's 'wasm' backend
 * (XNNPACK, one thread, SIMD) on the same weights and batches, sides in turns. `npm run bench`
 * measures the same sides (and tfjs-cpu, PyTorch, the other steps) with its full plans; this
 * script takes seconds: medians of 15 single-step windows after 5 warm-up steps.
 *
 *   node scripts/run-ts.mjs bench/cpu-wasm.ts [--no-tfjs] [--tfjs-cpu]
 */
import { createDevice } from '../src/device.js';
import { descentStep, mlpData, type StepBench, tfjsStep } from './mlp.js';
import { useTfWasm } from './tfjs-setup.js';
import { type Prepared, runSides, type WindowPlan } from './timing.js';

const PLAN: WindowPlan = { warmup: 5, perWindow: 1, windows: 15 };
const args = new Set(process.argv.slice(2));

const data = mlpData();
const rows: { label: string; prepared: Prepared<StepBench> }[] = [];
const twins = await createDevice({ backend: 'cpu', wasm: false });
const simd = await createDevice({ backend: 'cpu' });
if (simd.backend.description !== 'CPU (WebAssembly SIMD)') throw new Error(`no WebAssembly SIMD backend: ${simd.reason}`);
rows.push({ label: `Descent ${twins.backend.description}`, prepared: descentStep(twins, undefined, 'adam', data, PLAN) });
rows.push({ label: `Descent ${simd.backend.description}`, prepared: descentStep(simd, undefined, 'adam', data, PLAN) });
if (!args.has('--no-tfjs')) {
  await useTfWasm();
  rows.push({ label: 'TF.js wasm (XNNPACK, 1 thread)', prepared: await tfjsStep('wasm', 'adam', data, PLAN) });
}
if (args.has('--tfjs-cpu')) rows.push({ label: 'TF.js cpu', prepared: await tfjsStep('cpu', 'adam', data, PLAN) });

const results = await runSides(rows.map((r) => r.prepared));
console.log(`MLP 784-256-256-10, batch 128, Adam: ms per step (median of ${PLAN.windows} after ${PLAN.warmup} warm-up)`);
const base = results[0]!.timing.medianMs;
for (const [i, r] of results.entries()) {
  const ms = r.timing.medianMs;
  console.log(`  ${rows[i]!.label.padEnd(34)} ${ms.toFixed(1).padStart(7)} ms  (${(base / ms).toFixed(1)}x the twins)  first loss ${r.firstLoss.toFixed(5)}`);
}
twins.dispose();
simd.dispose();
