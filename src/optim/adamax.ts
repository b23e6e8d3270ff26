import { adamaxUpdate } from '../kernels/optim.js';
import { type GroupUpdate, Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface AdamaxOptions extends ParamGroupOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
  maximize?: boolean;
}

const DEFAULTS = { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false };

/**
 * Adamax (Kingma & Ba 2015, section 7.1), as torch.optim.Adamax (torch 1.13), which adds eps
 * inside the max:
 *
 * ```text
 * g = grad + weightDecay * w
 * m = beta1 * m + (1 - beta1) * g
 * u = max(beta2 * u, |g| + eps)
 * w = w - lr / (1 - beta1^t) * m / u
 * ```
 */
export class Adamax extends Optimizer {
  constructor(params: ParamsInput<AdamaxOptions>, options: AdamaxOptions = {}) {
    super('Adamax', params, DEFAULTS, options);
  }

  protected validateGroup(group: ParamGroup, index: number): void {
    this.expectBetas(group, index);
    this.expect(group, index, 'eps', '>= 0');
    this.expect(group, index, 'weightDecay', '>= 0');
    this.expect(group, index, 'maximize', 'boolean');
  }

  stateSlots(): readonly string[] {
    return ['exp_avg', 'exp_inf'];
  }

  update(group: ParamGroup): GroupUpdate {
    return { kernel: adamaxUpdate, overrides: { maximize: Number(group.maximize) } };
  }

  variantBits(group: ParamGroup): number {
    return Number(group.maximize);
  }

  writeHyper(group: ParamGroup, t: number, out: Float32Array, at: number): void {
    const [beta1, beta2] = group.betas as [number, number];
    out[at] = group.lr / (1 - beta1 ** t);
    out[at + 1] = beta1;
    out[at + 2] = 1 - beta1;
    out[at + 3] = beta2;
    out[at + 4] = group.eps as number;
    out[at + 5] = group.weightDecay as number;
  }
}
