/**
 * The lab's page: presets, the settings form (mirrored in the URL), the runs and the charts. All
 * training happens in the worker (worker.ts); this thread only draws, at most a few times a
 * second, so it stays responsive whatever the backend.
 *
 * Console hook (`window.descentDemo`, for tests and tinkerers):
 *   descentDemo.presets            the preset ids and titles
 *   descentDemo.loadPreset(id)     shows a preset (settings, text, panels), as its link does
 *   descentDemo.run(settings)      trains with the current settings changed by `settings`;
 *                                  resolves to the run's records (see RunResult)
 *   descentDemo.ready              resolves to the backend's kind ('webgpu' or 'cpu') once the
 *                                  device is open and the charts are drawn
 *   descentDemo.drawTimes()        how long each chart's last redraws took (ms, with a start time)
 *   descentDemo.exportModel(format, runId)  a finished run's weights or checkpoint (safetensors
 *                                  bytes; default: the last finished run's weights)
 *   descentDemo.predictions(runId) a finished run's logits on its held-out set
 *   descentDemo.loadCsv(text)      loads CSV data as the file button does (dataset 'csv')
 *   descentDemo.drawn()            resolves when the charts show every change so far
 *   descentDemo.feed(name, { loss, lr, gradNorm })  appends records to a run of that name made
 *                                  here, not trained (to see the charts with many points)
 */
import 'uplot/dist/uPlot.min.css';
import { Chart, drawConfusion, forgetWidths, drawHeatmap, drawHistogram, type Series } from './charts.js';
import { download } from '../../src/io/browser.js';
import type { CsvMessage, DoneMessage, EvalMessage, ExportFormat, FromWorker, LrFindingMessage, ToWorker } from './protocol.js';
import { RECORD_FIELDS } from './protocol.js';
import {
  checkSettings, choicesOf, DEFAULTS, fromQuery, PRESET_IDS, type PresetId, PRESETS, presetSettings, type Settings, toQuery,
} from './settings.js';
import { drawSurface, path, RULES, SURFACES, surfaceImage } from './surfaces.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22', '#393b79', '#637939'];

/** What `descentDemo.run` resolves to. */
export interface RunResult {
  id: number;
  name: string;
  backend: string;
  steps: number[];
  losses: number[];
  lrs: number[];
  gradNorms: number[];
  evals: Omit<EvalMessage, 'type' | 'runId'>[];
  layers: { names: string[]; steps: number[]; gradNorm: number[][]; updateRatio: number[][] };
  nearZero: number;
  confusion: number[] | null;
  status: Run['status'];
  stopped: boolean;
  error?: string;
}

interface Run {
  id: number;
  name: string;
  color: string;
  preset: PresetId;
  settings: Settings;
  visible: boolean;
  status: 'queued' | 'training' | 'done' | 'stopped' | 'failed';
  steps: number[];
  loss: number[];
  lr: number[];
  gradNorm: number[];
  planned: Float64Array | null;
  layerNames: string[];
  layerSteps: number[];
  layerGrad: Float64Array[];
  layerRatio: Float64Array[];
  evals: EvalMessage[];
  weights: Float32Array | null;
  confusion: Int32Array | null;
  error?: string;
  settle: (r: RunResult) => void;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
}

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const post = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
const query = new URLSearchParams(location.search);
post({ type: 'init', backend: query.get('backend') === 'cpu' ? 'cpu' : 'auto' });

let backend = '';
const deviceReady = new Promise<string>((resolve) => {
  worker.addEventListener('message', (e: MessageEvent<FromWorker>) => {
    if (e.data.type !== 'ready') return;
    const m = e.data;
    backend = m.kind;
    const banner = byId('device');
    banner.className = m.kind === 'webgpu' ? 'device gpu' : 'device cpu';
    banner.textContent = m.kind === 'webgpu'
      ? `Training on WebGPU: ${m.description}`
      : `No WebGPU here, so the lab trains on the CPU backend (slower, same results): ${m.reason}`;
    resolve(m.kind);
  });
});

// ---- state ----------------------------------------------------------------------------------

let preset: PresetId;
let settings: Settings;
({ preset, settings } = (() => {
  try {
    return fromQuery(location.search);
  } catch (e) {
    showError(e);
    return { preset: 'schedules' as PresetId, settings: presetSettings('schedules') };
  }
})());
const runs: Run[] = [];
let nextId = 1;
let training: Run | null = null;
let finding: LrFindingMessage | null = null;

function showError(e: unknown): void {
  const box = document.getElementById('error');
  if (!box) return;
  box.textContent = e instanceof Error ? e.message : String(e);
  box.hidden = false;
}

// ---- the form -------------------------------------------------------------------------------

