import { checkKeys, integer, real } from './checks.js';
import { ClosedFormLR, type OptimizerLike } from './scheduler.js';

export interface LinearLROptions {
  /** Multiplier of the base rate at step 0; in (0, 1]. Default 1/3. */
  startFactor?: number;
  /** Multiplier reached at step `totalIters` and kept after; in [0, 1]. Default 1. */
  endFactor?: number;
  /** Steps of the ramp; an integer >= 1. Default 5. */
  totalIters?: number;
}

/**
 * Scales each group's rate by a factor that moves linearly from `startFactor` to `endFactor`
 * over `totalIters` steps, then stays (torch.optim.lr_scheduler.LinearLR). The usual warmup:
 *
 *     lr(t) = lr0 · (startFactor + (endFactor − startFactor) · min(t, totalIters) / totalIters)
 *
 * With lr0 = 0.05, startFactor = 0.5, endFactor = 1, totalIters = 4:
 * lr(0) = 0.025, lr(1) = 0.03125, lr(2) = 0.0375, lr(3) = 0.04375, lr(t >= 4) = 0.05.
 */
export class LinearLR extends ClosedFormLR {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;

  constructor(optimizer: OptimizerLike, options: LinearLROptions = {}) {
    super(optimizer, 'LinearLR');
    const o = checkKeys(this.name, options, ['startFactor', 'endFactor', 'totalIters']);
    this.startFactor = real(this.name, 'startFactor', o.startFactor ?? 1 / 3, { gt: 0, le: 1 });
    this.endFactor = real(this.name, 'endFactor', o.endFactor ?? 1, { ge: 0, le: 1 });
    this.totalIters = integer(this.name, 'totalIters', o.totalIters ?? 5, 1);
    this.seek(0);
  }

  protected closedForm(t: number): number[] {
    const factor =
      this.startFactor + ((this.endFactor - this.startFactor) * Math.min(this.totalIters, t)) / this.totalIters;
    return this.base.map((lr) => lr * factor);
  }
}
