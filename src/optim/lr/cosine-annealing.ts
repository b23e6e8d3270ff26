import { checkKeys, integer, real } from './checks.js';
import { ClosedFormLR, type OptimizerLike } from './scheduler.js';

export interface CosineAnnealingLROptions {
  /** Steps from the base rate down to `etaMin` (half a period); an integer >= 1. */
  tMax: number;
  /** The lowest rate; >= 0. Default 0. */
  etaMin?: number;
}

/**
 * Cosine annealing from each group's base rate down to `etaMin` over `tMax` steps
 * (torch.optim.lr_scheduler.CosineAnnealingLR, the annealing half of SGDR):
 *
 *     lr(t) = etaMin + (lr0 − etaMin) · (1 + cos(π t / tMax)) / 2
 *
 * This is torch's `_get_closed_form_lr`. Torch's `step()` uses a recursive update instead, whose
 * special case at t = (2k+1)·tMax + 1 keeps it on the same curve, so past `tMax` the rate climbs
 * back up and the schedule is periodic with period 2·tMax (it does not stay at etaMin). The closed
 * form reproduces torch's stepped rates over and beyond tMax to about 1e-14 relative.
 *
 * With lr0 = 0.1, tMax = 10, etaMin = 0: lr(0) = 0.1, lr(1) ≈ 0.097553, lr(5) = 0.05,
 * lr(9) ≈ 0.0024472, lr(10) = 0, lr(11) ≈ 0.0024472, lr(15) = 0.05, lr(20) = 0.1.
 */
export class CosineAnnealingLR extends ClosedFormLR {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: OptimizerLike, options: CosineAnnealingLROptions) {
    super(optimizer, 'CosineAnnealingLR');
    const o = checkKeys(this.name, options, ['tMax', 'etaMin']);
    this.tMax = integer(this.name, 'tMax', o.tMax, 1);
    this.etaMin = real(this.name, 'etaMin', o.etaMin ?? 0, { ge: 0 });
    this.seek(0);
  }

  protected closedForm(t: number): number[] {
    const cosine = 1 + Math.cos((Math.PI * t) / this.tMax);
    return this.base.map((lr) => this.etaMin + ((lr - this.etaMin) * cosine) / 2);
  }
}