const LABELS: Partial<Record<keyof Settings, string>> = {
  trainSize: 'training points', noise: 'noise (0 = default)', layerEvery: 'layer stats every', evalEvery: 'evaluate every',
  clipGradNorm: 'clip grad norm', clipGradValue: 'clip grad value', batchSize: 'batch size', weightDecay: 'weight decay',
};
const LIVE: (keyof Settings)[] = ['lr', 'l1', 'l2'];
const form = byId<HTMLFormElement>('settings');

function buildForm(): void {
  form.replaceChildren();
  for (const key of Object.keys(DEFAULTS) as (keyof Settings)[]) {
    const label = document.createElement('label');
    const name = document.createElement('span');
    name.textContent = LABELS[key] ?? key;
    if (LIVE.includes(key)) name.title = 'changes apply at the next step of a run in flight';
    let input: HTMLInputElement | HTMLSelectElement;
    const choices = choicesOf(key);
    if (choices) {
      input = document.createElement('select');
      for (const c of choices) input.append(new Option(c, c));
    } else {
      input = document.createElement('input');
      input.type = typeof DEFAULTS[key] === 'boolean' ? 'checkbox' : 'number';
      if (input.type === 'number') input.step = 'any';
    }
    input.name = key;
    label.append(name, input);
    if (LIVE.includes(key)) label.classList.add('live');
    form.append(label);
  }
  form.addEventListener('change', (e) => {
    try {
      settings = readForm();
      writeUrl();
      const key = (e.target as HTMLInputElement).name as keyof Settings;
      if (training && LIVE.includes(key)) post({ type: 'set', runId: training.id, [key]: settings[key] as number });
      byId('error').hidden = true;
    } catch (err) {
      showError(err);
    }
  });
}

function writeForm(s: Settings): void {
  for (const key of Object.keys(DEFAULTS) as (keyof Settings)[]) {
    const input = form.elements.namedItem(key) as HTMLInputElement;
    if (input.type === 'checkbox') input.checked = s[key] as boolean;
    else input.value = String(s[key]);
  }
}

function readForm(): Settings {
  const given: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULTS) as (keyof Settings)[]) {
    const input = form.elements.namedItem(key) as HTMLInputElement;
    given[key] = input.type === 'checkbox' ? input.checked : input.value;
  }
  return checkSettings(given);
}

function writeUrl(): void {
  history.replaceState(null, '', `?${toQuery(preset, settings)}${backend === 'cpu' && query.get('backend') === 'cpu' ? '&backend=cpu' : ''}`);
}

// ---- presets --------------------------------------------------------------------------------

function showPreset(id: PresetId, s: Settings = presetSettings(id)): void {
  // The charts overlay the runs of this preset; the others stay in the list, to tick back on.
  if (id !== preset) {
    for (const r of runs) r.visible = r.preset === id;
    renderRuns();
  }
  preset = id;
  settings = s;
  document.body.dataset.preset = id;
  document.querySelectorAll<HTMLAnchorElement>('#presets a').forEach((a) => a.classList.toggle('current', a.dataset.preset === id));
  byId('preset-title').textContent = PRESETS[id].title;
  byId('preset-explain').textContent = PRESETS[id].explain;
  byId<HTMLButtonElement>('compare').textContent = PRESETS[id].comparison.label;
  document.querySelectorAll<HTMLElement>('[data-for]').forEach((panel) => {
    panel.hidden = !panel.dataset.for!.split(' ').includes(id);
  });
  // Panels shown or hidden change the widths of the others.
  forgetWidths();
  for (const c of Object.values(charts)) c.resize();
  writeForm(s);
  writeUrl();
  redraw();
}

function buildPresetLinks(): void {
  const nav = byId('presets');
  for (const id of PRESET_IDS) {
    const a = document.createElement('a');
    a.href = `?preset=${id}`;
    a.dataset.preset = id;
    a.textContent = PRESETS[id].title;
    a.addEventListener('click', (e) => {
      e.preventDefault();
      showPreset(id);
    });
    nav.append(a);
  }
}

// ---- runs -----------------------------------------------------------------------------------

function result(run: Run): RunResult {
  const names = run.layerNames;
  const w = run.weights;
  let near = 0;
  if (w) for (const v of w) if (Math.abs(v) < 1e-3) near++;
  return {
    id: run.id,
    name: run.name,
    backend,
    steps: run.steps.slice(),
    losses: run.loss.slice(),
    lrs: run.lr.slice(),
    gradNorms: run.gradNorm.slice(),
    evals: run.evals.map(({ type: _t, runId: _r, ...e }) => e),
    layers: { names, steps: run.layerSteps.slice(), gradNorm: run.layerGrad.map((r) => Array.from(r)), updateRatio: run.layerRatio.map((r) => Array.from(r)) },
    nearZero: w && w.length ? near / w.length : 0,
    confusion: run.confusion ? Array.from(run.confusion) : null,
    status: run.status,
    stopped: run.status === 'stopped',
    ...(run.error ? { error: run.error } : {}),
  };
}

