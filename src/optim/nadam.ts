import { nadamUpdate } from '../kernels/optim.js';
import { type GroupUpdate, Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface NAdamOptions extends ParamGroupOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
  momentumDecay?: number;
  maximize?: boolean;
}

const DEFAULTS = { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, maximize: false };

/**
 * NAdam (Dozat 2016, "Incorporating Nesterov Momentum into Adam"), as torch.optim.NAdam:
 *
 * ```text
 * mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentumDecay))
 * g = grad + weightDecay * w
 * m = beta1 * m + (1 - beta1) * g
 * v = beta2 * v + (1 - beta2) * g^2
 * d = sqrt(v / (1 - beta2^t)) + eps
 * w = w - lr * (1 - mu_t) / (1 - mu_1...mu_t) * g / d
 * w = w - lr * mu_{t+1} / (1 - mu_1...mu_{t+1}) * m / d
 * ```
 *
 * torch 1.13 multiplies mu_t twice into the last product; torch 2.0 fixed it (pytorch#92699) and
 * the formula above is the fixed, paper form.
 */
export class NAdam extends Optimizer {
  /** Running products of mu per group, so that step t costs O(1) when steps are consecutive. */
  private readonly muProducts = new WeakMap<ParamGroup, { t: number; product: number }>();

  constructor(params: ParamsInput<NAdamOptions>, options: NAdamOptions = {}) {
    super('NAdam', params, DEFAULTS, options);
  }

  protected validateGroup(group: ParamGroup, index: number): void {
    this.expectBetas(group, index);
    this.expect(group, index, 'eps', '>= 0');
    this.expect(group, index, 'weightDecay', '>= 0');
    this.expect(group, index, 'momentumDecay', '>= 0');
    this.expect(group, index, 'maximize', 'boolean');
  }

  stateSlots(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  update(group: ParamGroup): GroupUpdate {
    return { kernel: nadamUpdate, overrides: { maximize: Number(group.maximize) } };
  }

  variantBits(group: ParamGroup): number {
    return Number(group.maximize);
  }

  writeHyper(group: ParamGroup, t: number, out: Float32Array, at: number): void {
    const [beta1, beta2] = group.betas as [number, number];
    const mu = (step: number): number => beta1 * (1 - 0.5 * 0.96 ** (step * (group.momentumDecay as number)));
    const product = this.muProduct(group, t, mu);
    const productNext = product * mu(t + 1);
    out[at] = 1 - beta2 ** t;
    out[at + 1] = (group.lr * (1 - mu(t))) / (1 - product);
    out[at + 2] = (group.lr * mu(t + 1)) / (1 - productNext);
    out[at + 3] = beta1;
    out[at + 4] = 1 - beta1;
    out[at + 5] = beta2;
    out[at + 6] = 1 - beta2;
    out[at + 7] = group.eps as number;
    out[at + 8] = group.weightDecay as number;
  }

  /** mu_1 * ... * mu_t, extended by one factor per consecutive step, recomputed after a jump. */
  private muProduct(group: ParamGroup, t: number, mu: (step: number) => number): number {
    const cached = this.muProducts.get(group);
    let product: number;
    if (cached && cached.t === t - 1) {
      product = cached.product * mu(t);
    } else {
      product = 1;
      for (let s = 1; s <= t; s++) product *= mu(s);
    }
    this.muProducts.set(group, { t, product });
    return product;
  }
}
