import { checkKeys, fail } from './checks.js';
import { ClosedFormLR, type OptimizerLike } from './scheduler.js';

export type LrLambda = (step: number) => number;

export interface LambdaLROptions {
  /** A multiplier of the base rate as a function of the step, or one such function per group. */
  lrLambda: LrLambda | readonly LrLambda[];
}

/**
 * Sets each group's rate to its base rate times a user function of the step
 * (torch.optim.lr_scheduler.LambdaLR):
 *
 *     lr(t) = lr0 · lrLambda(t)
 *
 * With lr0 = 0.1 and lrLambda = (t) => 0.97 ** t: lr(0) = 0.1, lr(1) = 0.097, lr(10) ≈ 0.073742.
 * The functions are code, not state: `stateDict()` leaves them out and the schedule rebuilt for
 * `loadStateDict()` must be given the same ones.
 */
export class LambdaLR extends ClosedFormLR {
  private readonly lambdas: readonly LrLambda[];
  private readonly onePerGroup: boolean;

  constructor(optimizer: OptimizerLike, options: LambdaLROptions) {
    super(optimizer, 'LambdaLR');
    const o = checkKeys(this.name, options, ['lrLambda']);
    const groups = this.base.length;
    const fns = Array.isArray(o.lrLambda) ? o.lrLambda : new Array<unknown>(groups).fill(o.lrLambda);
    if (fns.length !== groups || !fns.every((f) => typeof f === 'function')) {
      const expected = `a function or an array of ${groups} functions (one per parameter group)`;
      fail(this.name, 'lrLambda', expected, o.lrLambda);
    }
    this.lambdas = fns as LrLambda[];
    this.onePerGroup = Array.isArray(o.lrLambda);
    this.seek(0);
  }

  protected closedForm(t: number): number[] {
    return this.base.map((lr, i) => {
      const factor = this.lambdas[i]!(t);
      if (typeof factor !== 'number' || !Number.isFinite(factor)) {
        const fn = this.onePerGroup ? `lrLambda[${i}]` : 'lrLambda';
        throw new Error(`${this.name}: ${fn}(${t}) returned ${String(factor)}, not a finite number`);
      }
      return lr * factor;
    });
  }
}