function newRun(s: Settings, name: string, settle: (r: RunResult) => void): Run {
  const id = nextId++;
  const run: Run = {
    id, name, color: COLORS[(id - 1) % COLORS.length]!, preset, settings: s, visible: true, status: 'queued',
    steps: [], loss: [], lr: [], gradNorm: [], planned: null, layerNames: [], layerSteps: [], layerGrad: [], layerRatio: [],
    evals: [], weights: null, confusion: null, settle,
  };
  runs.push(run);
  return run;
}

function startRun(s: Settings, name: string): Promise<RunResult> {
  return new Promise((settle) => {
    const run = newRun(s, name, settle);
    post({ type: 'train', runId: run.id, settings: s });
    renderRuns();
  });
}

function find(id: number): Run | undefined {
  return runs.find((r) => r.id === id);
}

worker.addEventListener('message', (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'started': {
      const run = find(m.runId);
      if (!run) return;
      run.status = 'training';
      run.planned = m.planned;
      run.layerNames = m.layers;
      training = run;
      setBusy(true);
      renderRuns();
      redraw('runs');
      break;
    }
    case 'records': {
      const run = find(m.runId);
      if (!run) return;
      for (let i = 0; i < m.data.length; i += RECORD_FIELDS) {
        run.steps.push(m.data[i]!);
        run.loss.push(m.data[i + 1]!);
        run.lr.push(m.data[i + 2]!);
        run.gradNorm.push(m.data[i + 3]!);
      }
      redraw('records');
      break;
    }
    case 'layers': {
      const run = find(m.runId);
      if (!run) return;
      run.layerSteps.push(m.step);
      run.layerGrad.push(m.gradNorm);
      run.layerRatio.push(m.updateRatio);
      redraw('layers');
      break;
    }
    case 'eval':
      find(m.runId)?.evals.push(m);
      redraw('evals');
      break;
    case 'done':
      finish(m);
      redraw('runs');
      break;
    case 'lrFinding':
      finding = m;
      if (m.error) showError(m.error);
      byId('status').textContent = m.suggestion ? `range test: suggested rate ${m.suggestion.toPrecision(3)}` : 'range test: no suggestion (the loss never fell)';
      setBusy(false);
      redraw('finding');
      break;
    case 'probabilities':
      showProbabilities(m.probabilities);
      break;
    case 'csv':
      showCsv(m);
      break;
    case 'ready':
    case 'exported':
    case 'predictions':
      break;
  }
});

function finish(m: DoneMessage): void {
  const run = find(m.runId);
  if (!run) return;
  run.status = m.error ? 'failed' : m.stopped ? 'stopped' : 'done';
  run.weights = m.weights;
  run.confusion = m.confusion;
  if (m.error) {
    run.error = m.error;
    showError(`${run.name}: ${m.error}`);
  }
  if (training === run) training = null;
  setBusy(runs.some((r) => r.status === 'queued' || r.status === 'training'));
  const last = run.evals[run.evals.length - 1];
  byId('status').textContent = `${run.name} ${run.status} after ${run.steps.length} steps` +
    (last ? `; held-out accuracy ${(100 * last.testAccuracy).toFixed(1)}%, loss ${last.testLoss.toFixed(3)}` : '');
  renderRuns();
  run.settle(result(run));
}

function setBusy(busy: boolean): void {
  byId<HTMLButtonElement>('stop').disabled = !busy;
}

function renderRuns(): void {
  const list = byId('runs');
  list.replaceChildren();
  for (const run of runs) {
    const li = document.createElement('li');
    const show = document.createElement('input');
    show.type = 'checkbox';
    show.checked = run.visible;
    show.title = 'show on the charts';
    show.addEventListener('change', () => {
      run.visible = show.checked;
      redraw();
    });
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = run.color;
    const name = document.createElement('input');
    name.className = 'name';
    name.value = run.name;
    name.title = 'rename';
    name.addEventListener('change', () => {
      run.name = name.value;
      redraw();
    });
    const status = document.createElement('small');
    status.textContent = run.status;
    const link = document.createElement('a');
    link.href = `?${toQuery(run.preset, run.settings)}`;
    link.textContent = 'link';
    link.title = 'the settings of this run as a link';
    const del = document.createElement('button');
    del.type = 'button';
    del.textContent = '×';
    del.title = 'delete';
    del.addEventListener('click', () => {
      if (run.status === 'training' || run.status === 'queued') post({ type: 'stop', runId: run.id });
      runs.splice(runs.indexOf(run), 1);
      renderRuns();
      redraw();
    });
    li.append(show, swatch, name, status, link, del);
    list.append(li);
  }
}

// ---- charts ---------------------------------------------------------------------------------

