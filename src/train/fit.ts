import { epochBatches, type Samples } from './batch.js';
import type { StepRecord, Trainer } from './trainer.js';

export interface FitOptions {
  /**
   * Whole passes over the samples. May be left out when `maxSteps` is given: training then runs
   * epoch after epoch until `maxSteps`. Training goes on from `trainer.dataPosition`: a fit that
   * follows one cut short by `maxSteps` or `signal` (or a checkpoint saved mid-epoch) first
   * finishes that epoch, which counts as one; so fit(a steps) then fit(b steps) is fit(a + b).
   */
  epochs?: number;
  batchSize: number;
  /**
   * Stop once this many steps have run in this call, in total over the epochs. An epoch cut
   * short is summarised (and validated) like a whole one, with its `steps` fewer.
   */
  maxSteps?: number;
  /** Visit the samples in a new seeded order every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffles; epoch e uses seed + e (default 0). */
  seed?: number;
  /** Skip each epoch's last, smaller batch, so only one batch size is compiled (default false). */
  dropLast?: boolean;
  /** Evaluated after every epoch; its loss also drives ReduceLROnPlateau. */
  validation?: Samples;
  /** Called with every step's record, in order, as it arrives from the device. */
  onStep?: (record: StepRecord) => void;
  /** Called after every epoch; may be async (the next epoch waits for it). */
  onEpoch?: (summary: EpochSummary) => void | Promise<void>;
  /**
   * Stops after the step in flight; `fit` then resolves with the epochs completed. A fit also
   * ends this way when onNonFinite 'stop' sets `trainer.stopped`.
   */
  signal?: AbortSignal;
  /**
   * Waits for the device every this many steps, so that at most this many steps are in flight
   * and records keep arriving (default 16).
   */
  syncEvery?: number;
  /**
   * Milliseconds `fit` may hold the thread before it yields between two steps. On a page's main
   * thread, about one frame (16) keeps the page painting and answering input while it trains:
   * the CPU backend computes inside every step, and even WebGPU steps are enqueued back to back
   * without a pause. Default: no yields beyond the `syncEvery` waits, or 16 when `onYield` is
   * given.
   */
  yieldEvery?: number;
  /**
   * How `fit` yields, awaited between steps once `yieldEvery` ms have passed since the last yield
   * (or the start). Default: a macrotask (`setTimeout(..., 0)`), which lets the browser paint and
   * run input handlers; pass `() => new Promise((r) => requestAnimationFrame(() => r()))` to wait
   * for the next frame, or any async work of your own (the `signal` is checked after it).
   */
  onYield?: () => void | Promise<void>;
}

export interface EpochSummary {
  readonly epoch: number;
  /** Mean training loss over the epoch's steps (dropout active, penalties excluded). */
  readonly loss: number;
  readonly steps: number;
  /** The learning rate of the epoch's last step. */
  readonly lr: number;
  readonly validation: { loss: number; accuracy: number } | null;
  readonly seconds: number;
}

const macrotask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** An integer >= min, or Infinity (no bound); an error names the option. */
function count(name: string, value: number, min: number): number {
  if (value === Infinity || (Number.isInteger(value) && value >= min)) return value;
  throw new Error(`fit: ${name} must be an integer >= ${min}, got ${value}`);
}

/**
 * The training loop behind `Trainer.fit`: shuffled batches, steps enqueued without waiting, a
 * bounded number in flight, records and epoch summaries reported as they come, the thread given
 * back every `yieldEvery` ms, and the schedule's `afterEpoch` hook after every epoch.
 */
export async function fit(trainer: Trainer, samples: Samples, options: FitOptions): Promise<EpochSummary[]> {
  const { batchSize, shuffle = true, seed = 0, dropLast = false, validation, onStep, onEpoch, signal, syncEvery = 16 } = options;
  if (options.epochs === undefined && options.maxSteps === undefined) throw new Error('fit: give epochs, maxSteps or both');
  const epochs = count('epochs', options.epochs ?? Infinity, 0);
  const maxSteps = count('maxSteps', options.maxSteps ?? Infinity, 0);
  count('syncEvery', syncEvery, 1);
  const onYield = options.onYield ?? macrotask;
  const yieldEvery = options.yieldEvery ?? (options.onYield ? 16 : Infinity);
  if (!(yieldEvery >= 0)) throw new Error(`fit: yieldEvery must be a number of milliseconds >= 0, got ${yieldEvery}`);

  // Bad values stop the fit before any step, named by their sample in the dataset.
  trainer.checkSamples(samples, batchSize, 'Trainer.fit');
  if (validation) trainer.checkSamples(validation, batchSize, 'Trainer.fit (validation)');
  trainer.stopped = null;
  const halted = (): boolean => signal?.aborted === true || trainer.stopped !== null;

  const summaries: EpochSummary[] = [];
  let total = 0;
  let lastYield = performance.now();
  // Training goes on from the trainer's data position, where an earlier fit or a checkpoint stopped.
  const first = trainer.dataPosition.epoch;
  const startStep = trainer.stepCount;
  // A lost device: the trainer resumes from its last snapshot on a new one, and so does the loop.
  for (;;) {
    try {
      await epochLoop();
      return summaries;
    } catch (e) {
      if (!(await trainer.recoverIfLost(e))) throw e;
      total = Math.max(0, trainer.stepCount - startStep);
    }
  }

  async function epochLoop(): Promise<void> {
    const resume = trainer.dataPosition;
    for (let epoch = resume.epoch; epoch - first < epochs && total < maxSteps && !halted(); epoch++) {
      const started = performance.now();
      const records: Promise<StepRecord>[] = [];
      const skip = epoch === resume.epoch ? resume.batch : 0;
      let batch = 0;
      let cut = false;
      for (const { x, y } of epochBatches(samples, trainer.options.inputShape, batchSize, { shuffle, seed: seed + epoch, dropLast })) {
        if (batch < skip) {
          batch++;
          continue;
        }
        if (halted() || total >= maxSteps) {
          cut = true;
          break;
        }
        const { record } = trainer.step(x, y);
        trainer.dataPosition = { epoch, batch: ++batch };
        total++;
        const reported = onStep ? record.then((r) => (onStep(r), r)) : record;
        // Awaited below; a lost device may fail it before then, which must not surface twice.
        reported.catch(() => undefined);
        records.push(reported);
        if (records.length % syncEvery === 0) await trainer.guard(record);
        if (performance.now() - lastYield >= yieldEvery) {
          await onYield();
          lastYield = performance.now();
        }
      }
      if (!cut) trainer.dataPosition = { epoch: epoch + 1, batch: 0 };
      const done = await trainer.guard(Promise.all(records));
      if (halted()) break;
      const evaluated = validation ? await trainer.evaluate(validation, { batchSize }) : null;
      const summary: EpochSummary = {
        epoch,
        loss: mean(done.map((r) => r.loss)),
        steps: done.length,
        lr: done[done.length - 1]?.lr ?? NaN,
        validation: evaluated,
        seconds: (performance.now() - started) / 1000,
      };
      trainer.options.scheduler?.afterEpoch?.(summary);
      summaries.push(summary);
      await onEpoch?.(summary);
    }
  }
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
