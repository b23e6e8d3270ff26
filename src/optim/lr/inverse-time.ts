import { checkKeys, real } from './checks.js';
import { ClosedFormLR, type OptimizerLike } from './scheduler.js';

/** Give exactly one of `k` and `beta`. */
export type InverseTimeLROptions = { k: number; beta?: undefined } | { beta: number; k?: undefined };

/**
 * Inverse-time decay, in one of two forms (not in torch; the textbook schedules):
 *
 *     { k }:    lr(t) = lr0 / (1 + k·t)
 *     { beta }: lr(t) = lr0 / t^beta for t >= 1, and lr(0) = lr0
 *
 * With lr0 = 0.1 and k = 0.1: lr(0) = 0.1, lr(10) = 0.05, lr(90) = 0.01.
 * With lr0 = 0.1 and beta = 0.5: lr(0) = lr(1) = 0.1, lr(10) ≈ 0.031623, lr(100) = 0.01.
 */
export class InverseTimeLR extends ClosedFormLR {
  readonly k: number | undefined;
  readonly beta: number | undefined;

  constructor(optimizer: OptimizerLike, options: InverseTimeLROptions) {
    super(optimizer, 'InverseTimeLR');
    const o = checkKeys(this.name, options, ['k', 'beta']);
    if ((o.k === undefined) === (o.beta === undefined)) {
      throw new Error(`${this.name}: give exactly one of k and beta, got ${o.k === undefined ? 'neither' : 'both'}`);
    }
    this.k = o.k === undefined ? undefined : real(this.name, 'k', o.k, { ge: 0 });
    this.beta = o.beta === undefined ? undefined : real(this.name, 'beta', o.beta, { ge: 0 });
    this.seek(0);
  }

  protected closedForm(t: number): number[] {
    const divisor = this.k !== undefined ? 1 + this.k * t : t === 0 ? 1 : t ** this.beta!;
    return this.base.map((lr) => lr / divisor);
  }
}
