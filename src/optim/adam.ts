import type { KernelSpec } from '../backend/kernel.js';
import { adamUpdate } from '../kernels/optim.js';
import { type GroupUpdate, Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface AdamOptions extends ParamGroupOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
}

/** What Adam and AdamW share: moments, bias correction, amsgrad; they differ in weight decay. */
export abstract class AdamFamily extends Optimizer {
  protected abstract readonly kernel: KernelSpec;

  /** hyper's `decay` entry: weightDecay for Adam (added to g), lr * weightDecay for AdamW. */
  protected abstract decay(group: ParamGroup): number;

  protected validateGroup(group: ParamGroup, index: number): void {
    this.expectBetas(group, index);
    this.expect(group, index, 'eps', '>= 0');
    this.expect(group, index, 'weightDecay', '>= 0');
    this.expect(group, index, 'amsgrad', 'boolean');
    this.expect(group, index, 'maximize', 'boolean');
  }

  stateSlots(group: ParamGroup): readonly string[] {
    return group.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
  }

  update(group: ParamGroup): GroupUpdate {
    return { kernel: this.kernel, overrides: { maximize: Number(group.maximize), amsgrad: Number(group.amsgrad) } };
  }

  variantBits(group: ParamGroup): number {
    return Number(group.maximize) | (Number(group.amsgrad) << 1);
  }

  writeHyper(group: ParamGroup, t: number, out: Float32Array, at: number): void {
    const [beta1, beta2] = group.betas as [number, number];
    out[at] = group.lr / (1 - beta1 ** t);
    out[at + 1] = Math.sqrt(1 - beta2 ** t);
    out[at + 2] = beta1;
    out[at + 3] = 1 - beta1;
    out[at + 4] = beta2;
    out[at + 5] = 1 - beta2;
    out[at + 6] = group.eps as number;
    out[at + 7] = this.decay(group);
  }
}

const DEFAULTS = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };

/**
 * Adam (Kingma & Ba 2015), as torch.optim.Adam (torch 1.13). This is the standard form, with
 * bias correction of both moments (some course notes drop it; it matters in the first steps):
 *
 * ```text
 * g = grad + weightDecay * w                 (L2 coupled into the gradient)
 * m = beta1 * m + (1 - beta1) * g
 * v = beta2 * v + (1 - beta2) * g^2
 * v = max(v_max, v), kept as v_max           (amsgrad, Reddi et al. 2018)
 * w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * ```
 */
export class Adam extends AdamFamily {
  protected readonly kernel = adamUpdate;

  constructor(params: ParamsInput<AdamOptions>, options: AdamOptions = {}) {
    super('Adam', params, DEFAULTS, options);
  }

  protected decay(group: ParamGroup): number {
    return group.weightDecay as number;
  }
}