const charts = {
  loss: new Chart(byId('chart-loss'), { title: 'Training loss (per step)', x: 'step', logY: true }),
  lr: new Chart(byId('chart-lr'), { title: 'Learning rate (dashed: planned)', x: 'step', logY: true }),
  grad: new Chart(byId('chart-grad'), { title: 'Gradient norm ‖g‖ (before clipping)', x: 'step', logY: true }),
  evals: new Chart(byId('chart-eval'), { title: 'Loss on the training set (dashed) and held out (solid)', x: 'step', logY: true }),
  accuracy: new Chart(byId('chart-accuracy'), { title: 'Held-out accuracy', x: 'step' }),
  layers: new Chart(byId('chart-layers'), { title: 'Per layer, last tracked step: ‖g‖ (solid), ‖Δw‖/‖w‖ (dashed)', x: 'layer', logY: true, integerX: true }),
  findLr: new Chart(byId('chart-findlr'), { title: 'Range test: loss against rate (smoothed; ● the suggestion)', x: 'learning rate', logX: true, logY: true }),
};

function perStep(pick: (r: Run) => ArrayLike<number> | null, dash = false, suffix = ''): { x: number[]; series: Series[] } {
  const shown = runs.filter((r) => r.visible);
  const n = Math.max(1, ...shown.map((r) => pick(r)?.length ?? 0));
  const x = Array.from({ length: n }, (_, i) => i);
  const series = shown.flatMap((r) => {
    const v = pick(r);
    return v ? [{ label: `${r.name}${suffix}`, color: r.color, dash, values: v }] : [];
  });
  return { x, series };
}

/** Series of runs sampled at their own steps (evaluations), on the union of those steps. */
function atSteps(parts: { run: Run; steps: number[]; values: number[]; dash?: boolean; suffix?: string }[]): { x: number[]; series: Series[] } {
  const xs = [...new Set(parts.flatMap((p) => p.steps))].sort((a, b) => a - b);
  const index = new Map(xs.map((s, i) => [s, i]));
  const series = parts.map((p) => {
    const values = new Array<number | null>(xs.length).fill(null);
    p.steps.forEach((s, i) => (values[index.get(s)!] = p.values[i]!));
    return { label: `${p.run.name}${p.suffix ?? ''}`, color: p.run.color, dash: p.dash ?? false, values };
  });
  return { x: xs.length ? xs : [0], series };
}

let firstDrawn: () => void = () => {};
/** Callers waiting for the charts to catch up with every change. */
const drawnWaiters: (() => void)[] = [];
/** The device is open and the page's charts are drawn (the first draw is the slow one). */
const ready = Promise.all([deviceReady, new Promise<void>((resolve) => (firstDrawn = resolve))]).then(([kind]) => kind);

/** What changed since the charts were last drawn; each chart redraws only when its inputs did. */
type Change = 'records' | 'evals' | 'layers' | 'finding' | 'runs' | 'surface';
const ALL: readonly Change[] = ['records', 'evals', 'layers', 'finding', 'runs', 'surface'];
const changed = new Set<Change>(ALL);
/** Least time between the starts of two redraws while records stream in. */
const REDRAW_MS = 250;
let drawPending = false;
let lastDraw = -Infinity;

function redraw(...what: Change[]): void {
  for (const c of what.length ? what : ALL) changed.add(c);
  if (drawPending) return;
  drawPending = true;
  setTimeout(draw, Math.max(0, REDRAW_MS - (performance.now() - lastDraw)));
}

/**
 * Draws the charts whose inputs changed, one chart per task (each well under 50 ms, so the page
 * answers input between them), then starts again if more came in meanwhile.
 */
function draw(): void {
  lastDraw = performance.now();
  const now = new Set(changed);
  changed.clear();
  const jobs = drawJobs().filter((j) => j.needs.some((c) => now.has(c)));
  const next = () => {
    const job = jobs.shift();
    if (!job) {
      drawPending = false;
      if (changed.size) redraw(...changed);
      else {
        firstDrawn();
        for (const settle of drawnWaiters.splice(0)) settle();
      }
      return;
    }
    const start = performance.now();
    // A chart whose series changed draws in the next task.
    if (job.draw() === false) jobs.unshift(job);
    drawTimes.push({ what: job.what, start, ms: performance.now() - start });
    if (drawTimes.length > 1000) drawTimes.splice(0, drawTimes.length - 1000);
    setTimeout(next, 0);
  };
  next();
}

/** How long each chart's redraw took (the last thousand), for the console hook. */
const drawTimes: { what: string; start: number; ms: number }[] = [];

