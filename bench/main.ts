/**
 * `npm run bench`: Descent and TensorFlow.js side by side in one process, on one Dawn instance,
 * each with its own counting device. Bundled and started by scripts/bench.mjs; writes
 * bench/RESULTS.md after a full run.
 *
 *   npm run bench                       # every case, ~5 minutes on SwiftShader with 2 cores
 *   npm run bench -- --only=adam,matmul # some cases; prints the report instead of writing it
 *   npm run bench -- --quick            # few repetitions, to check that everything runs
 *   npm run bench -- --out=FILE         # write the report to FILE
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { create, globals } from 'webgpu';
import { createDevice } from '../src/device.js';
import { descentAdamUpdate, PARAMETERS, tfjsAdamUpdate } from './adam-update.js';
import { countingGpu, GpuCounter, type GpuCounts } from './counting-gpu.js';
import { benchMatmul, type MatmulBenchRow } from './matmul.js';
import { benchTfMatmul } from './matmul-tfjs.js';
import { descentStep, mlpData, type OptimizerKind, tfjsStep } from './mlp.js';
import { type BundleBench, type Environment, type Outcome, renderResults, type Results } from './report.js';
import { tf, useTfCpu, useTfWebGpu } from './tfjs-setup.js';
import { type Prepared, runSides, type WindowPlan } from './timing.js';

const CASES = ['mlp', 'adam', 'matmul', 'bundle'] as const;
type CaseName = (typeof CASES)[number];

const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = args.includes('--quick');
const only = option('only')?.split(',') ?? [...CASES];
for (const name of only) if (!CASES.includes(name as CaseName)) throw new Error(`bench: unknown case '${name}' (cases: ${CASES.join(', ')})`);
const selected = (name: CaseName) => only.includes(name);
const out = option('out') ?? (only.length === CASES.length && !quick ? 'bench/RESULTS.md' : undefined);
const command = process.env.DESCENT_BENCH_COMMAND ?? 'npm run bench';

/**
 * Repetitions sized for SwiftShader on 2 busy cores, where a step takes ~0.5 s in Descent, ~2 s
 * in tfjs-webgpu and ~0.4 s in tfjs-cpu, a 1M Adam update 0.05-0.3 s, and the first steps
 * compile shaders for up to a minute. Budgets stop a side early, after at least three windows,
 * so a whole run stays around five minutes.
 */
const PLANS = {
  descentStep: { warmup: 3, perWindow: 6, windows: 7, budgetMs: 25_000 },
  tfWebgpuStep: { warmup: 3, perWindow: 4, windows: 7, budgetMs: 25_000 },
  tfCpuStep: { warmup: 2, perWindow: 3, windows: 5, budgetMs: 8_000 },
  descentAdam: { warmup: 3, perWindow: 8, windows: 9, budgetMs: 12_000 },
  tfAdam: { warmup: 3, perWindow: 4, windows: 9, budgetMs: 12_000 },
} satisfies Record<string, WindowPlan>;
const QUICK: WindowPlan = { warmup: 1, perWindow: 2, windows: 1, minWindows: 1 };
const plan = (name: keyof typeof PLANS): WindowPlan => (quick ? QUICK : PLANS[name]);
const MATMUL_SIZES = quick ? [128] : [256, 512, 1024];

const started = performance.now();
const clock = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const log = (line: string) => console.log(`[${clock()}] ${line}`);
let failures = 0;

