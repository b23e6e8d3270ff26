import { checkKeys, integer, real } from './checks.js';
import { ClosedFormLR, type OptimizerLike } from './scheduler.js';

export interface PolynomialLROptions {
  /** Steps until the rate reaches 0; an integer >= 1. Default 5. */
  totalIters?: number;
  /** Exponent of the decay; >= 0. Default 1 (linear). */
  power?: number;
}

/**
 * Polynomial decay of each group's rate to 0 over `totalIters` steps, then 0
 * (torch.optim.lr_scheduler.PolynomialLR):
 *
 *     lr(t) = lr0 · (1 − min(t, totalIters) / totalIters)^power
 *
 * With lr0 = 0.001, totalIters = 4, power = 1:
 * lr(0) = 0.001, lr(1) = 0.00075, lr(2) = 0.0005, lr(3) = 0.00025, lr(t >= 4) = 0.
 */
export class PolynomialLR extends ClosedFormLR {
  readonly totalIters: number;
  readonly power: number;

  constructor(optimizer: OptimizerLike, options: PolynomialLROptions = {}) {
    super(optimizer, 'PolynomialLR');
    const o = checkKeys(this.name, options, ['totalIters', 'power']);
    this.totalIters = integer(this.name, 'totalIters', o.totalIters ?? 5, 1);
    this.power = real(this.name, 'power', o.power ?? 1, { ge: 0 });
    this.seek(0);
  }

  protected closedForm(t: number): number[] {
    const factor = (1 - Math.min(this.totalIters, t) / this.totalIters) ** this.power;
    return this.base.map((lr) => lr * factor);
  }
}
