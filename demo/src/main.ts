/**
 * The lab: opens a device (WebGPU, else the CPU backend, with the reason), wires the form to a
 * training run and the run to the pictures, and exposes `window.descentDemo` so that a test (or
 * the console) can drive a run: `await descentDemo.run({ dataset: 'spiral', epochs: 20 })`.
 */
import { createDevice, type Device } from '../../src/index.js';
import { type DatasetName, DEFAULT_CONFIG, OPTIMIZERS, presetFor, type RunConfig, SCHEDULES } from './config.js';
import { Controls } from './controls.js';
import { loadDataset } from './datasets.js';
import { Run } from './run.js';
import { View } from './view.js';

/** What `descentDemo.run` resolves to. */
export interface RunSummary {
  backend: string;
  steps: number;
  losses: number[];
  accuracy: number[];
  stopped: boolean;
  error?: string;
}

function byId<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

const controls = new Controls(byId<HTMLFormElement>('controls'));
const view = new View({
  loss: byId('loss-chart'),
  lr: byId('lr-chart'),
  gradNorm: byId('grad-chart'),
  accuracy: byId('accuracy-chart'),
  predictions: byId('predictions'),
});
const statusLine = byId('status');
const errorBox = byId('error');
let current: Run | null = null;
/** True from the moment a run is asked for until it has finished, data loading included. */
let busy = false;

const device: Promise<Device> = createDevice().then((d) => {
  const where = byId('device');
  where.className = d.kind === 'webgpu' ? 'device gpu' : 'device cpu';
  where.textContent = d.kind === 'webgpu'
    ? `Training on WebGPU: ${d.backend.description}`
    : `No WebGPU here, training on the CPU backend (${d.reason})`;
  return d;
});

function showError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  errorBox.textContent = message;
  errorBox.hidden = false;
  return message;
}

async function start(config: RunConfig): Promise<RunSummary> {
  if (busy) throw new Error('a run is already going; stop it first');
  busy = true;
  errorBox.hidden = true;
  controls.setRunning(true);
  const summary: RunSummary = { backend: '', steps: 0, losses: [], accuracy: [], stopped: false };
  try {
    statusLine.textContent = 'loading the data…';
    const split = await loadDataset(config.dataset, config.seed);
    const d = await device;
    summary.backend = d.kind;
    const run = new Run(d, config, split);
    current = run;
    view.reset(run.metrics, split);
    const step = run.trainer.describeStep(run.batchSize);
    byId('step-info').textContent =
      `One step (batch ${run.batchSize}): ${step.submits} submit, ${step.dispatches} dispatches; ` +
      `${run.stepsPerEpoch} steps per epoch, ${run.metrics.totalSteps} in all.`;
    await run.train({
      changed: () => view.request(),
      predictions: (logits) => view.setPredictions(logits),
      status: (text) => {
        statusLine.textContent = text;
      },
    });
    const { metrics } = run;
    summary.steps = metrics.steps;
    summary.losses = metrics.loss.slice();
    summary.accuracy = metrics.epochs.map((e) => e.accuracy);
    summary.stopped = run.isStopped;
    const last = metrics.epochs[metrics.epochs.length - 1];
    statusLine.textContent = `${run.isStopped ? 'stopped' : 'done'} after ${metrics.steps} steps` +
      (last ? `; held-out accuracy ${(100 * last.accuracy).toFixed(1)}%, loss ${last.loss.toFixed(3)}` : '');
  } catch (e) {
    summary.error = showError(e);
    statusLine.textContent = 'the run failed';
  } finally {
    current = null;
    busy = false;
    controls.setRunning(false);
    view.request();
  }
  return summary;
}

function startFromForm(): void {
  let config: RunConfig;
  try {
    config = controls.read();
  } catch (e) {
    showError(e);
    return;
  }
  start(config).catch(showError);
}

/** Shows the chosen data in the prediction picture before any run. */
let previewed = 0;
async function preview(name: DatasetName): Promise<void> {
  const token = ++previewed;
  try {
    const split = await loadDataset(name, controls.read().seed);
    // MNIST takes a moment to load: by then another set may be chosen, or a run started.
    if (!busy && token === previewed) view.reset(null, split);
  } catch (e) {
    showError(e);
  }
}

controls.apply({ ...DEFAULT_CONFIG, ...presetFor(DEFAULT_CONFIG.dataset) });
controls.onDatasetChange((name) => void preview(name));
void preview(DEFAULT_CONFIG.dataset);
controls.start.addEventListener('click', startFromForm);
controls.stop.addEventListener('click', () => current?.stop());
controls.setRunning(false);

declare global {
  interface Window {
    descentDemo: {
      /** Resolves with the device's kind ('webgpu' or 'cpu') once it is open. */
      ready: Promise<string>;
      /** Writes the given settings into the form, then trains as the Start button does. */
      run(config?: Partial<RunConfig>): Promise<RunSummary>;
      stop(): void;
      optimizers: string[];
      schedules: string[];
    };
  }
}

window.descentDemo = {
  ready: device.then((d) => d.kind),
  run: async (config = {}) => {
    if (config.dataset) controls.apply(presetFor(config.dataset));
    controls.apply(config);
    return start({ ...controls.read(), ...(config.maxSteps ? { maxSteps: config.maxSteps } : {}) });
  },
  stop: () => current?.stop(),
  optimizers: Object.keys(OPTIMIZERS),
  schedules: Object.keys(SCHEDULES),
};
