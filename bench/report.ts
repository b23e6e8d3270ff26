/** Renders bench/RESULTS.md from the measurements of bench/main.ts. */
import type { UpdateBench } from './adam-update.js';
import type { GpuCounts } from './counting-gpu.js';
import type { MatmulBenchRow } from './matmul.js';
import type { OptimizerKind, StepBench } from './mlp.js';

export interface Environment {
  readonly date: string;
  readonly command: string;
  readonly machine: string;
  readonly adapter: string;
  readonly software: string;
  readonly revision: string;
  /** 1-minute load averages when the run started and ended: other work on the machine skews timings. */
  load: string;
}

/** A measurement, or why it is missing. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

export interface MlpCase {
  readonly kind: OptimizerKind;
  readonly descent: Outcome<StepBench>;
  readonly tfWebgpu: Outcome<StepBench>;
  readonly tfCpu: Outcome<StepBench>;
}

export interface Results {
  readonly env: Environment;
  mlp?: MlpCase[];
  adam?: { descent: Outcome<UpdateBench>; tfjs: Outcome<UpdateBench>; parameters: number };
  matmul?: { descent: Outcome<MatmulBenchRow[]>; tfjs: Outcome<MatmulBenchRow[]> };
  bundle?: Outcome<BundleBench>;
}

/** What `node scripts/bundle-size.mjs --json` prints: bytes, and TF.js's published bundles. */
export interface BundleBench {
  readonly descent: { raw: number; min: number; gzip: number; parts: Record<string, number> };
  readonly tfjs: { min: number; gzip: number } | null;
  readonly webgpu: { min: number; gzip: number } | null;
  readonly target: number;
}

/** The tfjs-webgpu step our design notes measured (MLP 784-256-256-10, batch 128, Adam). */
const DESIGN_NOTE_TFJS = 'tfjs-webgpu: 9 submits, 127 dispatches, 127 new bind groups, 41 new buffers per step';

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const count = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));

/** "0.21 (4.8× faster)": Descent's time over the other side's. */
function ratio(descentMs: number, otherMs: number): string {
  const r = descentMs / otherMs;
  const speed = r <= 1 ? `${(1 / r).toFixed(1)}× faster` : `${r.toFixed(1)}× slower`;
  return `${r.toFixed(3)} (${speed})`;
}

function countCells(c: GpuCounts | undefined): string {
  if (!c) return '– | – | – | – | –';
  return [c.submits, c.dispatches, c.bindGroups, c.buffers, c.writes].map(count).join(' | ');
}

function windows(b: { timing: { windowsMs: number[]; perWindow: number } }): string {
  return `${b.timing.windowsMs.length} × ${b.timing.perWindow}`;
}

/** The fastest and slowest window, per iteration: how much the machine's load moved things. */
function spread(b: { timing: { windowsMs: number[] } }): string {
  return `${ms(Math.min(...b.timing.windowsMs))}–${ms(Math.max(...b.timing.windowsMs))}`;
}

function failed(label: string, o: Outcome<unknown>): string {
  return o.ok ? '' : `\n**${label} failed:** ${o.error.split('\n')[0]}\n`;
}

