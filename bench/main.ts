/**
 * `npm run bench`: Descent against TensorFlow.js (webgpu, wasm, cpu) and PyTorch (CPU) in one
 * process (PyTorch in a child), Descent and tfjs-webgpu on one Dawn instance with a counting
 * device each. Bundled and started by scripts/bench.mjs; a full run writes bench/RESULTS.md,
 * bench/results.json and bench/step-vs-batch.svg.
 *
 *   npm run bench                          # every case, ~15-25 minutes on SwiftShader with 2 cores
 *   npm run bench -- --only=mlp,matmul     # some cases (mlp, cnn, transformer, matmul, adam, torch,
 *                                          #   bundle, sweep); prints the report instead of writing it
 *   npm run bench -- --quick               # few repetitions, small sizes: checks that everything runs
 *   npm run bench -- --no-gpu              # leave out every WebGPU side
 *   npm run bench -- --out=DIR/FILE.md     # write the report there, with DIR/results.json and DIR/step-vs-batch.svg
 *   npm run bench -- --render=DIR/results.json  # render DIR/RESULTS.md and the chart again from a run's figures
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { create, globals } from 'webgpu';
import { createDevice, type Device } from '../src/device.js';
import { descentAdamUpdate, PARAMETERS, tfjsAdamUpdate } from './adam-update.js';
import { lineChart } from './chart.js';
import { CNN_BATCH, CNN_TITLE, descentCnnStep, tfjsCnnStep } from './cnn.js';
import { countingGpu, GpuCounter, type GpuCounts } from './counting-gpu.js';
import { descentMatmulSide, type MatmulBenchRow } from './matmul.js';
import { tfMatmulSide } from './matmul-tfjs.js';
import { BATCH, descentStep, mlpData, type OptimizerKind, type StepBench, tfjsStep } from './mlp.js';
import { type BundleBench, type Environment, type Outcome, renderResults, type Results, type Row, SIDE_TITLE, SIDES, type SideName } from './report.js';
import { tf, type TfBackendName, type TfWebGpu, useTfWasm, useTfWebGpu } from './tfjs-setup.js';
import { benchTorch, type TorchJob } from './torch.js';
import { descentGptStep, GPT_TITLE, gptParameters } from './transformer.js';
import { type Prepared, runSides, type Side, type WindowPlan } from './timing.js';

const CASES = ['mlp', 'cnn', 'transformer', 'matmul', 'adam', 'torch', 'bundle', 'sweep'] as const;
type CaseName = (typeof CASES)[number];

const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = args.includes('--quick');
const noGpu = args.includes('--no-gpu');
const only = option('only')?.split(',') ?? [...CASES];
for (const name of only) if (!CASES.includes(name as CaseName)) throw new Error(`bench: unknown case '${name}' (cases: ${CASES.join(', ')})`);
const selected = (name: CaseName) => only.includes(name);
const full = only.length === CASES.length && !quick && !noGpu;
const out = option('out') ?? (full ? 'bench/RESULTS.md' : undefined);
const command = process.env.DESCENT_BENCH_COMMAND ?? 'npm run bench';

/**
 * Repetitions sized for SwiftShader on 2 busy cores, where an MLP step at batch 128 takes
 * 0.1-0.4 s in Descent on WebGPU and 0.6-2.5 s in tfjs-webgpu (a CNN step up to 6 s there), 5-150
 * ms on the WebAssembly backends and 0.2-0.7 s on the JavaScript ones, depending on the load, and
 * the first steps compile shaders for up to a minute. Every side of the main rows times at least
 * 10 windows after its warm-up (`minWindows`); a budget only stops a side early once it has them.
 * The matmul sizes and the batch sweep bound their slow sides by time instead (see below), and the
 * report shows every window count.
 */