function failure(e: unknown): { ok: false; error: string } {
  failures++;
  log(`FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return { ok: false, error: e instanceof Error ? e.message : String(e) };
}

/** Runs one side of a case with progress lines; a failure is reported, not fatal. */
async function side<T>(label: string, run: () => Promise<T>, summary: (value: T) => string): Promise<Outcome<T>> {
  log(`${label} ...`);
  const t0 = performance.now();
  try {
    const value = await run();
    log(`${label}: ${summary(value)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    return { ok: true, value };
  } catch (e) {
    return failure(e);
  }
}

/** Times sides in turns (see timing.ts), printing each round; one failure fails them all. */
async function turns<T>(title: string, labels: string[], prepare: () => Promise<Prepared<T>[]>, summary: (value: T) => string): Promise<Outcome<T>[]> {
  log(`${title}: ${labels.join(' vs ')}, windows in turns ...`);
  const t0 = performance.now();
  try {
    const prepared = await prepare();
    let round = 0;
    const values = await runSides(prepared, {
      warmed: (label, ms) => log(`  warm-up of ${label}: ${(ms / 1000).toFixed(1)} s`),
      round: (ms) => log(`  window ${++round}: ${ms.map((x, i) => `${labels[i]} ${Number.isNaN(x) ? 'done' : `${x.toFixed(1)} ms`}`).join(', ')}`),
    });
    values.forEach((v, i) => log(`${title} · ${labels[i]}: ${summary(v)}`));
    log(`${title} finished (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    return values.map((value) => ({ ok: true, value }));
  } catch (e) {
    const f = failure(e);
    return labels.map(() => f);
  }
}

const perStepSummary = (b: { timing: { medianMs: number }; counts?: GpuCounts }) => {
  const c = b.counts;
  const n = (x: number) => String(Math.round(x * 100) / 100);
  return `${b.timing.medianMs.toFixed(1)} ms` + (c ? `, ${n(c.submits)} submits, ${n(c.dispatches)} dispatches, ${n(c.bindGroups)} bind groups, ${n(c.buffers)} buffers` : '');
};

/** The rows of every size that ran; the first failure if any size failed. */
function joined(outcomes: Outcome<MatmulBenchRow[]>[]): Outcome<MatmulBenchRow[]> {
  const bad = outcomes.find((o) => !o.ok);
  if (bad) return bad;
  return { ok: true, value: outcomes.flatMap((o) => (o.ok ? o.value : [])) };
}

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
      `@tensorflow/tfjs-backend-webgpu ${version('@tensorflow/tfjs-backend-webgpu')}`,
    revision: process.env.DESCENT_BENCH_REVISION ?? 'unknown',
    load: loadavg()[0]!.toFixed(2),
  };
}

async function main(): Promise<number> {
  Object.assign(globalThis, globals);
  // One Dawn instance for both libraries; it must stay referenced while their devices run.
  const gpu = create([]) as GPU;
  const env = await environment(gpu);
  log(`adapter: ${env.adapter}`);
  const descentGpu = countingGpu(gpu);
  const device = await createDevice({ backend: 'webgpu', gpu: descentGpu.gpu });
  const descentCounter = descentGpu.counter;
  const tfCounter = new GpuCounter();
  const tfw = await useTfWebGpu(gpu, tfCounter);
  log(`Descent on ${device.backend.description}; TF.js on ${tf.getBackend()}`);
  const results: Results = { env };

  if (selected('mlp')) {
    const data = mlpData();
    results.mlp = [];
    for (const kind of ['sgd', 'adam'] as OptimizerKind[]) {
      const title = `1${kind === 'sgd' ? 'a' : 'b'} MLP step ${kind.toUpperCase()}`;
      await tf.setBackend('webgpu');
      const [descent, tfWebgpu] = await turns(
        title,
        ['Descent webgpu', 'TF.js webgpu'],
        async () => [descentStep(device, descentCounter, kind, data, plan('descentStep')), await tfjsStep(kind, data, plan('tfWebgpuStep'), tfCounter)],
        perStepSummary,
      );
      const tfCpu = await side(
        `${title} · TF.js cpu`,
        async () => {
          await useTfCpu();
          return (await runSides([await tfjsStep(kind, data, plan('tfCpuStep'))]))[0]!;
        },
        perStepSummary,
      );
      results.mlp.push({ kind, descent: descent!, tfWebgpu: tfWebgpu!, tfCpu });
    }
  }

  await tf.setBackend('webgpu');
  if (selected('adam')) {
    const [descent, tfjs] = await turns(
      '2 Adam update (1M parameters)',
      ['Descent webgpu', 'TF.js webgpu'],
      async () => [descentAdamUpdate(device.backend, descentCounter, plan('descentAdam')), tfjsAdamUpdate(tfw.settle, tfCounter, plan('tfAdam'))],
      perStepSummary,
    );
    results.adam = { descent: descent!, tfjs: tfjs!, parameters: PARAMETERS };
  }

  if (selected('matmul')) {
    const rows = (r: { size: number; gflops: number; medianMs: number }[]) => r.map((x) => `${x.medianMs.toFixed(1)} ms, ${x.gflops.toFixed(2)} GFLOP/s`).join(', ');
    // Size by size, one side after the other, so that both meet about the same machine load.
    const descent: Outcome<MatmulBenchRow[]>[] = [];
    const tfjs: Outcome<MatmulBenchRow[]>[] = [];
    for (const size of MATMUL_SIZES) {
      descent.push(await side(`3 matmul ${size} · Descent webgpu`, () => benchMatmul(device.backend, [size]), rows));
      tfjs.push(await side(`3 matmul ${size} · TF.js webgpu`, () => benchTfMatmul(tfw.settle, [size]), rows));
    }
    results.matmul = { descent: joined(descent), tfjs: joined(tfjs) };
  }

  if (selected('bundle')) {
    // A child process: esbuild, which builds the bundle, cannot be bundled into this script.
    const measure = async () => JSON.parse(execFileSync(process.execPath, ['scripts/bundle-size.mjs', '--json'], { encoding: 'utf8' })) as BundleBench;
    results.bundle = await side('4 bundle size', measure, (b) => `${(b.descent.gzip / 1024).toFixed(1)} KB minified + gzip`);
  }

  env.load += ` / ${loadavg()[0]!.toFixed(2)}`;
  const report = renderResults(results);
  if (out) {
    writeFileSync(out, report);
    log(`wrote ${out}`);
  } else {
    console.log(`\n${report}`);
  }
  log(`done${failures ? `, ${failures} side(s) failed` : ''}`);
  device.dispose();
  tfw.backend.dispose();
  void gpu;
  return failures ? 1 : 0;
}

process.exit(await main());