function mlpSection(cases: MlpCase[], command: string): string {
  const out = [
    '## 1. Train step: MLP 784-256-256-10, batch 128',
    '',
    `Command: \`${command}\` (this case alone: \`npm run bench -- --only=mlp\`).`,
    '',
    'One step = upload the batch, forward, softmax cross-entropy, backward, optimizer update.',
    'Descent: `trainer.step(x, y)` N times, then the last loss is awaited and `trainer.idle()`.',
    "TF.js: `optimizer.minimize` over `tf.fused.matMul` layers (bias + ReLU fused, as tf.layers' Dense",
    'does) N times, then the last loss is read back. Both start from the same weights and see the same',
    'batches; the first-step losses below must agree. Times: the median over timed windows of the',
    "window's time per step (windows × steps per window, after warm-up steps); Descent's and TF.js",
    "webgpu's windows alternate, so both see the same load; TF.js cpu runs after them. GPU counts are",
    'per step over the timed windows, reading back the last loss of each window included: queue',
    'submits, dispatches (`dispatchWorkgroups`), bind groups created, buffers created,',
    "`queue.writeBuffer` calls. Descent's fraction of a submit above 1 is the step log's copy-only",
    'submit that delivers the last loss of a window (during training it rides in the next step).',
    '',
  ];
  for (const c of cases) {
    out.push(`### 1${c.kind === 'sgd' ? 'a' : 'b'}. ${c.kind === 'sgd' ? 'SGD (lr 0.05)' : 'Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8)'}`, '');
    out.push('| side | median ms/step | window range | windows × steps | submits | dispatches | bind groups | buffers | writes | first loss |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    const rows: [string, Outcome<StepBench>][] = [
      ['Descent, WebGPU', c.descent],
      ['TF.js, webgpu', c.tfWebgpu],
      ['TF.js, cpu', c.tfCpu],
    ];
    for (const [label, o] of rows) {
      if (!o.ok) out.push(`| ${label} | failed | | | | | | | | |`);
      else {
        const v = o.value;
        out.push(`| ${label} | ${ms(v.timing.medianMs)} | ${spread(v)} | ${windows(v)} | ${countCells(v.counts)} | ${v.firstLoss.toPrecision(7)} |`);
      }
    }
    out.push('');
    if (c.descent.ok) {
      const d = c.descent.value.timing.medianMs;
      if (c.tfWebgpu.ok) out.push(`- Descent / TF.js webgpu time: ${ratio(d, c.tfWebgpu.value.timing.medianMs)}`);
      if (c.tfCpu.ok) out.push(`- Descent / TF.js cpu time: ${ratio(d, c.tfCpu.value.timing.medianMs)}`);
    }
    for (const [label, o] of rows) out.push(failed(label, o));
  }
  out.push(`Reference from the design notes (Adam): ${DESIGN_NOTE_TFJS}.`, '');
  return out.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n');
}

function adamSection(adam: NonNullable<Results['adam']>, command: string): string {
  const out = [
    `## 2. Adam update alone, ${adam.parameters.toLocaleString('en-US')} parameters`,
    '',
    `Command: \`${command}\` (this case alone: \`npm run bench -- --only=adam\`).`,
    '',
    'A Linear(1000, 1000) (weight and bias) with fixed gradients. Descent: only the launches that',
    "`optim.planUpdate` plans for the optimizer (the same ones the Trainer appends to a step), run as",
    'one program per update after `beforeStep()` writes the step scalars. TF.js:',
    '`tf.train.adam(1e-3, 0.9, 0.999, 1e-8).applyGradients({weight, bias})` on the webgpu backend.',
    'N updates are enqueued, then the queue is flushed and awaited; windows of the two sides alternate.',
    '',
    '| side | median ms/update | window range | windows × updates | submits | dispatches | bind groups | buffers | writes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const rows: [string, Outcome<UpdateBench>][] = [
    ['Descent, WebGPU', adam.descent],
    ['TF.js, webgpu', adam.tfjs],
  ];
  for (const [label, o] of rows) {
    if (!o.ok) out.push(`| ${label} | failed | | | | | | | |`);
    else out.push(`| ${label} | ${ms(o.value.timing.medianMs)} | ${spread(o.value)} | ${windows(o.value)} | ${countCells(o.value.counts)} |`);
  }
  out.push('');
  if (adam.descent.ok && adam.tfjs.ok) {
    const speedup = adam.tfjs.value.timing.medianMs / adam.descent.value.timing.medianMs;
    out.push(`- Descent / TF.js time: ${ratio(adam.descent.value.timing.medianMs, adam.tfjs.value.timing.medianMs)}; target ≥ 10× faster: ${speedup >= 10 ? 'met' : 'NOT met'}.`);
  }
  for (const [label, o] of rows) out.push(failed(label, o));
  return out.join('\n');
}

