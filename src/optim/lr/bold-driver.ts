import { checkKeys, fail, integer, real } from './checks.js';
import { LRScheduler, type OptimizerLike, type StepSignal } from './scheduler.js';

export interface BoldDriverOptions {
  /** Multiplier after a loss that did not rise; >= 1. Default 1.05. */
  increase?: number;
  /** Multiplier after a loss that rose; in (0, 1]. Default 0.5. */
  decrease?: number;
  /** Lower bound of the rate; >= 0. Default 0. */
  minLr?: number;
  /** Upper bound of the rate; >= minLr, may be Infinity. Default Infinity. */
  maxLr?: number;
}

/**
 * The bold driver (not in torch): grow the rate while the loss falls, cut it when the loss rises.
 * For each observed training loss L_n after the first:
 *
 *     lr ← clamp(lr · (L_n <= L_{n−1} ? increase : decrease), minLr, maxLr)
 *
 * for every group, starting from the groups' initial rates. The first loss only sets the
 * reference. A loss that is NaN or infinite counts as a rise and is not kept as the reference.
 * Unlike the classic form, the step that raised the loss is not undone.
 *
 * Losses come back from the GPU asynchronously, a few steps late. So the trainer calls the
 * `onRecord` hook, hence `observeLoss(L_n)`, when step n's loss resolves, in step order, and the
 * new rate applies from the next step it enqueues: with a lag of k steps, the rate of step m
 * depends on the losses of steps 0..m−1−k. `step()` only counts steps (`lastEpoch`); it does not change the rate.
 *
 * With lr0 = 0.1 and the defaults, losses 1.0, 0.9, 0.8, 0.85, 0.7 give rates
 * 0.1 (reference), 0.105, 0.11025, 0.055125, 0.05788125.
 *
 * The rate depends on the losses seen, so `lrAt` is unavailable (it throws).
 */
export class BoldDriver extends LRScheduler {
  readonly increase: number;
  readonly decrease: number;
  readonly minLr: number;
  readonly maxLr: number;
  /** The last finite loss observed, the reference for the next one; null before the first. */
  previousLoss: number | null = null;
  /** How many losses `observeLoss` has received. */
  lossesObserved = 0;

  constructor(optimizer: OptimizerLike, options: BoldDriverOptions = {}) {
    super(optimizer, 'BoldDriver');
    const o = checkKeys(this.name, options, ['increase', 'decrease', 'minLr', 'maxLr']);
    this.increase = real(this.name, 'increase', o.increase ?? 1.05, { ge: 1 });
    this.decrease = real(this.name, 'decrease', o.decrease ?? 0.5, { gt: 0, le: 1 });
    this.minLr = real(this.name, 'minLr', o.minLr ?? 0, { ge: 0 });
    this.maxLr = real(this.name, 'maxLr', o.maxLr ?? Infinity, { ge: this.minLr, le: Infinity });
    this.applyLrs(this.base);
  }

  /** Counts one optimizer step; the rate changes only in `observeLoss`. */
  step(): void {
    this.lastEpoch += 1;
  }

  /** Training hook: counts the step. */
  afterStep(): void {
    this.step();
  }

  /** Training hook: observes each step's loss as it arrives. */
  onRecord(record: StepSignal): void {
    this.observeLoss(record.loss);
  }

  /** Takes the next step's loss, in step order, and adjusts the rates for the steps to come. */
  observeLoss(loss: number): void {
    if (typeof loss !== 'number') fail(this.name, 'observeLoss(loss): loss', 'a number', loss);
    this.lossesObserved += 1;
    if (!Number.isFinite(loss)) {
      this.scale(this.decrease);
      return;
    }
    if (this.previousLoss !== null) this.scale(loss <= this.previousLoss ? this.increase : this.decrease);
    this.previousLoss = loss;
  }

  private scale(factor: number): void {
    this.applyLrs(this.lastLr.map((lr) => Math.min(Math.max(lr * factor, this.minLr), this.maxLr)));
  }

  lrAt(_step: number): never {
    throw new Error(`${this.name}.lrAt is unavailable: the rate depends on the losses passed to observeLoss()`);
  }

  override stateDict(): Record<string, unknown> {
    return {
      ...super.stateDict(),
      previousLoss: this.previousLoss,
      lossesObserved: this.lossesObserved,
    };
  }

  override loadStateDict(state: Record<string, unknown>): void {
    const previous = state?.previousLoss;
    const previousLoss = previous === null ? null : real(this.name, 'state.previousLoss', previous);
    const lossesObserved = integer(this.name, 'state.lossesObserved', state?.lossesObserved, 0);
    super.loadStateDict(state);
    this.previousLoss = previousLoss;
    this.lossesObserved = lossesObserved;
  }
}
