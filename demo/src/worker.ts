/**
 * The lab's training worker (a module worker): opens the device (WebGPU, else the CPU backend),
 * trains one run at a time from the settings the page sends, and posts records back in batches
 * whose buffers are transferred. The page's thread never trains, so it never freezes, even on the
 * CPU backend, where each step computes inside `trainer.step`.
 *
 * The loop never awaits a step's own result: every AWAIT_EVERY steps it waits for the record of
 * the step AWAIT_EVERY steps earlier, which bounds the work queued on the device, and it yields
 * to the message queue every few milliseconds so that stop and live changes arrive between steps.
 *
 * The models of the last KEEP finished runs stay on the device, for export, predictions and the
 * drawn digits; an imported file becomes a run of its own whose model is loaded, not trained.
 */
import { createDevice, data, type Device, io, nn, optim, type StepRecord, Trainer } from '../../src/index.js';
import { buildModel, buildOptimizer, buildSchedule, loadSplit, plannedRates, type Schedule, setCsv } from './build.js';
import { parseCsv } from './csv.js';
import { type ExportFormat, type FromWorker, RECORD_FIELDS, type ToWorker } from './protocol.js';
import type { Settings } from './settings.js';

const AWAIT_EVERY = 8;
const YIELD_MS = 10;
const FLUSH_MS = 100;
const EVAL_BATCH = 500;
const TRAIN_EVAL = 1000;
const KEEP = 4;

