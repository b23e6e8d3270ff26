import { batches } from '../data/batches.js';
import type { Dataset } from '../data/dataset.js';
import { ReduceLROnPlateau } from '../optim/lr/reduce-on-plateau.js';
import type { StepRecord, Trainer } from './trainer.js';

export interface FitOptions {
  epochs: number;
  batchSize: number;
  /** Visit the samples in a new seeded order every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffles; epoch e uses seed + e (default 0). */
  seed?: number;
  /** Skip each epoch's last, smaller batch, so only one batch size is compiled (default false). */
  dropLast?: boolean;
  /** Evaluated after every epoch; its loss also drives ReduceLROnPlateau. */
  validation?: Dataset;
  /** Called with every step's record, in order, as it arrives from the device. */
  onStep?: (record: StepRecord) => void;
  /** Called after every epoch; may be async (the next epoch waits for it). */
  onEpoch?: (summary: EpochSummary) => void | Promise<void>;
  /** Stops after the step in flight; `fit` then resolves with the epochs completed. */
  signal?: AbortSignal;
  /**
   * Waits for the device every this many steps, so that at most this many steps are in flight
   * and records keep arriving (default 16).
   */
  syncEvery?: number;
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

/**
 * The training loop behind `Trainer.fit`: shuffled batches, steps enqueued without waiting, a
 * bounded number in flight, records and epoch summaries reported as they come.
 */
export async function fit(trainer: Trainer, dataset: Dataset, options: FitOptions): Promise<EpochSummary[]> {
  const { epochs, batchSize, shuffle = true, seed = 0, dropLast = false, validation, onStep, onEpoch, signal, syncEvery = 16 } = options;
  if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`fit: epochs must be an integer >= 0, got ${epochs}`);
  if (!Number.isInteger(syncEvery) || syncEvery < 1) throw new Error(`fit: syncEvery must be an integer >= 1, got ${syncEvery}`);
  const summaries: EpochSummary[] = [];
  for (let epoch = 0; epoch < epochs && !signal?.aborted; epoch++) {
    const started = performance.now();
    const records: Promise<StepRecord>[] = [];
    for (const { x, y } of batches(dataset, batchSize, { shuffle, seed: seed + epoch, dropLast })) {
      if (signal?.aborted) break;
      const { record } = trainer.step(x, y);
      records.push(onStep ? record.then((r) => (onStep(r), r)) : record);
      if (records.length % syncEvery === 0) await record;
    }
    const done = await Promise.all(records);
    if (signal?.aborted) break;
    const evaluated = validation ? await trainer.evaluate(validation, { batchSize }) : null;
    const { scheduler } = trainer.options;
    if (scheduler instanceof ReduceLROnPlateau) scheduler.step(evaluated ? evaluated.loss : mean(done.map((r) => r.loss)));
    const summary: EpochSummary = {
      epoch,
      loss: mean(done.map((r) => r.loss)),
      steps: done.length,
      lr: done[done.length - 1]?.lr ?? NaN,
      validation: evaluated,
      seconds: (performance.now() - started) / 1000,
    };
    summaries.push(summary);
    await onEpoch?.(summary);
  }
  return summaries;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
