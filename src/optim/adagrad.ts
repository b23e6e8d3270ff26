import { adagradUpdate } from '../kernels/optim.js';
import { type GroupUpdate, Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface AdagradOptions extends ParamGroupOptions {
  lr?: number;
  lrDecay?: number;
  weightDecay?: number;
  initialAccumulatorValue?: number;
  eps?: number;
  maximize?: boolean;
}

const DEFAULTS = { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false };

/**
 * Adagrad (Duchi, Hazan & Singer 2011), as torch.optim.Adagrad (torch 1.13):
 *
 * ```text
 * g   = grad + weightDecay * w
 * sum = sum + g^2                        (sum starts at initialAccumulatorValue)
 * w   = w - clr * g / (sqrt(sum) + eps),  clr = lr / (1 + (t - 1) * lrDecay)
 * ```
 */
export class Adagrad extends Optimizer {
  constructor(params: ParamsInput<AdagradOptions>, options: AdagradOptions = {}) {
    super('Adagrad', params, DEFAULTS, options);
  }

  protected validateGroup(group: ParamGroup, index: number): void {
    this.expect(group, index, 'lrDecay', '>= 0');
    this.expect(group, index, 'weightDecay', '>= 0');
    this.expect(group, index, 'initialAccumulatorValue', '>= 0');
    this.expect(group, index, 'eps', '>= 0');
    this.expect(group, index, 'maximize', 'boolean');
  }

  stateSlots(): readonly string[] {
    return ['sum'];
  }

  protected override initialValue(group: ParamGroup): number {
    return group.initialAccumulatorValue as number;
  }

  update(group: ParamGroup): GroupUpdate {
    return { kernel: adagradUpdate, overrides: { maximize: Number(group.maximize) } };
  }

  variantBits(group: ParamGroup): number {
    return Number(group.maximize);
  }

  writeHyper(group: ParamGroup, t: number, out: Float32Array, at: number): void {
    out[at] = group.lr / (1 + (t - 1) * (group.lrDecay as number));
    out[at + 1] = group.eps as number;
    out[at + 2] = group.weightDecay as number;
  }
}
