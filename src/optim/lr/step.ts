import { checkKeys, integer, real } from './checks.js';
import { ClosedFormLR, type OptimizerLike } from './scheduler.js';

export interface StepLROptions {
  /** Steps between two decays; an integer >= 1. */
  stepSize: number;
  /** Factor applied at each decay; > 0. Default 0.1. */
  gamma?: number;
}

/**
 * Decays each group's rate by `gamma` every `stepSize` steps (torch.optim.lr_scheduler.StepLR):
 *
 *     lr(t) = lr0 · gamma^floor(t / stepSize)
 *
 * With lr0 = 0.05, stepSize = 30, gamma = 0.1:
 * lr = 0.05 for 0 <= t < 30, 0.005 for 30 <= t < 60, 0.0005 for 60 <= t < 90, ...
 */
export class StepLR extends ClosedFormLR {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: OptimizerLike, options: StepLROptions) {
    super(optimizer, 'StepLR');
    const o = checkKeys(this.name, options, ['stepSize', 'gamma']);
    this.stepSize = integer(this.name, 'stepSize', o.stepSize, 1);
    this.gamma = real(this.name, 'gamma', o.gamma ?? 0.1, { gt: 0 });
    this.seek(0);
  }

  protected closedForm(t: number): number[] {
    const factor = this.gamma ** Math.floor(t / this.stepSize);
    return this.base.map((lr) => lr * factor);
  }
}