function matmulSection(mm: NonNullable<Results['matmul']>, command: string): string {
  const out = [
    '## 3. Matmul throughput (C = A · B, square, f32)',
    '',
    `Command: \`${command}\` (this case alone: \`npm run bench -- --only=matmul\`).`,
    '',
    'Descent: `benchMatmul` of bench/matmul.ts (the matmul kernel compiled as a one-launch program).',
    'TF.js: `tf.matMul` on the webgpu backend. Both: 2 warm-up runs, then the median of the timed runs',
    '(TF.js stops a size after 25 s once it has 3), each waiting for the queue; the product is not read',
    'back. The sides take turns size by size. GFLOP/s = 2·n³ / median time.',
    '',
    '| size | runs (Descent / TF.js) | Descent ms | Descent GFLOP/s | TF.js ms | TF.js GFLOP/s | Descent / TF.js time |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const d = mm.descent.ok ? mm.descent.value : [];
  const t = mm.tfjs.ok ? mm.tfjs.value : [];
  const sizes = [...new Set([...d, ...t].map((r) => r.size))].sort((a, b) => a - b);
  for (const size of sizes) {
    const a = d.find((r) => r.size === size);
    const b = t.find((r) => r.size === size);
    const cell = (r: MatmulBenchRow | undefined) => (r ? `${ms(r.medianMs)} | ${r.gflops.toFixed(2)}` : '– | –');
    out.push(`| ${size} | ${a?.runs ?? '–'} / ${b?.runs ?? '–'} | ${cell(a)} | ${cell(b)} | ${a && b ? ratio(a.medianMs, b.medianMs) : '–'} |`);
  }
  out.push(failed('Descent', mm.descent), failed('TF.js', mm.tfjs));
  return out.join('\n');
}

function bundleSection(o: Outcome<BundleBench>): string {
  const out = [
    '## 4. Library bundle size',
    '',
    'Command: `node scripts/bundle-size.mjs` (this case alone: `npm run bench -- --only=bundle`).',
    '',
    'Descent: src/index.ts bundled by esbuild for the browser, every dependency and all WGSL included',
    '(WGSL minified as in `npm run build`), then minified; gzip at level 9. TF.js: its published',
    'minified bundles as installed (`tf.min.js`, `tf-backend-webgpu.min.js`), gzipped the same way.',
    '',
    '| bundle | minified KB | minified + gzip KB |',
    '|---|---:|---:|',
  ];
  if (!o.ok) return [...out, failed('Bundle size', o)].join('\n');
  const b = o.value;
  const kb = (n: number) => (n / 1024).toFixed(1);
  const parts = Object.entries(b.descent.parts).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${kb(v)}`).join(', ');
  out.push(`| Descent (${parts} KB minified) | ${kb(b.descent.min)} | ${kb(b.descent.gzip)} |`);
  if (b.tfjs) out.push(`| TF.js \`@tensorflow/tfjs\` | ${kb(b.tfjs.min)} | ${kb(b.tfjs.gzip)} |`);
  if (b.webgpu) out.push(`| TF.js \`@tensorflow/tfjs-backend-webgpu\` | ${kb(b.webgpu.min)} | ${kb(b.webgpu.gzip)} |`);
  out.push('', `- Target ≤ ${kb(b.target)} KB minified + gzip: ${b.descent.gzip <= b.target ? 'met' : 'NOT met'}.`);
  return out.join('\n');
}

export function renderResults(r: Results): string {
  const { env } = r;
  const parts = [
    '# Benchmarks: Descent vs TensorFlow.js',
    '',
    `Generated by \`${env.command}\` (scripts/bench.mjs runs bench/main.ts) on ${env.date}. Both`,
    'libraries run in one Node process on the same WebGPU adapter (Dawn from the `webgpu` package,',
    'one device each); TF.js uses tfjs-backend-webgpu, constructed on that adapter in Node.',
    'Ratios are Descent time / TF.js time: below 1 means Descent is faster. SwiftShader runs the',
    "shaders on the same CPU cores as both libraries' JavaScript and anything else on the machine, so",
    'timings move with the load average below; the window ranges show by how much.',
    '',
    `- Machine: ${env.machine}`,
    `- Adapter: ${env.adapter}`,
    `- Software: ${env.software}`,
    `- Descent revision: ${env.revision}`,
    `- Load average (1 min) at start / end: ${env.load}`,
    '',
  ];
  if (r.mlp) parts.push(mlpSection(r.mlp, env.command), '');
  if (r.adam) parts.push(adamSection(r.adam, env.command), '');
  if (r.matmul) parts.push(matmulSection(r.matmul, env.command), '');
  if (r.bundle) parts.push(bundleSection(r.bundle), '');
  return `${parts.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