function drawJobs(): { what: string; needs: Change[]; draw: () => boolean | void }[] {
  const shown = runs.filter((r) => r.visible);
  return [
    { what: 'status', needs: ['records', 'runs'], draw: showStatus },
    {
      what: 'loss',
      needs: ['records', 'runs'],
      draw: () => {
        const loss = perStep((r) => r.loss);
        return charts.loss.update(loss.x, loss.series);
      },
    },
    {
      what: 'lr',
      needs: ['records', 'runs'],
      draw: () => {
        const actual = perStep((r) => r.lr);
        const planned = perStep((r) => r.planned, true, ' (plan)');
        return charts.lr.update(actual.x.length >= planned.x.length ? actual.x : planned.x, [...actual.series, ...planned.series]);
      },
    },
    {
      what: 'grad',
      needs: ['records', 'runs'],
      draw: () => {
        const grad = perStep((r) => r.gradNorm);
        return charts.grad.update(grad.x, grad.series);
      },
    },
    {
      what: 'evals',
      needs: ['evals', 'runs'],
      draw: () => {
        const ev = atSteps(shown.flatMap((run) => [
          { run, steps: run.evals.map((e) => e.step), values: run.evals.map((e) => e.trainLoss), dash: true, suffix: ' train' },
          { run, steps: run.evals.map((e) => e.step), values: run.evals.map((e) => e.testLoss), suffix: ' held out' },
        ]));
        return charts.evals.update(ev.x, ev.series);
      },
    },
    {
      what: 'accuracy',
      needs: ['evals', 'runs'],
      draw: () => {
        const acc = atSteps(shown.map((run) => ({ run, steps: run.evals.map((e) => e.step), values: run.evals.map((e) => e.testAccuracy) })));
        return charts.accuracy.update(acc.x, acc.series);
      },
    },
    // Drawn once when the page loads whatever the preset, so that its first pass is not a run's.
    ...(preset === 'vanishing' || !charts.layers.created
      ? [
        { what: 'heatmap', needs: ['layers', 'runs'] as Change[], draw: () => drawLayerMap(shown) },
        { what: 'layers', needs: ['layers', 'runs'] as Change[], draw: () => drawLayers(shown) },
      ]
      : []),
    { what: 'panels', needs: ['finding', 'runs'], draw: () => drawPanels(shown) },
    // The surfaces do not depend on the runs: drawn when shown or changed, not with every record.
    // Also drawn once when the page loads (on a hidden canvas), so that the first pass of the code
    // is not when the preset shows.
    ...(preset === 'optimizers' || !surfacePaths
      ? [
        { what: 'surface bands', needs: ['surface'] as Change[], draw: computeSurfaceBands },
        { what: 'surface paths', needs: ['surface'] as Change[], draw: computeSurfacePaths },
        { what: 'surface', needs: ['surface'] as Change[], draw: drawSurfaces },
      ]
      : []),
  ];
}

/** The status line follows the run in flight. */
function showStatus(): void {
  const run = training;
  if (!run || run.loss.length === 0) return;
  byId('status').textContent = `${run.name}: step ${run.steps.length} of ${run.settings.steps}, loss ${run.loss[run.loss.length - 1]!.toPrecision(4)}`;
}

function drawLayerMap(shown: Run[]): void {
  const withLayers = shown.filter((r) => r.layerGrad.length > 0);
  const latest = withLayers[withLayers.length - 1];
  drawHeatmap(byId<HTMLCanvasElement>('heatmap'), latest?.layerSteps ?? [], latest?.layerGrad ?? [], latest?.layerNames ?? []);
  byId('heatmap-run').textContent = latest ? `run: ${latest.name}` : '';
}

function drawLayers(shown: Run[]): boolean {
  const withLayers = shown.filter((r) => r.layerGrad.length > 0);
  const layers = Math.max(1, ...withLayers.map((r) => r.layerNames.length));
  return charts.layers.update(Array.from({ length: layers }, (_, i) => i + 1), withLayers.flatMap((r) => [
    { label: `${r.name} ‖g‖`, color: r.color, values: r.layerGrad[r.layerGrad.length - 1]! },
    { label: `${r.name} ratio`, color: r.color, dash: true, values: r.layerRatio[r.layerRatio.length - 1]! },
  ]));
}

function drawPanels(shown: Run[]): boolean | void {
  if (preset === 'schedules') {
    const f = finding;
    if (f && f.lrs.length) {
      const mark = Array.from(f.lrs, (lr) => (f.suggestion !== null && lr === nearest(f.lrs, f.suggestion) ? f.smoothed[f.lrs.indexOf(lr)]! : null));
      return charts.findLr.update(Array.from(f.lrs), [
        { label: 'loss', color: '#999', values: f.losses },
        { label: 'smoothed', color: '#1f77b4', values: f.smoothed },
        { label: 'suggestion', color: '#d62728', values: mark, points: true },
      ]);
    } else {
      return charts.findLr.update([1e-4, 10], []);
    }
  }
  if (preset === 'regularization') {
    const done = shown.filter((r) => r.weights && r.weights.length);
    drawHistogram(byId<HTMLCanvasElement>('histogram'), done.map((r) => ({ values: r.weights!, color: r.color, label: `${r.name}: ${(100 * result(r).nearZero).toFixed(1)}% of |w| < 1e-3` })));
  }
  if (preset === 'mnist') {
    const done = shown.filter((r) => r.confusion);
    drawConfusion(byId<HTMLCanvasElement>('confusion'), done[done.length - 1]?.confusion ?? null);
  }
}