const PLANS = {
  gpuStep: { warmup: 3, perWindow: 2, windows: 12, minWindows: 10, budgetMs: 10_000 },
  tfGpuStep: { warmup: 2, perWindow: 1, windows: 12, minWindows: 10, budgetMs: 15_000 },
  fastCpuStep: { warmup: 5, perWindow: 2, windows: 20, minWindows: 10, budgetMs: 4_000 },
  slowCpuStep: { warmup: 2, perWindow: 1, windows: 12, minWindows: 10, budgetMs: 6_000 },
  gpuAdam: { warmup: 3, perWindow: 8, windows: 12, minWindows: 10, budgetMs: 10_000 },
  tfGpuAdam: { warmup: 3, perWindow: 4, windows: 12, minWindows: 10, budgetMs: 15_000 },
  cpuAdam: { warmup: 3, perWindow: 4, windows: 12, minWindows: 10, budgetMs: 6_000 },
  /** ~1.3 s a step on SwiftShader: one step per window. */
  gpuTransformer: { warmup: 2, perWindow: 1, windows: 10, minWindows: 10 },
} satisfies Record<string, WindowPlan>;
const QUICK: WindowPlan = { warmup: 1, perWindow: 1, windows: 2, minWindows: 1 };
const plan = (name: keyof typeof PLANS): WindowPlan => (quick ? QUICK : PLANS[name]);

const MATMUL_SIZES = quick ? [128] : [128, 256, 512, 1024];
/** Per side and size: a slow backend stops after 3 windows once it has spent this long. */
const MATMUL_BUDGET_MS = 12_000;
const matmulPlan = (size: number): WindowPlan =>
  quick ? QUICK : { warmup: size >= 512 ? 1 : 2, perWindow: size <= 128 ? 8 : size <= 256 ? 2 : 1, windows: 10, minWindows: 3, budgetMs: MATMUL_BUDGET_MS };

const SWEEP_BATCHES = quick ? [32, 128] : [16, 32, 64, 128, 256, 512];
/** Per side and batch size: a slow side stops after 5 windows once it has spent this long. */
const SWEEP_BUDGET_MS = 6_000;
const sweepPlan = (perWindow: number): WindowPlan => (quick ? QUICK : { warmup: 2, perWindow, windows: 10, minWindows: 5, budgetMs: SWEEP_BUDGET_MS });

const started = performance.now();
const clock = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const log = (line: string) => console.log(`[${clock()}] ${line}`);
let failures = 0;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

function failure(label: string, e: unknown): { ok: false; error: string } {
  failures++;
  log(`FAILED ${label}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return { ok: false, error: message(e) };
}

/** A side to prepare: its name in the report, and how to build it (which may fail on its own). */
interface Entry<T> {
  readonly side: SideName;
  make(): Prepared<T> | Promise<Prepared<T>>;
}

/**
 * Wraps a side so that an error in it ends only that side: later calls do nothing (its windows
 * then take no time and are discarded), and its row reports the error.
 */
function guarded<T>(label: string, p: Prepared<T>): { prepared: Prepared<T>; error: () => string | undefined } {
  let error: string | undefined;
  const fail = (e: unknown) => {
    if (error === undefined) error = failure(label, e).error;
  };
  const s = p.side;
  const side: Side = {
    label: s.label,
    plan: s.plan,
    enqueue(i) {
      if (error !== undefined) return;
      try {
        s.enqueue(i);
      } catch (e) {
        fail(e);
      }
    },
    async settle() {
      if (error !== undefined) return;
      try {
        await s.settle();
      } catch (e) {
        fail(e);
      }
    },
    onTimed: () => s.onTimed?.(),
    async enter() {
      if (error !== undefined) return;
      try {
        await s.enter?.();
      } catch (e) {
        fail(e);
      }
    },
  };
  return { prepared: { side, finish: (t) => p.finish(t) }, error: () => error };
}

/**
 * Prepares the entries and times them in turns (bench/timing.ts), printing each round. A side
 * that fails to prepare or to run is reported as failed; the others go on.
 */
async function turns<T>(title: string, entries: Entry<T>[], summary: (value: T) => string): Promise<Row<T>[]> {
  if (entries.length === 0) return [];
  log(`${title}: ${entries.map((e) => e.side).join(' vs ')}, windows in turns ...`);
  const t0 = performance.now();
  const rows: Row<T>[] = entries.map((e) => ({ side: e.side, outcome: { ok: false, error: 'not run' } }));
  const live: { index: number; guard: ReturnType<typeof guarded<T>> }[] = [];
  for (const [index, e] of entries.entries()) {
    try {
      live.push({ index, guard: guarded(`${title} · ${e.side}`, await e.make()) });
    } catch (err) {
      rows[index]!.outcome = failure(`${title} · ${e.side} (preparing)`, err);
    }
  }
  let round = 0;
  const labels = live.map((l) => entries[l.index]!.side);
  try {
    const values = await runSides(
      live.map((l) => l.guard.prepared),
      {
        warmed: (label, ms) => log(`  warm-up of ${label}: ${(ms / 1000).toFixed(1)} s`),
        round: (ms) => log(`  window ${++round}: ${ms.map((x, i) => `${labels[i]} ${Number.isNaN(x) ? 'done' : `${x.toFixed(1)} ms`}`).join(', ')}`),
      },
    );
    live.forEach((l, i) => {
      const error = l.guard.error();
      rows[l.index]!.outcome = error === undefined ? { ok: true, value: values[i]! } : { ok: false, error };
      if (error === undefined) log(`${title} · ${labels[i]}: ${summary(values[i]!)}`);
    });
  } catch (err) {
    const f = failure(title, err);
    for (const l of live) rows[l.index]!.outcome = f;
  }
  log(`${title} finished (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return rows;
}

const stepSummary = (b: { timing: { medianMs: number; windowsMs: number[] }; counts?: GpuCounts }) => {
  const c = b.counts;
  const n = (x: number) => String(Math.round(x * 100) / 100);
  return (
    `${b.timing.medianMs.toFixed(2)} ms (${b.timing.windowsMs.length} windows)` +
    (c ? `, ${n(c.submits)} submits, ${n(c.dispatches)} dispatches, ${n(c.bindGroups)} bind groups, ${n(c.buffers)} buffers` : '')
  );
};
const matmulSummary = (r: MatmulBenchRow) => `${r.medianMs.toFixed(2)} ms, ${r.gflops.toFixed(2)} GFLOP/s (${r.runs} runs)`;

function version(pkg: string): string {
  try {
    return JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, 'utf8')).version as string;
  } catch {
    return '?';
  }
}

