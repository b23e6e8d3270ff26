/**
 * One training run: builds the model, optimizer, schedule and Trainer from a RunConfig, steps
 * through the epochs without waiting for the device, and after each epoch (and on a stop)
 * evaluates on the held-out set and computes the picture's logits, on the same device in eval
 * mode through `trainer.evaluate` and `trainer.predict`.
 *
 * `trainer.step` returns at once; its record (loss, rate, gradient norm) arrives a few steps
 * later. The loop never awaits a step's own result: every AWAIT_EVERY steps it waits for the
 * record of the step submitted AWAIT_EVERY steps earlier, which bounds the work queued on the
 * device while keeping it busy, and it yields to the browser whenever it has held the main
 * thread for a frame, so the page keeps drawing (the CPU backend computes inside `step`).
 */
import { data, type Device, nn, type StepRecord, Trainer } from '../../src/index.js';
import type { RunConfig } from './config.js';
import type { Split } from './datasets.js';
import { Metrics } from './metrics.js';
import { predictionInputs } from './predictions.js';
import { buildModel, buildOptimizer, buildSchedule, plannedRates } from './setup.js';

const AWAIT_EVERY = 20;
const FRAME_MS = 16;
/**
 * Held-out batch size. Each distinct eval batch size compiles its own program: a fixed size
 * gives at most two (full batches and the remainder); it divides the 2,000 MNIST digits, and
 * the 400 points of a 2-D set fit in one batch.
 */
const EVAL_BATCH = 500;

/** Lets the browser draw and handle input before the loop goes on. */
export function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export interface RunHooks {
  /** A new record, an epoch result or a new evaluation is there to draw. */
  changed(): void;
  /** The model's logits for `predictionInputs(split.test)` after an epoch, for the prediction picture. */
  predictions(logits: Float32Array): void;
  status(text: string): void;
}

export class Run {
  readonly model: nn.Sequential;
  readonly metrics: Metrics;
  readonly trainer: Trainer;
  readonly batchSize: number;
  readonly stepsPerEpoch: number;
  private readonly maxSteps: number;
  private stopped = false;
  private failure: unknown = null;

  constructor(
    readonly device: Device,
    readonly config: RunConfig,
    readonly split: Split,
  ) {
    const { train } = split;
    const inputs = data.sampleSize(train);
    this.batchSize = Math.min(config.batchSize, train.n);
    // dropLast keeps one batch size, so the trainer compiles one program per run.
    this.stepsPerEpoch = data.batchCount(train.n, this.batchSize, true);
    this.maxSteps = config.maxSteps ?? Infinity;
    const total = Math.min(this.stepsPerEpoch * config.epochs, this.maxSteps);
    this.model = buildModel(config, inputs, train.classes);
    const optimizer = buildOptimizer(config, this.model.parameters());
    const scheduler = buildSchedule(config, optimizer, total, this.stepsPerEpoch);
    this.metrics = new Metrics(total, total / this.stepsPerEpoch, plannedRates(scheduler, optimizer, total));
    this.trainer = new Trainer(device, this.model, {
      loss: new nn.CrossEntropyLoss(),
      optimizer,
      ...(scheduler ? { scheduler } : {}),
      inputShape: train.inputShape,
      ...(config.clipGradNorm > 0 ? { clipGradNorm: config.clipGradNorm } : {}),
      ...(config.clipGradValue > 0 ? { clipGradValue: config.clipGradValue } : {}),
      l1: config.l1,
      l2: config.l2,
      seed: config.seed,
      trackGradNorm: true,
    });
  }

  /** Asks the loop to finish after the current step. */
  stop(): void {
    this.stopped = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Trains every epoch (or until stop()), then frees the device memory. Rejects on a failed step. */
  async train(hooks: RunHooks): Promise<void> {
    try {
      await this.loop(hooks);
    } finally {
      await this.trainer.dispose();
    }
  }

  private async loop(hooks: RunHooks): Promise<void> {
    const { config, split, metrics } = this;
    let step = 0;
    let checkpoint: Promise<StepRecord> | null = null;
    let latest: Promise<StepRecord> | null = null;
    let lastPause = performance.now();
    const started = performance.now();
    await this.evaluateEpoch(0, hooks);
    hooks.status('training…');
    for (let epoch = 0; epoch < config.epochs && !this.stopped && step < this.maxSteps; epoch++) {
      const order = { shuffle: true, seed: config.seed * 1000 + epoch, dropLast: true };
      for (const { x, y } of data.batches(split.train, this.batchSize, order)) {
        if (this.stopped || step >= this.maxSteps) break;
        const { loss, record } = this.trainer.step(x, y);
        loss.catch(() => {}); // the same failure surfaces through `record`
        record.then(
          (r) => {
            metrics.addStep(r);
            hooks.changed();
          },
          (e: unknown) => {
            this.failure ??= e;
            this.stopped = true;
          },
        );
        latest = record;
        step++;
        if (step % AWAIT_EVERY === 0) {
          if (checkpoint) await checkpoint.catch(() => {});
          checkpoint = record;
          const rate = step / ((performance.now() - started) / 1000);
          hooks.status(`epoch ${epoch + 1} of ${config.epochs} · step ${step} of ${metrics.totalSteps} · ${rate.toFixed(1)} steps/s`);
        }
        if (performance.now() - lastPause > FRAME_MS) {
          await pause();
          lastPause = performance.now();
        }
      }
      if (this.failure) break;
      await this.evaluateEpoch(step / this.stepsPerEpoch, hooks);
    }
    await this.trainer.idle();
    // Records arrive in order: once the last one is in, the metrics are complete and any failure known.
    await latest?.catch(() => {});
    if (this.failure) throw this.failure;
  }

  /** Held-out accuracy and loss at `epoch` (fractional after a stop), and the picture's logits. */
  private async evaluateEpoch(epoch: number, hooks: RunHooks): Promise<void> {
    const { test } = this.split;
    hooks.status(`evaluating on the ${test.n} held-out samples (on the device)…`);
    const result = await this.trainer.evaluate(test, { batchSize: EVAL_BATCH });
    this.metrics.addEpoch({ epoch, ...result });
    hooks.predictions(await this.trainer.predict(predictionInputs(test)));
    hooks.changed();
  }
}