function nearest(values: Float64Array, target: number): number {
  let best = values[0]!;
  for (const v of values) if (Math.abs(Math.log(v / target)) < Math.abs(Math.log(best / target))) best = v;
  return best;
}

// ---- optimizers on 2-D surfaces -------------------------------------------------------------

/** The rules' paths on the chosen surface, computed in one task and drawn in the next. */
let surfacePaths: { key: string; paths: { rule: (typeof RULES)[number]; color: string; points: [number, number][] }[] } | null = null;

function surfaceChoice(): { surface: (typeof SURFACES)[string]; steps: number; key: string } {
  const choice = byId<HTMLSelectElement>('surface').value;
  const steps = Number(byId<HTMLInputElement>('surface-steps').value) || 300;
  return { surface: SURFACES[choice]!, steps, key: `${choice}:${steps}` };
}

let surfaceBands: { name: string; image: HTMLCanvasElement } | null = null;

function computeSurfaceBands(): void {
  const name = byId<HTMLSelectElement>('surface').value;
  if (surfaceBands?.name !== name) surfaceBands = { name, image: surfaceImage(SURFACES[name]!) };
}

function computeSurfacePaths(): void {
  const { surface, steps, key } = surfaceChoice();
  if (surfacePaths?.key === key) return;
  surfacePaths = { key, paths: RULES.map((rule, i) => ({ rule, color: COLORS[i]!, points: path(surface, rule, steps) })) };
}

function drawSurfaces(): void {
  computeSurfaceBands();
  computeSurfacePaths();
  const { surface } = surfaceChoice();
  drawSurface(byId<HTMLCanvasElement>('surface-plot'), surface, surfaceBands!.image, surfacePaths!.paths);
  const legend = byId('surface-legend');
  legend.replaceChildren(...surfacePaths!.paths.map((p) => {
    const span = document.createElement('span');
    const end = p.points[p.points.length - 1]!;
    span.innerHTML = `<i class="swatch" style="background:${p.color}"></i>${p.rule}: f = ${surface.f(end[0], end[1]).toPrecision(3)}`;
    return span;
  }));
}

// ---- draw a digit ---------------------------------------------------------------------------

function setupDrawing(): void {
  const pad = byId<HTMLCanvasElement>('draw');
  const ctx = pad.getContext('2d')!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  let down = false;
  const at = (e: PointerEvent): [number, number] => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * pad.width, ((e.clientY - r.top) / r.height) * pad.height];
  };
  pad.addEventListener('pointerdown', (e) => {
    down = true;
    pad.setPointerCapture(e.pointerId);
    const [x, y] = at(e);
    ctx.beginPath();
    ctx.moveTo(x, y);
  });
  pad.addEventListener('pointermove', (e) => {
    if (!down) return;
    const [x, y] = at(e);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 18;
    ctx.lineCap = 'round';
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  pad.addEventListener('pointerup', () => {
    down = false;
    post({ type: 'predict', pixels: digitPixels(pad) });
  });
  byId('draw-clear').addEventListener('click', () => {
    clear();
    showProbabilities(null);
  });
}

/** The drawing as MNIST prepares its digits: the ink's box scaled to 20×20, centred in 28×28. */
function digitPixels(pad: HTMLCanvasElement): Float32Array {
  const src = pad.getContext('2d')!.getImageData(0, 0, pad.width, pad.height).data;
  let x0 = pad.width, y0 = pad.height, x1 = -1, y1 = -1;
  for (let y = 0; y < pad.height; y++) {
    for (let x = 0; x < pad.width; x++) {
      if (src[(y * pad.width + x) * 4]! > 40) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    }
  }
  const small = document.createElement('canvas');
  small.width = small.height = 28;
  const s = small.getContext('2d')!;
  s.fillStyle = '#000';
  s.fillRect(0, 0, 28, 28);
  if (x1 >= x0) {
    const scale = 20 / Math.max(x1 - x0 + 1, y1 - y0 + 1);
    const w = (x1 - x0 + 1) * scale;
    const h = (y1 - y0 + 1) * scale;
    s.drawImage(pad, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (28 - w) / 2, (28 - h) / 2, w, h);
  }
  const data = s.getImageData(0, 0, 28, 28).data;
  return Float32Array.from({ length: 784 }, (_, i) => data[i * 4]! / 255);
}

function showProbabilities(p: Float32Array | null): void {
  const box = byId('probabilities');
  box.replaceChildren();
  if (!p) {
    box.textContent = 'Train an MNIST run, then draw a digit.';
    return;
  }
  p.forEach((v, d) => {
    const row = document.createElement('div');
    row.className = 'prob';
    row.innerHTML = `<b>${d}</b><span style="width:${(100 * v).toFixed(1)}%"></span><small>${(100 * v).toFixed(1)}%</small>`;
    box.append(row);
  });
}

// ---- files: weights, checkpoints, CSV data --------------------------------------------------

/** Answers of the worker to a request, matched by type and run. */
function ask<T extends FromWorker['type']>(request: ToWorker, type: T, runId: number, transfer: Transferable[] = []): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve) => {
    const listen = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type !== type || !('runId' in m) || m.runId !== runId) return;
      worker.removeEventListener('message', listen);
      resolve(m as Extract<FromWorker, { type: T }>);
    };
    worker.addEventListener('message', listen);
    post(request, transfer);
  });
}

