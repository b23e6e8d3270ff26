import { rmspropUpdate } from '../kernels/optim.js';
import { type GroupUpdate, Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface RMSpropOptions extends ParamGroupOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
  maximize?: boolean;
}

const DEFAULTS = { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false };

/**
 * RMSprop (Hinton, Coursera lecture 6e; the centered form is Graves 2013), as torch.optim.RMSprop
 * (torch 1.13), with eps added outside the square root:
 *
 * ```text
 * g   = grad + weightDecay * w
 * sq  = alpha * sq + (1 - alpha) * g^2
 * ga  = alpha * ga + (1 - alpha) * g                               (centered)
 * avg = sqrt(sq - ga^2) + eps if centered, else sqrt(sq) + eps
 * b   = momentum * b + g / avg,  w = w - lr * b                    (momentum > 0)
 * w   = w - lr * g / avg                                           (otherwise)
 * ```
 */
export class RMSprop extends Optimizer {
  constructor(params: ParamsInput<RMSpropOptions>, options: RMSpropOptions = {}) {
    super('RMSprop', params, DEFAULTS, options);
  }

  protected validateGroup(group: ParamGroup, index: number): void {
    this.expect(group, index, 'alpha', '>= 0');
    this.expect(group, index, 'eps', '>= 0');
    this.expect(group, index, 'weightDecay', '>= 0');
    this.expect(group, index, 'momentum', '>= 0');
    this.expect(group, index, 'centered', 'boolean');
    this.expect(group, index, 'maximize', 'boolean');
  }

  stateSlots(group: ParamGroup): readonly string[] {
    return ['square_avg', ...(group.momentum !== 0 ? ['momentum_buffer'] : []), ...(group.centered ? ['grad_avg'] : [])];
  }

  update(group: ParamGroup): GroupUpdate {
    return {
      kernel: rmspropUpdate,
      overrides: { maximize: Number(group.maximize), has_momentum: Number(group.momentum !== 0), centered: Number(group.centered) },
    };
  }

  variantBits(group: ParamGroup): number {
    return Number(group.maximize) | (Number(group.momentum !== 0) << 1) | (Number(group.centered) << 2);
  }

  writeHyper(group: ParamGroup, _t: number, out: Float32Array, at: number): void {
    const alpha = group.alpha as number;
    out[at] = group.lr;
    out[at + 1] = alpha;
    out[at + 2] = 1 - alpha;
    out[at + 3] = group.eps as number;
    out[at + 4] = group.weightDecay as number;
    out[at + 5] = group.momentum as number;
  }
}