async function environment(gpu: GPU): Promise<Environment> {
  const adapter = await gpu.requestAdapter();
  const info = adapter?.info;
  const adapterText = info
    ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(', ') || 'unnamed adapter'
    : 'no adapter';
  const cpu = cpus();
  return {
    date: new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
    command: command + (args.length ? ` -- ${args.join(' ')}` : ''),
    machine: `${cpu[0]?.model ?? 'unknown CPU'} × ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}`,
    adapter: `${adapterText} (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? 'unset'})`,
    software:
      `Node ${process.versions.node}, webgpu (Dawn) ${version('webgpu')}, @tensorflow/tfjs ${version('@tensorflow/tfjs')}, ` +
      `tfjs-backend-webgpu ${version('@tensorflow/tfjs-backend-webgpu')}, tfjs-backend-wasm ${version('@tensorflow/tfjs-backend-wasm')}`,
    revision: process.env.DESCENT_BENCH_REVISION ?? 'unknown',
    load: [loadavg()[0]!.toFixed(2)],
    caseLoad: {},
  };
}

interface Devices {
  gpu?: Device;
  gpuCounter: GpuCounter;
  wasm: Device;
  twins: Device;
  tfw?: TfWebGpu;
  tfCounter: GpuCounter;
}

/** What a tfjs side waits on at the end of a window: tfjs-webgpu's queue; the CPU backends compute synchronously. */
function tfSettle(d: Devices, backend: TfBackendName): () => Promise<void> {
  return backend === 'webgpu' ? d.tfw!.settle : async () => {};
}

