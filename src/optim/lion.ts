import { lionUpdate } from '../kernels/optim.js';
import { type GroupUpdate, Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface LionOptions extends ParamGroupOptions {
  lr?: number;
  betas?: readonly [number, number];
  weightDecay?: number;
  maximize?: boolean;
}

const DEFAULTS = { lr: 1e-4, betas: [0.9, 0.99], weightDecay: 0, maximize: false };

/**
 * Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2). Not in
 * torch; the update is the sign of an interpolated momentum, with decoupled weight decay:
 *
 * ```text
 * c = beta1 * m + (1 - beta1) * g
 * w = w - lr * (sign(c) + weightDecay * w)
 * m = beta2 * m + (1 - beta2) * g
 * ```
 *
 * Its steps have size lr in every coordinate, so it wants a learning rate 3-10x smaller than
 * AdamW's and a weight decay 3-10x larger (the paper's advice).
 */
export class Lion extends Optimizer {
  constructor(params: ParamsInput<LionOptions>, options: LionOptions = {}) {
    super('Lion', params, DEFAULTS, options);
  }

  protected validateGroup(group: ParamGroup, index: number): void {
    this.expectBetas(group, index);
    this.expect(group, index, 'weightDecay', '>= 0');
    this.expect(group, index, 'maximize', 'boolean');
  }

  stateSlots(): readonly string[] {
    return ['exp_avg'];
  }

  update(group: ParamGroup): GroupUpdate {
    return { kernel: lionUpdate, overrides: { maximize: Number(group.maximize) } };
  }

  variantBits(group: ParamGroup): number {
    return Number(group.maximize);
  }

  writeHyper(group: ParamGroup, _t: number, out: Float32Array, at: number): void {
    const [beta1, beta2] = group.betas as [number, number];
    out[at] = group.lr;
    out[at + 1] = beta1;
    out[at + 2] = 1 - beta1;
    out[at + 3] = beta2;
    out[at + 4] = 1 - beta2;
    out[at + 5] = group.weightDecay as number;
  }
}
