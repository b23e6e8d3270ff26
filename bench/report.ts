/** Renders bench/RESULTS.md from the measurements of bench/main.ts (bench/results.json holds them raw). */
import type { UpdateBench } from './adam-update.js';
import type { GpuCounts } from './counting-gpu.js';
import type { MatmulBenchRow } from './matmul.js';
import { KIND_TITLE, type OptimizerKind, type StepBench } from './mlp.js';
import type { TorchBench, TorchRow } from './torch.js';

/** Every library backend the bench measures, in the order of the tables. */
export const SIDES = ['descent-webgpu', 'tfjs-webgpu', 'descent-wasm', 'descent-twins', 'tfjs-wasm', 'tfjs-cpu'] as const;
export type SideName = (typeof SIDES)[number];

export const SIDE_TITLE: Record<SideName, string> = {
  'descent-webgpu': 'Descent, WebGPU',
  'tfjs-webgpu': 'TF.js, webgpu',
  'descent-wasm': 'Descent, CPU (WebAssembly SIMD)',
  'descent-twins': 'Descent, CPU (TypeScript twins)',
  'tfjs-wasm': 'TF.js, wasm (XNNPACK, SIMD, 1 thread)',
  'tfjs-cpu': 'TF.js, cpu (JavaScript)',
};

export interface Environment {
  readonly date: string;
  readonly command: string;
  readonly machine: string;
  readonly adapter: string;
  readonly software: string;
  readonly revision: string;
  /** What `createDevice({ backend: 'cpu' })` gave, and why. */
  descentCpu?: string;
  /** 1-minute load averages when the run started and ended: other work on the machine skews timings. */
  readonly load: string[];
  /** The 1-minute load average when each case started. */
  readonly caseLoad: Record<string, string>;
}