async function main(): Promise<number> {
  Object.assign(globalThis, globals);
  // One Dawn instance for both libraries; it must stay referenced while their devices run.
  const dawn = create([]) as GPU;
  const env = await environment(dawn);
  log(`adapter: ${env.adapter}`);
  const counting = countingGpu(dawn);
  const d: Devices = {
    gpuCounter: counting.counter,
    tfCounter: new GpuCounter(),
    wasm: await createDevice({ backend: 'cpu' }),
    twins: await createDevice({ backend: 'cpu', wasm: false }),
  };
  if (!noGpu) {
    d.gpu = await createDevice({ backend: 'webgpu', gpu: counting.gpu });
    d.tfw = await useTfWebGpu(dawn, d.tfCounter);
  }
  await useTfWasm();
  env.descentCpu = `${d.wasm.backend.description} (createDevice({ backend: 'cpu' }): ${d.wasm.reason})`;
  log(`Descent on ${d.gpu?.backend.description ?? 'no WebGPU (--no-gpu)'} and ${env.descentCpu}; TF.js backends: ${noGpu ? '' : 'webgpu, '}wasm, cpu`);
  const results: Results = { env, quick };
  const gpuOnly = <T>(entries: (Entry<T> | false)[]) => entries.filter((e): e is Entry<T> => e !== false);

  /** The MLP step entries of one optimizer kind and batch, on the sides asked for. */
  const mlpEntries = (kind: OptimizerKind, batch: number, sides: SideName[], plans: Partial<Record<SideName, WindowPlan>>): Entry<StepBench>[] => {
    const data = mlpData(7, batch);
    const p = (side: SideName, fallback: WindowPlan) => plans[side] ?? fallback;
    const all: Record<SideName, Entry<StepBench> | false> = {
      'descent-webgpu': !!d.gpu && { side: 'descent-webgpu', make: () => descentStep(d.gpu!, d.gpuCounter, kind, data, p('descent-webgpu', plan('gpuStep')), `Descent webgpu ${kind} ${batch}`) },
      'tfjs-webgpu': !!d.tfw && { side: 'tfjs-webgpu', make: () => tfjsStep('webgpu', kind, data, p('tfjs-webgpu', plan('tfGpuStep')), d.tfCounter) },
      'descent-wasm': { side: 'descent-wasm', make: () => descentStep(d.wasm, undefined, kind, data, p('descent-wasm', plan('fastCpuStep')), `Descent wasm ${kind} ${batch}`) },
      'descent-twins': { side: 'descent-twins', make: () => descentStep(d.twins, undefined, kind, data, p('descent-twins', plan('slowCpuStep')), `Descent twins ${kind} ${batch}`) },
      'tfjs-wasm': { side: 'tfjs-wasm', make: () => tfjsStep('wasm', kind, data, p('tfjs-wasm', plan('fastCpuStep'))) },
      'tfjs-cpu': { side: 'tfjs-cpu', make: () => tfjsStep('cpu', kind, data, p('tfjs-cpu', plan('slowCpuStep'))) },
    };
    return gpuOnly(sides.map((s) => all[s]));
  };

  if (selected('mlp')) {
    env.caseLoad.mlp = loadavg()[0]!.toFixed(2);
    results.mlp = { batch: BATCH, kinds: [] };
    for (const [n, kind] of (['sgd', 'adam', 'adam-dropout-clip'] as OptimizerKind[]).entries()) {
      const title = `1${'abc'[n]} MLP step, ${kind}`;
      const gpuRows = await turns(`${title}, WebGPU`, mlpEntries(kind, BATCH, ['descent-webgpu', 'tfjs-webgpu'], {}), stepSummary);
      const cpuRows = await turns(`${title}, CPU`, mlpEntries(kind, BATCH, ['descent-wasm', 'descent-twins', 'tfjs-wasm', 'tfjs-cpu'], {}), stepSummary);
      results.mlp.kinds.push({ kind, gpu: gpuRows, cpu: cpuRows });
    }
  }

  if (selected('cnn')) {
    env.caseLoad.cnn = loadavg()[0]!.toFixed(2);
    const gpuRows = await turns(
      '2 CNN step, WebGPU',
      gpuOnly([
        !!d.gpu && { side: 'descent-webgpu', make: () => descentCnnStep(d.gpu!, d.gpuCounter, plan('gpuStep'), 'Descent webgpu CNN') },
        !!d.tfw && { side: 'tfjs-webgpu', make: () => tfjsCnnStep('webgpu', plan('tfGpuStep'), d.tfCounter) },
      ]),
      stepSummary,
    );
    const cpuRows = await turns(
      '2 CNN step, CPU',
      [
        { side: 'descent-wasm', make: () => descentCnnStep(d.wasm, undefined, plan('fastCpuStep'), 'Descent wasm CNN') },
        { side: 'tfjs-wasm', make: () => tfjsCnnStep('wasm', plan('fastCpuStep')) },
      ],
      stepSummary,
    );
    results.cnn = { batch: CNN_BATCH, title: CNN_TITLE, gpu: gpuRows, cpu: cpuRows };
  }

  if (selected('transformer')) {
    env.caseLoad.transformer = loadavg()[0]!.toFixed(2);
    const rows = await turns(
      '3 transformer step',
      gpuOnly([
        !!d.gpu && { side: 'descent-webgpu', make: () => descentGptStep(d.gpu!, d.gpuCounter, plan('gpuTransformer'), 'Descent webgpu transformer') },
        { side: 'descent-wasm', make: () => descentGptStep(d.wasm, undefined, plan('fastCpuStep'), 'Descent wasm transformer') },
      ]),
      stepSummary,
    );
    results.transformer = { title: GPT_TITLE, parameters: gptParameters(), rows };
  }

  if (selected('matmul')) {
    env.caseLoad.matmul = loadavg()[0]!.toFixed(2);
    results.matmul = { sizes: MATMUL_SIZES, budgetMs: MATMUL_BUDGET_MS, bySize: [] };
    for (const size of MATMUL_SIZES) {
      const p = matmulPlan(size);
      const rows = await turns(
        `4 matmul ${size}`,
        gpuOnly<MatmulBenchRow>([
          !!d.gpu && { side: 'descent-webgpu', make: () => descentMatmulSide(d.gpu!.backend, size, p, `Descent webgpu matmul ${size}`) },
          { side: 'descent-wasm', make: () => descentMatmulSide(d.wasm.backend, size, p, `Descent wasm matmul ${size}`) },
          !!d.tfw && { side: 'tfjs-webgpu', make: () => tfMatmulSide('webgpu', size, p, tfSettle(d, 'webgpu')) },
          { side: 'tfjs-wasm', make: () => tfMatmulSide('wasm', size, p, tfSettle(d, 'wasm')) },
          { side: 'tfjs-cpu', make: () => tfMatmulSide('cpu', size, p, tfSettle(d, 'cpu')) },
        ]),
        matmulSummary,
      );
      results.matmul.bySize.push({ size, rows });
    }
  }

  if (selected('adam')) {
    env.caseLoad.adam = loadavg()[0]!.toFixed(2);
    const gpuRows = await turns(
      '5 Adam update (1M parameters), WebGPU',
      gpuOnly([
        !!d.gpu && { side: 'descent-webgpu', make: () => descentAdamUpdate(d.gpu!.backend, d.gpuCounter, plan('gpuAdam'), 'Descent webgpu Adam update') },
        !!d.tfw && { side: 'tfjs-webgpu', make: () => tfjsAdamUpdate('webgpu', tfSettle(d, 'webgpu'), d.tfCounter, plan('tfGpuAdam')) },
      ]),
      stepSummary,
    );
    const cpuRows = await turns(
      '5 Adam update (1M parameters), CPU',
      [
        { side: 'descent-wasm', make: () => descentAdamUpdate(d.wasm.backend, undefined, plan('cpuAdam'), 'Descent wasm Adam update') },
        { side: 'tfjs-wasm', make: () => tfjsAdamUpdate('wasm', tfSettle(d, 'wasm'), undefined, plan('cpuAdam')) },
        { side: 'tfjs-cpu', make: () => tfjsAdamUpdate('cpu', tfSettle(d, 'cpu'), undefined, plan('cpuAdam')) },
      ],
      stepSummary,
    );
    results.adam = { parameters: PARAMETERS, gpu: gpuRows, cpu: cpuRows };
  }

  if (selected('torch') || selected('sweep')) {
    env.caseLoad.torch = loadavg()[0]!.toFixed(2);
    const threads = [...new Set([1, cpus().length])];
    const jobs: TorchJob[] = [];
    if (selected('torch')) for (const kind of ['sgd', 'adam', 'adam-dropout-clip'] as OptimizerKind[]) for (const t of threads) jobs.push({ kind, batch: BATCH, threads: t });
    if (selected('sweep')) for (const batch of SWEEP_BATCHES) if (!jobs.some((j) => j.kind === 'adam' && j.batch === batch && j.threads === 1)) jobs.push({ kind: 'adam', batch, threads: 1 });
    log(`6 PyTorch CPU reference: ${jobs.length} configurations ...`);
    try {
      results.torch = { ok: true, value: await benchTorch(quick ? jobs.slice(0, 2) : jobs, (line) => log(`  ${line}`)) };
      if (results.torch.value.available === false) log(`6 PyTorch skipped: ${results.torch.value.reason}`);
    } catch (e) {
      results.torch = failure('6 PyTorch', e);
    }
  }

  if (selected('bundle')) {
    env.caseLoad.bundle = loadavg()[0]!.toFixed(2);
    log('7 bundle size ...');
    try {
      // A child process: esbuild, which builds the bundle, cannot be bundled into this script.
      const b = JSON.parse(execFileSync(process.execPath, ['scripts/bundle-size.mjs', '--json'], { encoding: 'utf8' })) as BundleBench;
      results.bundle = { ok: true, value: b };
      log(`7 bundle size: ${(b.descent.gzip / 1024).toFixed(1)} KB minified + gzip`);
    } catch (e) {
      results.bundle = failure('7 bundle size', e);
    }
  }

  if (selected('sweep')) {
    env.caseLoad.sweep = loadavg()[0]!.toFixed(2);
    results.sweep = { batches: SWEEP_BATCHES, budgetMs: SWEEP_BUDGET_MS, byBatch: [] };
    const perWindow: Record<SideName, number> = { 'descent-webgpu': 1, 'tfjs-webgpu': 1, 'descent-wasm': 4, 'descent-twins': 1, 'tfjs-wasm': 2, 'tfjs-cpu': 1 };
    const plans = Object.fromEntries(SIDES.map((s) => [s, sweepPlan(perWindow[s])])) as Record<SideName, WindowPlan>;
    for (const batch of SWEEP_BATCHES) {
      const rows = await turns(`8 MLP Adam step at batch ${batch}`, mlpEntries('adam', batch, [...SIDES], plans), stepSummary);
      results.sweep.byBatch.push({ batch, rows });
    }
  }

  env.load.push(loadavg()[0]!.toFixed(2));
  write(results, out);
  log(`done${failures ? `, ${failures} failure(s)` : ''}`);
  for (const dev of [d.gpu, d.wasm, d.twins]) dev?.dispose();
  d.tfw?.backend.dispose();
  void dawn;
  return failures ? 1 : 0;
}