/** The run the export buttons save: the last one that finished. */
function currentRun(): Run | undefined {
  return runs.filter((r) => r.status === 'done' || r.status === 'stopped').pop();
}

async function exportRun(format: ExportFormat, run = currentRun()): Promise<Uint8Array> {
  if (!run) throw new Error('no finished run to export: train one first');
  const m = await ask({ type: 'export', runId: run.id, format }, 'exported', run.id);
  if (!m.bytes) throw new Error(`${run.name}: ${m.error}`);
  return m.bytes;
}

function fileName(run: Run, format: ExportFormat): string {
  const base = run.name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || `run-${run.id}`;
  return `${base}${format === 'checkpoint' ? '.checkpoint' : ''}.safetensors`;
}

async function exportClicked(format: ExportFormat): Promise<void> {
  const run = currentRun();
  const bytes = await exportRun(format, run);
  download(bytes, fileName(run!, format));
  byId('status').textContent = `${run!.name}: ${format} exported (${(bytes.length / 1024).toFixed(1)} KiB)`;
}

/** A new run of the form's settings whose model loads the file (weights or a checkpoint). */
function importBytes(bytes: Uint8Array, name: string): Promise<RunResult> {
  const s = readForm();
  return new Promise((settle) => {
    const run = newRun(s, `imported ${name}`, settle);
    post({ type: 'import', runId: run.id, settings: s, name, bytes }, [bytes.buffer]);
    renderRuns();
  });
}

let csvLoaded: ((m: CsvMessage) => void) | null = null;

function showCsv(m: CsvMessage): void {
  const info = byId('csv-info');
  if (m.error) {
    showError(`${m.name}: ${m.error}`);
    info.textContent = '';
  } else {
    byId('error').hidden = true;
    settings = { ...readForm(), dataset: 'csv' };
    writeForm(settings);
    writeUrl();
    info.textContent = `Data: ${m.name}, ${m.n} rows of ${m.features} features, ${m.classes.length} classes ` +
      `(label column '${m.labelName}': ${m.classes.slice(0, 6).join(', ')}${m.classes.length > 6 ? ', …' : ''}); a fifth is held out.`;
  }
  csvLoaded?.(m);
  csvLoaded = null;
}

function setupFiles(): void {
  byId('export-weights').addEventListener('click', () => void exportClicked('weights').catch(showError));
  byId('export-checkpoint').addEventListener('click', () => void exportClicked('checkpoint').catch(showError));
  const importInput = byId<HTMLInputElement>('import-file');
  importInput.addEventListener('change', () => {
    const file = importInput.files?.[0];
    importInput.value = '';
    if (!file) return;
    file.arrayBuffer().then((b) => importBytes(new Uint8Array(b), file.name), showError);
  });
  const csvInput = byId<HTMLInputElement>('csv-file');
  csvInput.addEventListener('change', () => {
    const file = csvInput.files?.[0];
    csvInput.value = '';
    if (!file) return;
    // Parsed in the worker, so a big file never holds up the page.
    file.text().then((text) => post({ type: 'csv', name: file.name, text }), showError);
  });
}

// ---- wiring ---------------------------------------------------------------------------------

async function runComparison(): Promise<RunResult[]> {
  const base = readForm();
  return Promise.all(PRESETS[preset].comparison.runs.map((r) => startRun({ ...base, ...r.change }, r.name)));
}

