import source from '../../shaders/optim/adam.wgsl';
import { updateKernel } from '../kernels/optim.js';
import { ADAM_HYPER, type AdamOptions, AdamFamily, adamTwin } from './adam.js';
import type { ParamGroup, ParamsInput } from './optimizer.js';

export type AdamWOptions = AdamOptions;

/** adam.wgsl with its `decoupled` override on, and the same twin: Adam's scalars, variants and state. */
export const adamwUpdate = updateKernel({ name: 'adamw', source, hyper: ADAM_HYPER, variants: { amsgrad: 0, decoupled: 1 }, cpu: adamTwin });

const DEFAULTS = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false };

/**
 * AdamW (Loshchilov & Hutter 2019), as torch.optim.AdamW (torch 1.13): Adam with the weight decay
 * decoupled from the gradient and applied to the weights before the step:
 *
 * ```text
 * w = w * (1 - lr * weightDecay)
 * m, v, v_max and the step as in Adam, with g = grad
 * ```
 */
export class AdamW extends AdamFamily {
  protected readonly kernel = adamwUpdate;

  constructor(params: ParamsInput<AdamWOptions>, options: AdamWOptions = {}) {
    super('AdamW', params, DEFAULTS, options);
  }

  protected decay(group: ParamGroup): number {
    return group.lr * (group.weightDecay as number);
  }
}