/** A measurement, or why it is missing. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

export interface Row<T> {
  readonly side: SideName;
  outcome: Outcome<T>;
}

type Steps = Row<StepBench>[];

export interface Results {
  readonly env: Environment;
  readonly quick: boolean;
  mlp?: { batch: number; kinds: { kind: OptimizerKind; gpu: Steps; cpu: Steps }[] };
  cnn?: { batch: number; title: string; gpu: Steps; cpu: Steps };
  transformer?: { title: string; parameters: number; rows: Steps };
  matmul?: { sizes: number[]; budgetMs: number; bySize: { size: number; rows: Row<MatmulBenchRow>[] }[] };
  adam?: { parameters: number; gpu: Row<UpdateBench>[]; cpu: Row<UpdateBench>[] };
  torch?: Outcome<TorchBench>;
  bundle?: Outcome<BundleBench>;
  sweep?: { batches: number[]; budgetMs: number; byBatch: { batch: number; rows: Steps }[]; chart?: string };
}

/** What `node scripts/bundle-size.mjs --json` prints: bytes, and TF.js's published bundles. */
export interface BundleBench {
  readonly descent: { raw: number; min: number; gzip: number; parts: Record<string, number> };
  readonly tfjs: { min: number; gzip: number } | null;
  readonly webgpu: { min: number; gzip: number } | null;
  readonly target: number;
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const count = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const kb = (n: number) => (n / 1024).toFixed(1);

/** "0.21 (4.8× faster)": a time over another. */
function ratio(aMs: number, bMs: number): string {
  const r = aMs / bMs;
  const speed = r <= 1 ? `${(1 / r).toFixed(1)}× faster` : `${r.toFixed(1)}× slower`;
  return `${r.toFixed(3)} (${speed})`;
}

function countCells(c: GpuCounts | undefined): string {
  if (!c) return '– | – | – | – | –';
  return [c.submits, c.dispatches, c.bindGroups, c.buffers, c.writes].map(count).join(' | ');
}

type Timed = { timing: { windowsMs: number[]; perWindow: number; medianMs: number } };

const windows = (b: Timed) => `${b.timing.windowsMs.length} × ${b.timing.perWindow}`;
/** The fastest and slowest window, per iteration: how much the machine's load moved things. */
const spread = (b: Timed) => `${ms(Math.min(...b.timing.windowsMs))}–${ms(Math.max(...b.timing.windowsMs))}`;

const firstLine = (error: string) => error.split('\n')[0]!;

/** "Command: ... Load average (1 min) at its start: 3.52." */
function commandLine(r: Results, only: string, extra = ''): string {
  const load = r.env.caseLoad[only.split(',')[0]!];
  return `Command: \`${r.env.command}\` (this case alone: \`npm run bench -- --only=${only}\`${extra}).${load ? ` Load average (1 min) at its start: ${load}.` : ''}`;
}

function value<T>(rows: Row<T>[] | undefined, side: SideName): T | undefined {
  const o = rows?.find((r) => r.side === side)?.outcome;
  return o?.ok ? o.value : undefined;
}

function failures(rows: Row<unknown>[]): string[] {
  return rows.flatMap((r) => (r.outcome.ok ? [] : [`- **${SIDE_TITLE[r.side]} failed:** ${firstLine(r.outcome.error)}`]));
}

const torchRows = (r: Results): TorchRow[] => (r.torch?.ok && r.torch.value.available ? r.torch.value.rows : []);

/** The PyTorch row to hold a target against: the faster of its thread counts for the step. */
function bestTorch(r: Results, kind: OptimizerKind, batch: number): TorchRow | undefined {
  const rows = torchRows(r).filter((t) => t.kind === kind && t.batch === batch);
  return rows.sort((a, b) => a.medianMs - b.medianMs)[0];
}

function stepTable(groups: { title: string; rows: Steps }[], torch: TorchRow[], withLoss = true): string[] {
  const out = [
    `| side | turns with | median ms/step | window range | windows × steps | submits | dispatches | bind groups | buffers | writes |${withLoss ? ' first loss |' : ''}`,
    `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|${withLoss ? '---:|' : ''}`,
  ];
  for (const g of groups) {
    for (const row of g.rows) {
      const o = row.outcome;
      if (!o.ok) out.push(`| ${SIDE_TITLE[row.side]} | ${g.title} | failed | | | | | | | |${withLoss ? ' |' : ''}`);
      else {
        const v = o.value;
        out.push(`| ${SIDE_TITLE[row.side]} | ${g.title} | ${ms(v.timing.medianMs)} | ${spread(v)} | ${windows(v)} | ${countCells(v.counts)} |${withLoss ? ` ${v.firstLoss.toPrecision(7)} |` : ''}`);
      }
    }
  }
  for (const t of torch) {
    out.push(`| PyTorch CPU, ${t.threads} thread${t.threads > 1 ? 's' : ''} | (own process, after) | ${ms(t.medianMs)} | ${ms(Math.min(...t.windowsMs))}–${ms(Math.max(...t.windowsMs))} | ${t.windowsMs.length} × ${t.perWindow} | – | – | – | – | – |${withLoss ? ' – |' : ''}`);
  }
  return out;
}

/** "Descent, WebGPU / TF.js, webgpu: 0.18 (5.5× faster)" for each pair that both ran. */
function ratioLines(all: Steps, pairs: [SideName, SideName][]): string[] {
  const lines: string[] = [];
  for (const [a, b] of pairs) {
    const x = value(all, a);
    const y = value(all, b);
    if (x && y) lines.push(`- ${SIDE_TITLE[a]} / ${SIDE_TITLE[b]}: ${ratio(x.timing.medianMs, y.timing.medianMs)}`);
  }
  return lines;
}

const STEP_PAIRS: [SideName, SideName][] = [
  ['descent-webgpu', 'tfjs-webgpu'],
  ['descent-wasm', 'tfjs-wasm'],
  ['descent-wasm', 'tfjs-cpu'],
  ['descent-wasm', 'descent-twins'],
  ['descent-twins', 'tfjs-cpu'],
];

function mlpSection(r: Results): string[] {
  const mlp = r.mlp!;
  const out = [
    `## 1. Train step: MLP 784-256-256-10, batch ${mlp.batch}`,
    '',
    commandLine(r, 'mlp', '; add `--no-gpu` to leave out WebGPU'),
    '',
    'One step = upload the batch, forward, softmax cross-entropy, backward, optimizer update.',
    'Descent: `trainer.step(x, y)` N times, then the last loss is awaited and `trainer.idle()`.',
    "TF.js: `optimizer.minimize` over `tf.fused.matMul` layers (bias + ReLU fused, as tf.layers' Dense",
    'does) N times, then the last loss is read back. All sides start from the same weights and see the',
    'same batches, so the first-step losses agree (except with dropout, whose masks differ by library).',
    'Times: the median over timed windows of the time per step in the window (windows × steps per',
    'window, after warm-up steps). The sides of one "turns with" group run their windows in turns, so',
    'they meet the same machine load: the WebGPU sides together, then the CPU sides together (tfjs',
    'switches its active backend, untimed, before each window of a tfjs side). PyTorch runs afterwards',
    'in its own process (bench/torch-mlp.py, the same model and optimizer, random data of the same shape).',
    'GPU counts are per step over the timed windows: queue submits, dispatches, bind groups created,',
    "buffers created, `queue.writeBuffer` calls. Descent's fraction of a submit above 1 is the step",
    "log's copy-only submit that delivers the last loss of a window (in training it rides in the next step).",
    '',
  ];
  for (const [i, k] of mlp.kinds.entries()) {
    out.push(`### 1${'abc'[i]}. ${KIND_TITLE[k.kind]}`, '');
    const torch = torchRows(r).filter((t) => t.kind === k.kind && t.batch === mlp.batch);
    out.push(...stepTable([{ title: 'WebGPU', rows: k.gpu }, { title: 'CPU', rows: k.cpu }], torch), '');
    out.push(...ratioLines([...k.gpu, ...k.cpu], STEP_PAIRS));
    const best = bestTorch(r, k.kind, mlp.batch);
    const wasm = value(k.cpu, 'descent-wasm');
    if (best && wasm) out.push(`- ${SIDE_TITLE['descent-wasm']} / PyTorch CPU (${best.threads} thread${best.threads > 1 ? 's' : ''}, its fastest): ${ratio(wasm.timing.medianMs, best.medianMs)}`);
    out.push(...failures([...k.gpu, ...k.cpu]), '');
  }
  return out;
}

function cnnSection(r: Results): string[] {
  const c = r.cnn!;
  return [
    `## 2. Train step: the CNN of the design notes, batch ${c.batch}`,
    '',
    commandLine(r, 'cnn'),
    '',
    `${c.title} (bench/cnn.ts). Descent: the Trainer. TF.js: channels-last \`tf.fused.conv2d\` (bias + ReLU`,
    'fused) → `tf.maxPool` → `tf.fused.matMul`, the weights transposed to match. tfjs-backend-wasm has no',
    'Conv2DBackpropFilter kernel, so on wasm the convolution is `tf.conv3d` over a depth of 1 (it has',
    "Conv3DBackpropFilterV2) plus a bias add and ReLU: the same arithmetic through tfjs-wasm's only",
    'trainable convolution. Timed like case 1.',
    '',
    ...stepTable([{ title: 'WebGPU', rows: c.gpu }, { title: 'CPU', rows: c.cpu }], []),
    '',
    ...ratioLines([...c.gpu, ...c.cpu], STEP_PAIRS),
    ...failures([...c.gpu, ...c.cpu]),
    '',
  ];
}

function transformerSection(r: Results): string[] {
  const t = r.transformer!;
  return [
    '## 3. Train step: a small causal transformer (Descent only)',
    '',
    commandLine(r, 'transformer'),
    '',
    `The model of test/models-fixtures.ts (token embedding, learned positions, pre-norm blocks of causal`,
    `multi-head attention through \`F.scaledDotProductAttention\` and a GELU MLP, residuals, final LayerNorm,`,
    `head; bench/transformer.ts) at ${t.title}: ${t.parameters.toLocaleString('en-US')} parameters. TF.js has no`,
    'causal attention layer to compare with; the two Descent backends take turns.',
    '',
    ...stepTable([{ title: 'both', rows: t.rows }], [], false),
    '',
    ...ratioLines(t.rows, [['descent-webgpu', 'descent-wasm']]),
    ...failures(t.rows),
    '',
  ];
}

function matmulSection(r: Results): string[] {
  const m = r.matmul!;
  const sides = SIDES.filter((s) => m.bySize.some((b) => b.rows.some((row) => row.side === s)));
  const out = [
    '## 4. Matmul throughput (C = A · B, square, f32), GFLOP/s',
    '',
    commandLine(r, 'matmul'),
    '',
    "Descent: the matmul kernel compiled as a one-launch program (bench/matmul.ts) on each backend; TF.js:",
    '`tf.matMul` on each of its backends. Every backend of one size takes turns, window by window: 2',
    'warm-up runs (1 from n = 512), then windows of 8 (n = 128), 2 (256) or 1 run, each waiting for the device',
    '(the product is not read back). GFLOP/s = 2·n³ / median time per run. Each cell: GFLOP/s (median',
    `ms, windows). A side stops once it has 3 windows and ${m.budgetMs / 1000} s of timed runs at that size, so slow`,
    'backends at large sizes have fewer than 10 windows (the count says how many).',
    '',
    `| n | ${sides.map((s) => SIDE_TITLE[s]).join(' | ')} |`,
    `|---:|${sides.map(() => '---:').join('|')}|`,
  ];
  for (const b of m.bySize) {
    const cells = sides.map((s) => {
      const o = b.rows.find((row) => row.side === s)?.outcome;
      if (!o) return '–';
      if (!o.ok) return 'failed';
      return `**${o.value.gflops.toFixed(2)}** (${ms(o.value.medianMs)} ms, ${o.value.windows ?? o.value.runs})`;
    });
    out.push(`| ${b.size} | ${cells.join(' | ')} |`);
  }
  out.push('');
  const last = m.bySize[m.bySize.length - 1];
  if (last) {
    const at = (s: SideName) => value(last.rows, s);
    const pairs: [SideName, SideName][] = [
      ['descent-webgpu', 'tfjs-webgpu'],
      ['descent-wasm', 'tfjs-wasm'],
    ];
    for (const [a, b] of pairs) {
      const x = at(a);
      const y = at(b);
      if (x && y) out.push(`- n = ${last.size}: ${SIDE_TITLE[a]} / ${SIDE_TITLE[b]} time: ${ratio(x.medianMs, y.medianMs)}`);
    }
  }
  if (r.torch?.ok && r.torch.value.available && Number.isFinite(r.torch.value.matmul1024Gflops)) {
    out.push(`- For reference, PyTorch on the CPU (case 6): \`torch.mm\` at n = 1024, one thread, BLAS \`${r.torch.value.blas}\`: ${r.torch.value.matmul1024Gflops.toFixed(2)} GFLOP/s.`);
  }
  for (const b of m.bySize) out.push(...failures(b.rows).map((l) => l.replace('failed:**', `failed at n = ${b.size}:**`)));
  out.push('');
  return out;
}

function adamSection(r: Results): string[] {
  const a = r.adam!;
  const out = [
    `## 5. Adam update alone, ${a.parameters.toLocaleString('en-US')} parameters`,
    '',
    commandLine(r, 'adam'),
    '',
    'A Linear(1000, 1000) (weight and bias) with fixed gradients. Descent: only the launches that',
    "`optim.planUpdate` plans for the optimizer (the same ones the Trainer appends to a step), run as",
    'one program per update after `beforeStep()` writes the step scalars. TF.js:',
    '`tf.train.adam(1e-3, 0.9, 0.999, 1e-8).applyGradients({weight, bias})`. N updates are enqueued,',
    'then the device is awaited; the WebGPU sides take turns, then the CPU sides.',
    '',
    '| side | turns with | median ms/update | window range | windows × updates | submits | dispatches | bind groups | buffers | writes |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [title, rows] of [['WebGPU', a.gpu], ['CPU', a.cpu]] as const) {
    for (const row of rows) {
      const o = row.outcome;
      if (!o.ok) out.push(`| ${SIDE_TITLE[row.side]} | ${title} | failed | | | | | | | |`);
      else out.push(`| ${SIDE_TITLE[row.side]} | ${title} | ${ms(o.value.timing.medianMs)} | ${spread(o.value)} | ${windows(o.value)} | ${countCells(o.value.counts)} |`);
    }
  }
  out.push('');
  const all = [...a.gpu, ...a.cpu];
  for (const [x, y] of [['descent-webgpu', 'tfjs-webgpu'], ['descent-wasm', 'tfjs-wasm'], ['descent-wasm', 'tfjs-cpu']] as [SideName, SideName][]) {
    const p = value(all, x);
    const q = value(all, y);
    if (p && q) out.push(`- ${SIDE_TITLE[x]} / ${SIDE_TITLE[y]}: ${ratio(p.timing.medianMs, q.timing.medianMs)}`);
  }
  out.push(...failures(all), '');
  return out;
}

function torchSection(r: Results): string[] {
  const out = ['## 6. PyTorch on the CPU (native reference)', '', commandLine(r, 'torch'), ''];
  const t = r.torch!;
  if (!t.ok) return [...out, `**PyTorch failed:** ${firstLine(t.error)}`, ''];
  if (!t.value.available) return [...out, `Skipped: ${t.value.reason}. Install Debian's \`python3-torch\` (or torch for python3) to get this row.`, ''];
  const v = t.value;
  out.push(
    `bench/torch-mlp.py run by \`${v.python}\` in a child process: torch ${v.version}, whose default here is`,
    `${v.defaultThreads} thread${v.defaultThreads > 1 ? 's' : ''} (\`torch.get_num_threads()\`); each configuration sets \`torch.set_num_threads\`. Its build: BLAS`,
    `\`${v.blas}\`, CPU capability ${v.capability}; \`torch.mm\` at n = 1024 on one thread runs at ${v.matmul1024Gflops?.toFixed(1)} GFLOP/s here.`,
    ...(v.blas === 'generic'
      ? ["A generic BLAS (Debian's python3-torch) is far slower than the MKL or OpenBLAS of the pip wheels, so this row is a low bar for a native reference."]
      : []),
    'The MLP 784-256-256-10 step of case 1 (`zero_grad`, forward, `F.cross_entropy`, backward,',
    '[`clip_grad_norm_`], `opt.step()`); 5 warm-up steps, then up to 15 windows of ~40 ms of steps, the',
    'last loss of each read with `.item()`; the median time per step. It runs while the Node process',
    'waits, so it does not take turns with the JavaScript sides.',
    '',
    '| step | batch | threads | median ms/step | window range | windows × steps |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const row of v.rows) {
    out.push(`| ${row.kind} | ${row.batch} | ${row.threads} | ${ms(row.medianMs)} | ${ms(Math.min(...row.windowsMs))}–${ms(Math.max(...row.windowsMs))} | ${row.windowsMs.length} × ${row.perWindow} |`);
  }
  out.push('');
  return out;
}

function countsSection(r: Results): string[] {
  const lines: string[] = [];
  const add = (what: string, rows: Row<{ counts?: GpuCounts }>[] | undefined) => {
    for (const side of ['descent-webgpu', 'tfjs-webgpu'] as SideName[]) {
      const v = value(rows, side);
      if (v?.counts) lines.push(`| ${what} | ${SIDE_TITLE[side]} | ${countCells(v.counts)} |`);
    }
  };
  for (const k of r.mlp?.kinds ?? []) add(`MLP step, ${k.kind}, batch ${r.mlp!.batch}`, k.gpu);
  if (r.cnn) add(`CNN step, batch ${r.cnn.batch}`, r.cnn.gpu);
  if (r.transformer) add('transformer step', r.transformer.rows);
  if (r.adam) add('Adam update, 1M parameters', r.adam.gpu);
  if (lines.length === 0) return [];
  return [
    '## 7. GPU calls per step',
    '',
    'Counted by bench/counting-gpu.ts on the devices of both libraries (same figures as the tables above),',
    'per step over the timed windows, the read-back of the last loss of each window included.',
    '',
    '| what | side | submits | dispatches | bind groups | buffers | writes |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...lines,
    '',
  ];
}

function bundleSection(o: Outcome<BundleBench>): string[] {
  const out = [
    '## 8. Library bundle size',
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
  if (!o.ok) return [...out, '', `**Bundle size failed:** ${firstLine(o.error)}`, ''];
  const b = o.value;
  const parts = Object.entries(b.descent.parts).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${kb(v)}`).join(', ');
  out.push(`| Descent (${parts} KB minified) | ${kb(b.descent.min)} | ${kb(b.descent.gzip)} |`);
  if (b.tfjs) out.push(`| TF.js \`@tensorflow/tfjs\` | ${kb(b.tfjs.min)} | ${kb(b.tfjs.gzip)} |`);
  if (b.webgpu) out.push(`| TF.js \`@tensorflow/tfjs-backend-webgpu\` | ${kb(b.webgpu.min)} | ${kb(b.webgpu.gzip)} |`);
  out.push('');
  return out;
}

function sweepSection(r: Results): string[] {
  const s = r.sweep!;
  const sides = SIDES.filter((side) => s.byBatch.some((b) => b.rows.some((row) => row.side === side)));
  const torch = torchRows(r).filter((t) => t.kind === 'adam' && t.threads === 1);
  const out = [
    '## 9. Step time against batch size (MLP 784-256-256-10, Adam)',
    '',
    commandLine(r, 'sweep,torch --out=/tmp/sweep/RESULTS.md', ', which writes the chart beside the report'),
    '',
    s.chart ? `![ms per step against batch size, log-log](${s.chart})` : '(The chart is written only with a report file: `--out=FILE.md`.)',
    '',
    'The step of case 1b at each batch size; at each size every backend takes turns (windows of 1-4',
    `steps after 2 warm-up steps). A side stops after 5 windows once it has spent ${s.budgetMs / 1000} s, so the slow`,
    'backends at large batches have 5-9 windows. PyTorch (1 thread, dashed in the chart) from case 6.',
    'Cells: median ms per step (windows).',
    '',
    `| batch | ${sides.map((side) => SIDE_TITLE[side]).join(' | ')}${torch.length ? ' | PyTorch CPU, 1 thread' : ''} |`,
    `|---:|${sides.map(() => '---:').join('|')}${torch.length ? '|---:' : ''}|`,
  ];
  for (const b of s.byBatch) {
    const cells = sides.map((side) => {
      const o = b.rows.find((row) => row.side === side)?.outcome;
      return !o ? '–' : o.ok ? `${ms(o.value.timing.medianMs)} (${o.value.timing.windowsMs.length})` : 'failed';
    });
    const t = torch.find((row) => row.batch === b.batch);
    out.push(`| ${b.batch} | ${cells.join(' | ')}${torch.length ? ` | ${t ? ms(t.medianMs) : '–'}` : ''} |`);
  }
  out.push('');
  for (const b of s.byBatch) out.push(...failures(b.rows).map((l) => l.replace('failed:**', `failed at batch ${b.batch}:**`)));
  return out;
}

/** The targets of issue 9, each met or not with the measured ratio; unmeasured ones say so. */
function targetsSection(r: Results): string[] {
  const lines: string[] = [];
  const verdict = (ok: boolean) => (ok ? 'met' : '**NOT met**');
  const adam = r.mlp?.kinds.find((k) => k.kind === 'adam');
  const wasm = value(adam?.cpu, 'descent-wasm');
  const tfWasm = value(adam?.cpu, 'tfjs-wasm');
  if (wasm && tfWasm) {
    const q = wasm.timing.medianMs / tfWasm.timing.medianMs;
    lines.push(`| CPU MLP Adam step ≤ TF.js wasm | ${ms(wasm.timing.medianMs)} ms vs ${ms(tfWasm.timing.medianMs)} ms | ${q.toFixed(2)}× TF.js wasm's time | ${verdict(q <= 1)} |`);
  } else lines.push('| CPU MLP Adam step ≤ TF.js wasm | not measured in this run | | – |');
  const torch = r.mlp ? bestTorch(r, 'adam', r.mlp.batch) : undefined;
  if (wasm && torch) {
    const q = wasm.timing.medianMs / torch.medianMs;
    const build = r.torch?.ok && r.torch.value.available ? `; torch's BLAS: ${r.torch.value.blas}, see case 6` : '';
    lines.push(`| CPU MLP Adam step within 1.5× of PyTorch CPU | ${ms(wasm.timing.medianMs)} ms vs ${ms(torch.medianMs)} ms (torch, ${torch.threads} thread${torch.threads > 1 ? 's' : ''}, its fastest${build}) | ${q.toFixed(2)}× PyTorch's time | ${verdict(q <= 1.5)} |`);
  } else {
    const why = r.torch?.ok && !r.torch.value.available ? `skipped: ${r.torch.value.reason}` : 'not measured in this run';
    lines.push(`| CPU MLP Adam step within 1.5× of PyTorch CPU | ${why} | | – |`);
  }
  const gpu = value(adam?.gpu, 'descent-webgpu');
  const tfGpu = value(adam?.gpu, 'tfjs-webgpu');
  if (gpu && tfGpu) {
    const s = tfGpu.timing.medianMs / gpu.timing.medianMs;
    lines.push(`| WebGPU MLP Adam step ≥ 8× faster than TF.js webgpu | ${ms(gpu.timing.medianMs)} ms vs ${ms(tfGpu.timing.medianMs)} ms | ${s.toFixed(1)}× faster | ${verdict(s >= 8)} |`);
  } else lines.push('| WebGPU MLP Adam step ≥ 8× faster than TF.js webgpu | not measured in this run | | – |');
  const cnn = value(r.cnn?.gpu, 'descent-webgpu');
  const tfCnn = value(r.cnn?.gpu, 'tfjs-webgpu');
  if (cnn && tfCnn) {
    const s = tfCnn.timing.medianMs / cnn.timing.medianMs;
    lines.push(`| WebGPU CNN step ≥ 5× faster than TF.js webgpu | ${ms(cnn.timing.medianMs)} ms vs ${ms(tfCnn.timing.medianMs)} ms | ${s.toFixed(1)}× faster | ${verdict(s >= 5)} |`);
  } else lines.push('| WebGPU CNN step ≥ 5× faster than TF.js webgpu | not measured in this run | | – |');
  if (r.bundle?.ok) {
    const b = r.bundle.value;
    lines.push(`| Bundle ≤ ${kb(b.target)} KB minified + gzip | ${kb(b.descent.gzip)} KB | ${(b.descent.gzip / b.target).toFixed(2)}× the target | ${verdict(b.descent.gzip <= b.target)} |`);
  } else lines.push('| Bundle ≤ 50 KB minified + gzip | not measured in this run | | – |');
  return [
    '## Targets (issue 9)',
    '',
    'On the adapter and machine above, in this run. Benchmarks, not tests: nothing fails when a target is missed.',
    '',
    '| target | measured | ratio | status |',
    '|---|---|---:|---|',
    ...lines,
    '',
  ];
}

export function renderResults(r: Results): string {
  const { env } = r;
  const parts = [
    '# Benchmarks: Descent vs TensorFlow.js and PyTorch',
    '',
    `Generated by \`${env.command}\` (scripts/bench.mjs runs bench/main.ts) on ${env.date}; the raw figures`,
    'are in bench/results.json. Descent and TensorFlow.js run in one Node process: on WebGPU on the same',
    'adapter (Dawn from the `webgpu` package, one device each, tfjs-backend-webgpu constructed on that',
    'adapter), and on the CPU, where Descent runs its WebAssembly SIMD kernels (and, for reference, its',
    "TypeScript twins) against TF.js's wasm and cpu backends. Every figure is a median over at least 10",
    'timed windows after warm-up unless its window count says otherwise, and the sides compared run their',
    'windows in turns. Ratios are the first time over the second: below 1 means the first is faster.',
    'SwiftShader runs the shaders on the same CPU cores as the JavaScript, the WebAssembly and anything',
    'else on the machine, so timings move with the load average below; the window ranges show by how much.',
    '',
    `- Machine: ${env.machine}`,
    `- Adapter: ${env.adapter}`,
    `- Descent CPU device: ${env.descentCpu ?? 'unknown'}`,
    `- Software: ${env.software}`,
    `- Descent revision: ${env.revision}`,
    `- Load average (1 min) at start / end: ${env.load.join(' / ')}`,
    ...(r.quick ? ['- **Quick run** (`--quick`): too few repetitions for the figures to mean much.'] : []),
    '',
    ...targetsSection(r),
  ];
  if (r.mlp) parts.push(...mlpSection(r));
  if (r.cnn) parts.push(...cnnSection(r));
  if (r.transformer) parts.push(...transformerSection(r));
  if (r.matmul) parts.push(...matmulSection(r));
  if (r.adam) parts.push(...adamSection(r));
  if (r.torch) parts.push(...torchSection(r));
  parts.push(...countsSection(r));
  if (r.bundle) parts.push(...bundleSection(r.bundle));
  if (r.sweep) parts.push(...sweepSection(r));
  return `${parts.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
