import { checkKeys, real } from './checks.js';
import { type DeviceSchedule, LRScheduler, type OptimizerLike } from './scheduler.js';

export interface GradientNormLROptions {
  /** Exponent of the norm; >= 0. */
  gamma: number;
  /** Floor of the norm, so a vanishing gradient cannot blow the rate up; > 0. Default 1e-12. */
  eps?: number;
}

/**
 * Scales each step's rate by the current global gradient norm (not in torch):
 *
 *     lr(t) = lr0 / max(||g_t||, eps)^gamma
 *
 * where ||g_t|| is the L2 norm over all parameters' gradients of step t itself (including the
 * L1/L2 penalty terms, measured before any clipping). That norm lives on the GPU and is only
 * known inside the step, so the trainer's update kernel multiplies the base rate by
 * `GradientNormLR.factor(norm, gamma, eps)` there, with no wait on the CPU. This class only
 * carries the settings: `group.lr` stays at the base rate lr0 (and `getLastLr()` reports it);
 * its `onDevice()` hook hands `gradientNormGamma` and `eps` to the trainer, which builds them
 * into the step. A NaN norm gives a NaN rate.
 *
 * With lr0 = 0.1 and gamma = 1: ||g|| = 2 gives lr 0.05, ||g|| = 0.5 gives 0.2; with gamma = 0.5,
 * ||g|| = 4 gives 0.05.
 *
 * The rate depends on the gradients, so `lrAt` is unavailable (it throws).
 */
export class GradientNormLR extends LRScheduler {
  readonly gradientNormGamma: number;
  readonly eps: number;

  constructor(optimizer: OptimizerLike, options: GradientNormLROptions) {
    super(optimizer, 'GradientNormLR');
    const o = checkKeys(this.name, options, ['gamma', 'eps']);
    this.gradientNormGamma = real(this.name, 'gamma', o.gamma, { ge: 0 });
    this.eps = real(this.name, 'eps', o.eps ?? 1e-12, { gt: 0 });
    this.applyLrs(this.base);
  }

  /** The multiplier of the base rate for a gradient norm: 1 / max(norm, eps)^gamma. */
  static factor(norm: number, gamma: number, eps: number): number {
    return 1 / Math.max(norm, eps) ** gamma;
  }

  /** The rates a step with this gradient norm uses, one per group. */
  lrForNorm(norm: number): number[] {
    const f = GradientNormLR.factor(norm, this.gradientNormGamma, this.eps);
    return this.base.map((lr) => lr * f);
  }

  /** Counts the step; the base rates stay. */
  step(): void {
    this.lastEpoch += 1;
  }

  /** Training hook: counts the step. */
  afterStep(): void {
    this.step();
  }

  /** Training hook: the scaling the trainer's update kernel applies inside every step. */
  onDevice(): DeviceSchedule {
    return { gradNormLR: { gamma: this.gradientNormGamma, eps: this.eps } };
  }

  lrAt(_step: number): never {
    throw new Error(
      `${this.name}.lrAt is unavailable: the rate depends on each step's gradient norm (use lrForNorm(norm))`,
    );
  }
}
