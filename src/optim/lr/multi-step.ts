import { checkKeys, fail, integer, real } from './checks.js';
import { ClosedFormLR, type OptimizerLike } from './scheduler.js';

export interface MultiStepLROptions {
  /** Steps at which the rate decays, in non-decreasing order; a repeated step decays once per repeat. */
  milestones: readonly number[];
  /** Factor applied at each milestone; > 0. Default 0.1. */
  gamma?: number;
}

/**
 * Decays each group's rate by `gamma` at every milestone (torch.optim.lr_scheduler.MultiStepLR):
 *
 *     lr(t) = lr0 · gamma^(number of milestones <= t)
 *
 * With lr0 = 0.05, milestones = [30, 80], gamma = 0.1:
 * lr = 0.05 for t < 30, 0.005 for 30 <= t < 80, 0.0005 for t >= 80.
 */
export class MultiStepLR extends ClosedFormLR {
  readonly milestones: readonly number[];
  readonly gamma: number;

  constructor(optimizer: OptimizerLike, options: MultiStepLROptions) {
    super(optimizer, 'MultiStepLR');
    const o = checkKeys(this.name, options, ['milestones', 'gamma']);
    if (!Array.isArray(o.milestones)) fail(this.name, 'milestones', 'an array of integers >= 0', o.milestones);
    const milestones = o.milestones.map((m, i) => integer(this.name, `milestones[${i}]`, m, 0));
    milestones.forEach((m, i) => {
      if (i > 0 && m < milestones[i - 1]!) fail(this.name, 'milestones', 'in non-decreasing order', o.milestones);
    });
    this.milestones = milestones;
    this.gamma = real(this.name, 'gamma', o.gamma ?? 0.1, { gt: 0 });
    this.seek(0);
  }

  protected closedForm(t: number): number[] {
    const passed = this.milestones.filter((m) => m <= t).length;
    const factor = this.gamma ** passed;
    return this.base.map((lr) => lr * factor);
  }
}