const scope = self as unknown as { postMessage(m: FromWorker, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

let device: Promise<Device> | null = null;

interface Active {
  runId: number;
  stopped: boolean;
  optimizer: optim.Optimizer;
  schedule: Schedule | undefined;
  /** Live changes for the next step. */
  pending: { lr?: number; l1?: number; l2?: number };
}

let active: Active | null = null;
/** The last finished MNIST model, for the drawing canvas. */
let digits: Trainer | null = null;
/** Finished runs' trainers and settings, oldest first. */
const kept = new Map<number, { trainer: Trainer; settings: Settings }>();

function keep(runId: number, trainer: Trainer, settings: Settings): void {
  kept.set(runId, { trainer, settings });
  for (const [id, old] of kept) {
    if (kept.size <= KEEP) break;
    kept.delete(id);
    if (old.trainer !== digits) void old.trainer.dispose();
  }
}

function setDigits(trainer: Trainer): void {
  const old = digits;
  digits = trainer;
  if (old && old !== trainer && ![...kept.values()].some((k) => k.trainer === old)) void old.dispose();
}
let queue: Promise<void> = Promise.resolve();

const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Applies the page's live changes to every group before the next step. */
function applyPending(run: Active): void {
  const { lr, l1, l2 } = run.pending;
  for (const g of run.optimizer.paramGroups) {
    if (lr !== undefined) g.lr = lr;
    if (l1 !== undefined) g.l1 = l1;
    if (l2 !== undefined) g.l2 = l2;
  }
  run.pending = {};
}

/** The model, optimizer, schedule and trainer of a run's settings. */
async function setUp(s: Settings) {
  const d = await device!;
  const { train: set, test } = await loadSplit(s);
  const { model, linears } = buildModel(s, data.sampleSize(set), set.classes);
  const optimizer = buildOptimizer(s, model.parameters());
  const schedule = buildSchedule(s, optimizer, s.steps);
  const trainer = new Trainer(d, model, {
    loss: new nn.CrossEntropyLoss(),
    optimizer,
    ...(schedule ? { scheduler: schedule } : {}),
    inputShape: set.inputShape,
    ...(s.clipGradNorm > 0 ? { clipGradNorm: s.clipGradNorm } : {}),
    ...(s.clipGradValue > 0 ? { clipGradValue: s.clipGradValue } : {}),
    l1: s.l1,
    l2: s.l2,
    seed: s.seed,
    trackGradNorm: true,
    ...(s.layerEvery > 0 ? { layerStats: { every: s.layerEvery } } : {}),
  });
  const names = new Map(model.namedParameters().map(([name, p]) => [p, name]));
  const layerNames = linears.map((l) => names.get(l.weight)!);
  return { set, test, model, layerNames, optimizer, schedule, trainer };
}

type Setup = Awaited<ReturnType<typeof setUp>>;

/** Ends a run: the weights of its Linear layers, the confusion matrix of the digits, 'done'. */
async function finishRun(runId: number, s: Settings, { model, layerNames, trainer, test }: Setup, stopped: boolean): Promise<void> {
  const state = await model.stateDict();
  const weights = new Float32Array(layerNames.reduce((n, name) => n + state[name]!.length, 0));
  let at = 0;
  for (const name of layerNames) {
    weights.set(state[name]!, at);
    at += state[name]!.length;
  }
  let confusion: Int32Array | null = null;
  if (s.dataset === 'mnist') {
    confusion = await confusionMatrix(trainer, test);
    setDigits(trainer);
  }
  keep(runId, trainer, s);
  post({ type: 'done', runId, stopped, weights, confusion }, [weights.buffer, ...(confusion ? [confusion.buffer] : [])]);
}

function failRun(runId: number, stopped: boolean, e: unknown): void {
  post({ type: 'done', runId, stopped, error: message(e), weights: new Float32Array(0), confusion: null });
}

async function train(runId: number, s: Settings): Promise<void> {
  let setup: Setup;
  try {
    setup = await setUp(s);
  } catch (e) {
    failRun(runId, false, e);
    return;
  }
  const { set, test, layerNames, optimizer, schedule, trainer } = setup;
  const batchSize = Math.min(s.batchSize, set.n);
  const run: Active = { runId, stopped: false, optimizer, schedule, pending: {} };
  active = run;
  post({ type: 'started', runId, planned: plannedRates(schedule, s.lr, s.steps), layers: layerNames, dispatches: trainer.describeStep(batchSize).dispatches });

  let buffered: number[] = [];
  let lastFlush = performance.now();
  const flush = () => {
    if (buffered.length === 0) return;
    const packed = Float64Array.from(buffered);
    buffered = [];
    lastFlush = performance.now();
    post({ type: 'records', runId, data: packed }, [packed.buffer]);
  };
  let failure: unknown = null;
  const onRecord = (r: StepRecord) => {
    buffered.push(r.step, r.loss, r.lr, r.gradNorm);
    if (r.layerStats) {
      const stats = layerNames.map((n) => r.layerStats![n]!);
      const gradNorm = Float64Array.from(stats, (x) => x.gradNorm);
      const updateRatio = Float64Array.from(stats, (x) => x.updateRatio);
      post({ type: 'layers', runId, step: r.step, gradNorm, updateRatio }, [gradNorm.buffer, updateRatio.buffer]);
    }
  };
  // The training-set loss of the chart is measured on at most TRAIN_EVAL samples, so that it costs
  // about as much as the held-out one.
  const trainSample = set.n > TRAIN_EVAL ? data.take(set, Array.from({ length: TRAIN_EVAL }, (_, i) => i)) : set;
  const evaluate = async (step: number) => {
    flush();
    const [tr, te] = await Promise.all([trainer.evaluate(trainSample, { batchSize: EVAL_BATCH }), trainer.evaluate(test, { batchSize: EVAL_BATCH })]);
    post({ type: 'eval', runId, step, trainLoss: tr.loss, trainAccuracy: tr.accuracy, testLoss: te.loss, testAccuracy: te.accuracy });
    if (schedule instanceof optim.lr.ReduceLROnPlateau && step > 0) schedule.step(tr.loss);
  };

  let step = 0;
  let lastYield = performance.now();
  const inFlight: Promise<StepRecord>[] = [];
  try {
    await evaluate(0);
    for (let epoch = 0; step < s.steps && !run.stopped && !failure; epoch++) {
      for (const { x, y } of data.batches(set, batchSize, { shuffle: true, seed: s.seed * 1000 + epoch, dropLast: true })) {
        if (step >= s.steps || run.stopped || failure) break;
        applyPending(run);
        const { loss, record } = trainer.step(x, y);
        loss.catch(() => {});
        record.then(onRecord, (e: unknown) => {
          failure ??= e;
        });
        inFlight.push(record);
        step++;
        if (inFlight.length > AWAIT_EVERY) await inFlight.shift()!.catch(() => {});
        if (step % s.evalEvery === 0 && step < s.steps) await evaluate(step);
        if (performance.now() - lastFlush > FLUSH_MS) flush();
        if (performance.now() - lastYield > YIELD_MS) {
          await pause();
          lastYield = performance.now();
        }
      }
    }
    await Promise.allSettled(inFlight);
    await trainer.idle();
    if (failure) throw failure;
    await evaluate(step);
    flush();
    await finishRun(runId, s, setup, run.stopped);
  } catch (e) {
    flush();
    failRun(runId, run.stopped, e);
    if (digits !== trainer && !kept.has(runId)) await trainer.dispose();
  } finally {
    active = null;
  }
}

/** A run whose model loads a file (weights, or a checkpoint with its optimizer state) instead of training. */
async function importModel(runId: number, s: Settings, bytes: Uint8Array): Promise<void> {
  let setup: Setup | null = null;
  try {
    setup = await setUp(s);
    const { set, test, model, layerNames, schedule, trainer } = setup;
    post({ type: 'started', runId, planned: plannedRates(schedule, s.lr, s.steps), layers: layerNames, dispatches: trainer.describeStep(Math.min(s.batchSize, set.n)).dispatches });
    const checkpoint = io.decodeSafetensors(bytes).metadata['descent.checkpoint'] !== undefined;
    if (checkpoint) await io.loadCheckpoint(trainer, bytes);
    else io.loadSafetensors(model, bytes);
    const trainSample = set.n > TRAIN_EVAL ? data.take(set, Array.from({ length: TRAIN_EVAL }, (_, i) => i)) : set;
    const [tr, te] = await Promise.all([trainer.evaluate(trainSample, { batchSize: EVAL_BATCH }), trainer.evaluate(test, { batchSize: EVAL_BATCH })]);
    post({ type: 'eval', runId, step: 0, trainLoss: tr.loss, trainAccuracy: tr.accuracy, testLoss: te.loss, testAccuracy: te.accuracy });
    await finishRun(runId, s, setup, false);
  } catch (e) {
    failRun(runId, false, e);
    if (setup && !kept.has(runId)) await setup.trainer.dispose();
  }
}

function notKept(runId: number): string {
  return `run ${runId}'s model is no longer on the device (the lab keeps the last ${KEEP} finished runs); train it again`;
}

async function exportModel(runId: number, format: ExportFormat): Promise<void> {
  const trainer = kept.get(runId)?.trainer;
  try {
    if (!trainer) throw new Error(notKept(runId));
    const bytes = format === 'checkpoint' ? await io.saveCheckpoint(trainer) : await io.saveSafetensors(trainer.model);
    post({ type: 'exported', runId, format, bytes }, [bytes.buffer]);
  } catch (e) {
    post({ type: 'exported', runId, format, bytes: null, error: message(e) });
  }
}

async function predictions(runId: number): Promise<void> {
  const run = kept.get(runId);
  try {
    if (!run) throw new Error(notKept(runId));
    const { test } = await loadSplit(run.settings);
    const logits = await run.trainer.predict(test.x as Float32Array);
    post({ type: 'predictions', runId, logits }, [logits.buffer]);
  } catch (e) {
    post({ type: 'predictions', runId, logits: null, error: message(e) });
  }
}

function loadCsv(name: string, text: string): void {
  try {
    const d = parseCsv(text);
    setCsv(d);
    post({ type: 'csv', name, n: d.n, features: d.features, classes: d.classes, labelName: d.labelName });
  } catch (e) {
    post({ type: 'csv', name, error: message(e), n: 0, features: 0, classes: [], labelName: '' });
  }
}

async function confusionMatrix(trainer: Trainer, test: data.Dataset): Promise<Int32Array> {
  const k = test.classes;
  const counts = new Int32Array(k * k);
  const logits = await trainer.predict(test.x as Float32Array);
  for (let i = 0; i < test.n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (logits[i * k + c]! > logits[i * k + best]!) best = c;
    counts[(test.y as Int32Array)[i]! * k + best]! += 1;
  }
  return counts;
}

async function findLr(runId: number, s: Settings): Promise<void> {
  const d = await device!;
  const { train: set } = await loadSplit(s);
  const { model } = buildModel(s, data.sampleSize(set), set.classes);
  const optimizer = buildOptimizer(s, model.parameters());
  const trainer = new Trainer(d, model, { loss: new nn.CrossEntropyLoss(), optimizer, inputShape: set.inputShape, seed: s.seed });
  try {
    const f = await trainer.findLr(set, { batchSize: Math.min(s.batchSize, set.n), steps: 80, startLr: 1e-4, endLr: 10 });
    post({ type: 'lrFinding', runId, lrs: Float64Array.from(f.lrs), losses: Float64Array.from(f.losses), smoothed: Float64Array.from(f.smoothed), suggestion: f.suggestion });
  } catch (e) {
    const none = new Float64Array(0);
    post({ type: 'lrFinding', runId, lrs: none, losses: none, smoothed: none, suggestion: null, error: message(e) });
  } finally {
    await trainer.dispose();
  }
}

async function predict(pixels: Float32Array): Promise<void> {
  if (!digits) {
    post({ type: 'probabilities', probabilities: null });
    return;
  }
  try {
    const logits = await digits.predict(pixels);
    const max = Math.max(...logits);
    const e = logits.map((z) => Math.exp(z - max));
    const sum = e.reduce((a, b) => a + b, 0);
    post({ type: 'probabilities', probabilities: e.map((v) => v / sum) });
  } catch (e) {
    console.error(`the drawn digit: ${message(e)}`);
    post({ type: 'probabilities', probabilities: null });
  }
}

/** Runs one job after another; stop and live changes act at once on the run in flight. */
function enqueue(job: () => Promise<void>): void {
  queue = queue.then(job, job);
}

scope.onmessage = (e) => {
  const m = e.data;
  switch (m.type) {
    case 'init':
      device ??= createDevice(m.backend === 'cpu' ? { backend: 'cpu' } : {});
      void device.then(
        (d) => post({ type: 'ready', kind: d.kind, reason: d.reason, description: d.kind === 'webgpu' ? d.backend.description : 'CPU backend' }),
        (err: unknown) => post({ type: 'ready', kind: 'none', reason: message(err), description: '' }),
      );
      break;
    case 'train':
      enqueue(() => train(m.runId, m.settings));
      break;
    case 'findLr':
      enqueue(() => findLr(m.runId, m.settings));
      break;
    case 'stop':
      if (active?.runId === m.runId) active.stopped = true;
      break;
    case 'set':
      if (active?.runId === m.runId) {
        const { lr, l1, l2 } = m;
        active.pending = { ...active.pending, ...(lr !== undefined ? { lr } : {}), ...(l1 !== undefined ? { l1 } : {}), ...(l2 !== undefined ? { l2 } : {}) };
      }
      break;
    case 'predict':
      void predict(m.pixels);
      break;
    case 'csv':
      enqueue(async () => loadCsv(m.name, m.text));
      break;
    case 'export':
      enqueue(() => exportModel(m.runId, m.format));
      break;
    case 'import':
      enqueue(() => importModel(m.runId, m.settings, m.bytes));
      break;
    case 'predictions':
      enqueue(() => predictions(m.runId));
      break;
  }
};
