import { checkKeys, fail, integer, oneOf, perGroup, real } from './checks.js';
import { decodeNumber, encodeNumber, type EpochSignal, LRScheduler, type OptimizerLike } from './scheduler.js';

export interface ReduceLROnPlateauOptions {
  /** 'min': the metric should fall (a loss); 'max': it should rise (an accuracy). Default 'min'. */
  mode?: 'min' | 'max';
  /** Multiplier applied on a plateau; in [0, 1). Default 0.1. */
  factor?: number;
  /** Bad steps tolerated before cutting the rate; an integer >= 0. Default 10. */
  patience?: number;
  /** Margin an improvement must beat; >= 0. Default 1e-4. */
  threshold?: number;
  /** 'rel': best · (1 ∓ threshold); 'abs': best ∓ threshold. Default 'rel'. */
  thresholdMode?: 'rel' | 'abs';
  /** Steps after a cut during which bad steps are not counted; an integer >= 0. Default 0. */
  cooldown?: number;
  /** Lower bound of the rate, for every group or one per group; >= 0. Default 0. */
  minLr?: number | readonly number[];
  /** A cut smaller than this is skipped; >= 0. Default 1e-8. */
  eps?: number;
}

/**
 * Cuts the rate when a metric stops improving (torch.optim.lr_scheduler.ReduceLROnPlateau).
 * `step(metric)` is called with each new value of the metric (for example each validation loss):
 *
 *   better  = mode 'min', 'rel': metric < best · (1 − threshold)    'abs': metric < best − threshold
 *             mode 'max', 'rel': metric > best · (1 + threshold)    'abs': metric > best + threshold
 *   if better: best = metric, badSteps = 0; else badSteps += 1
 *   during cooldown (cooldownCounter > 0): cooldownCounter −= 1, badSteps = 0
 *   if badSteps > patience: each group's lr = max(lr · factor, minLr) unless that lowers it by
 *                           eps or less; cooldownCounter = cooldown; badSteps = 0
 *
 * A NaN metric is never better, so it counts as a bad step. The cut applies to the group's
 * current rate, whatever set it. `lastEpoch` counts the calls of `step(metric)`. With lr0 = 0.1,
 * the defaults and a metric that last improves at the 20th call, the rate becomes 0.01 at the
 * 31st call (the 11th bad one in a row), 0.001 at the 42nd, 0.0001 at the 53rd, and so on.
 *
 * The rate depends on the metrics seen, so `lrAt` is unavailable (it throws).
 */
export class ReduceLROnPlateau extends LRScheduler {
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: readonly number[];
  readonly eps: number;
  /** The best metric so far (±Infinity before the first). */
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;

  constructor(optimizer: OptimizerLike, options: ReduceLROnPlateauOptions = {}) {
    super(optimizer, 'ReduceLROnPlateau', 'current');
    const o = checkKeys(this.name, options, [
      'mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps',
    ]);
    this.mode = oneOf(this.name, 'mode', o.mode ?? 'min', ['min', 'max']);
    this.factor = real(this.name, 'factor', o.factor ?? 0.1, { ge: 0, lt: 1 });
    this.patience = integer(this.name, 'patience', o.patience ?? 10, 0);
    this.threshold = real(this.name, 'threshold', o.threshold ?? 1e-4, { ge: 0 });
    this.thresholdMode = oneOf(this.name, 'thresholdMode', o.thresholdMode ?? 'rel', ['rel', 'abs']);
    this.cooldown = integer(this.name, 'cooldown', o.cooldown ?? 0, 0);
    this.minLrs = perGroup(this.name, 'minLr', o.minLr ?? 0, this.base.length, { ge: 0 });
    this.eps = real(this.name, 'eps', o.eps ?? 1e-8, { ge: 0 });
    this.best = this.worst();
  }

  private worst(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  isBetter(metric: number, best: number): boolean {
    if (this.mode === 'min') {
      return this.thresholdMode === 'rel' ? metric < best * (1 - this.threshold) : metric < best - this.threshold;
    }
    return this.thresholdMode === 'rel' ? metric > best * (this.threshold + 1) : metric > best + this.threshold;
  }

  /** Records one value of the metric and cuts the rates if it has plateaued. */
  step(metric: number): void {
    if (typeof metric !== 'number') fail(this.name, 'step(metric): metric', 'a number', metric);
    this.lastEpoch += 1;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.reduce();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /**
   * Training hook: `Trainer.fit` steps the schedule once per epoch on the validation loss, or on
   * the epoch's mean training loss without a validation set. In a loop of your own, call
   * `step(metric)` yourself instead.
   */
  afterEpoch(summary: EpochSignal): void {
    this.step(summary.validation ? summary.validation.loss : summary.loss);
  }

  private reduce(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      const newLr = Math.max(g.lr * this.factor, this.minLrs[i]!);
      if (g.lr - newLr > this.eps) g.lr = newLr;
    });
  }

  lrAt(_step: number): never {
    throw new Error(
      `${this.name}.lrAt is unavailable: the rate depends on the metrics passed to step(), so it has no closed form`,
    );
  }

  override stateDict(): Record<string, unknown> {
    return {
      ...super.stateDict(),
      best: encodeNumber(this.best),
      numBadEpochs: this.numBadEpochs,
      cooldownCounter: this.cooldownCounter,
    };
  }

  override loadStateDict(state: Record<string, unknown>): void {
    const best = decodeNumber(this.name, 'best', state?.best);
    const numBadEpochs = integer(this.name, 'state.numBadEpochs', state?.numBadEpochs, 0);
    const cooldownCounter = integer(this.name, 'state.cooldownCounter', state?.cooldownCounter, 0);
    super.loadStateDict(state);
    this.best = best;
    this.numBadEpochs = numBadEpochs;
    this.cooldownCounter = cooldownCounter;
  }
}
