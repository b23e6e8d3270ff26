import { checkKeys, real } from './checks.js';
import { ClosedFormLR, type OptimizerLike } from './scheduler.js';

export interface ExponentialLROptions {
  /** Factor applied at every step; > 0. */
  gamma: number;
}

/**
 * Decays each group's rate by `gamma` at every step (torch.optim.lr_scheduler.ExponentialLR):
 *
 *     lr(t) = lr0 · gamma^t
 *
 * With lr0 = 0.1, gamma = 0.9: lr(0) = 0.1, lr(1) = 0.09, lr(2) = 0.081, lr(10) ≈ 0.034868.
 */
export class ExponentialLR extends ClosedFormLR {
  readonly gamma: number;

  constructor(optimizer: OptimizerLike, options: ExponentialLROptions) {
    super(optimizer, 'ExponentialLR');
    const o = checkKeys(this.name, options, ['gamma']);
    this.gamma = real(this.name, 'gamma', o.gamma, { gt: 0 });
    this.seek(0);
  }

  protected closedForm(t: number): number[] {
    return this.base.map((lr) => lr * this.gamma ** t);
  }
}