/** Writes the report to `out` with results.json and the chart beside it, or prints the report. */
function write(results: Results, to: string | undefined, json = true): void {
  if (to) mkdirSync(dirname(to), { recursive: true });
  if (results.sweep && to) {
    results.sweep.chart = 'step-vs-batch.svg';
    const chartFile = join(dirname(to), results.sweep.chart);
    try {
      const subtitle = `WebGPU: ${results.env.adapter.split(' (')[0]}; ${results.env.machine.split(',')[0]}; ${results.env.date}`;
      writeFileSync(chartFile, lineChart(sweepSeries(results), { title: 'MLP 784-256-256-10, Adam: time per train step', subtitle, xLabel: 'batch size', yLabel: 'ms per step (median)' }));
      log(`wrote ${chartFile}`);
    } catch (e) {
      failure('chart', e);
    }
  }
  const report = renderResults(results);
  if (!to) {
    console.log(`\n${report}`);
    return;
  }
  writeFileSync(to, report);
  log(`wrote ${to}`);
  if (json) {
    const file = join(dirname(to), 'results.json');
    writeFileSync(file, `${JSON.stringify(results, null, 1)}\n`);
    log(`wrote ${file}`);
  }
}

/** The chart's lines: each side of the sweep, and PyTorch (one thread) as a dashed reference. */
function sweepSeries(r: Results): { label: string; points: { x: number; y: number }[]; dashed?: boolean }[] {
  const series = SIDES.map((side) => ({
    label: SIDE_TITLE[side],
    points: r.sweep!.byBatch.flatMap((b) => {
      const o = b.rows.find((row) => row.side === side)?.outcome;
      return o?.ok ? [{ x: b.batch, y: o.value.timing.medianMs }] : [];
    }),
  })).filter((s) => s.points.length > 0);
  const torch = r.torch?.ok && r.torch.value.available ? r.torch.value.rows.filter((row) => row.kind === 'adam' && row.threads === 1) : [];
  const torchPoints = torch.filter((row) => r.sweep!.batches.includes(row.batch)).map((row) => ({ x: row.batch, y: row.medianMs }));
  if (torchPoints.length) series.push({ label: 'PyTorch CPU (1 thread)', points: torchPoints, dashed: true } as (typeof series)[number]);
  return series;
}

/**
 * `--render=DIR/results.json`: renders the report and chart of an earlier run again (after a
 * change to report.ts or chart.ts) into DIR/RESULTS.md, or `--out`, without measuring anything.
 */
const render = option('render');
if (render) {
  const earlier = JSON.parse(readFileSync(render, 'utf8')) as Results;
  write({ ...earlier, env: { ...earlier.env, caseLoad: earlier.env.caseLoad ?? {} } }, option('out') ?? join(dirname(render), 'RESULTS.md'), false);
  process.exit(0);
}
process.exit(await main());