/** A run's name: its optimizer and rate, and whatever else sets it apart from the defaults. */
function runName(s: Settings): string {
  const parts = [s.optimizer, ...(s.schedule === 'constant' ? [] : [s.schedule]), `lr ${s.lr}`];
  if (s.clipGradNorm > 0) parts.push(`clip norm ${s.clipGradNorm}`);
  if (s.clipGradValue > 0) parts.push(`clip value ${s.clipGradValue}`);
  if (s.l1 > 0) parts.push(`L1 ${s.l1}`);
  if (s.l2 > 0) parts.push(`L2 ${s.l2}`);
  if (s.dropout > 0) parts.push(`dropout ${s.dropout}`);
  if (s.residual) parts.push('residual');
  if (s.norm !== 'none') parts.push(`${s.norm} norm`);
  if (s.dataset === 'csv') parts.push('CSV');
  return parts.join(' ');
}

buildPresetLinks();
buildForm();
setupFiles();
setupDrawing();
showProbabilities(null);
byId('train').addEventListener('click', () => {
  try {
    settings = readForm();
    void startRun(settings, runName(settings));
  } catch (e) {
    showError(e);
  }
});
byId('stop').addEventListener('click', () => {
  for (const r of runs) if (r.status === 'training' || r.status === 'queued') post({ type: 'stop', runId: r.id });
});
byId('compare').addEventListener('click', () => void runComparison().catch(showError));
byId('find-lr').addEventListener('click', () => {
  byId('status').textContent = 'range test: sweeping the rate from 1e-4 to 10…';
  setBusy(true);
  post({ type: 'findLr', runId: nextId++, settings: readForm() });
});
byId('surface').addEventListener('change', () => redraw('surface'));
byId('surface-steps').addEventListener('change', () => redraw('surface'));
window.addEventListener('resize', () => {
  forgetWidths();
  for (const c of Object.values(charts)) c.resize();
  redraw();
});
showPreset(preset, settings);

declare global {
  interface Window {
    descentDemo: {
      ready: Promise<string>;
      presets: { id: PresetId; title: string }[];
      loadPreset(id: PresetId): Settings;
      run(settings?: Partial<Settings>, name?: string): Promise<RunResult>;
      compare(): Promise<RunResult[]>;
      findLr(): Promise<{ lrs: number[]; losses: number[]; suggestion: number | null }>;
      settings(): Settings;
      runs(): RunResult[];
      drawTimes(): { what: string; start: number; ms: number }[];
      exportModel(format?: ExportFormat, runId?: number): Promise<number[]>;
      predictions(runId: number): Promise<number[]>;
      loadCsv(text: string, name?: string): Promise<CsvMessage>;
      feed(name: string, records: { loss: number[]; lr?: number[]; gradNorm?: number[] }): number;
      drawn(): Promise<void>;
    };
  }
}

window.descentDemo = {
  ready,
  presets: PRESET_IDS.map((id) => ({ id, title: PRESETS[id].title })),
  loadPreset(id) {
    if (!(PRESET_IDS as readonly string[]).includes(id)) throw new Error(`no preset '${id}' (known: ${PRESET_IDS.join(', ')})`);
    showPreset(id);
    return settings;
  },
  run(change = {}, name) {
    const s = checkSettings(change, readForm());
    settings = s;
    writeForm(s);
    writeUrl();
    return startRun(s, name ?? runName(s));
  },
  compare: runComparison,
  findLr() {
    return new Promise((resolve) => {
      const listen = (e: MessageEvent<FromWorker>) => {
        if (e.data.type !== 'lrFinding') return;
        worker.removeEventListener('message', listen);
        resolve({ lrs: Array.from(e.data.lrs), losses: Array.from(e.data.losses), suggestion: e.data.suggestion });
      };
      worker.addEventListener('message', listen);
      byId('find-lr').click();
    });
  },
  settings: () => ({ ...settings }),
  runs: () => runs.map(result),
  drawTimes: () => drawTimes.slice(),
  async exportModel(format = 'weights', runId) {
    return Array.from(await exportRun(format, runId === undefined ? currentRun() : find(runId)));
  },
  async predictions(runId) {
    const m = await ask({ type: 'predictions', runId }, 'predictions', runId);
    if (!m.logits) throw new Error(m.error);
    return Array.from(m.logits);
  },
  drawn() {
    return !drawPending && changed.size === 0 ? Promise.resolve() : new Promise((resolve) => drawnWaiters.push(resolve));
  },
  feed(name, { loss, lr = [], gradNorm = [] }) {
    let run = runs.find((r) => r.name === name && r.status === 'done');
    if (!run) {
      run = newRun(readForm(), name, () => {});
      run.status = 'done';
      renderRuns();
    }
    for (let i = 0; i < loss.length; i++) {
      run.steps.push(run.steps.length);
      run.loss.push(loss[i]!);
      run.lr.push(lr[i] ?? NaN);
      run.gradNorm.push(gradNorm[i] ?? NaN);
    }
    redraw('records');
    return run.id;
  },
  loadCsv(text, name = 'data.csv') {
    return new Promise((resolve) => {
      csvLoaded = resolve;
      post({ type: 'csv', name, text });
    });
  },
};
