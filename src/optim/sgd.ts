import { sgdUpdate } from '../kernels/optim.js';
import { type GroupUpdate, Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface SGDOptions extends ParamGroupOptions {
  /** Required, as in torch: SGD has no default learning rate. */
  lr?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
  maximize?: boolean;
}

const DEFAULTS = { lr: undefined, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };

/**
 * Stochastic gradient descent with momentum, as torch.optim.SGD (torch 1.13, torch/optim/sgd.py):
 *
 * ```text
 * g = grad + weightDecay * w                     (grad negated first when maximize)
 * b = g on the first step, else momentum * b + (1 - dampening) * g     (momentum != 0)
 * g = g + momentum * b if nesterov, else b                              (momentum != 0)
 * w = w - lr * g
 * ```
 *
 * `grad` is the loss gradient with the update plan's L1/L2 terms and clipping applied. Nesterov
 * momentum in this form is Sutskever et al. 2013; it needs momentum > 0 and no dampening.
 */
export class SGD extends Optimizer {
  constructor(params: ParamsInput<SGDOptions>, options: SGDOptions = {}) {
    super('SGD', params, DEFAULTS, options);
  }

  protected validateGroup(group: ParamGroup, index: number): void {
    this.expect(group, index, 'momentum', '>= 0');
    this.expect(group, index, 'dampening', 'finite');
    this.expect(group, index, 'weightDecay', '>= 0');
    this.expect(group, index, 'nesterov', 'boolean');
    this.expect(group, index, 'maximize', 'boolean');
    if (group.nesterov && ((group.momentum as number) <= 0 || group.dampening !== 0)) {
      throw new Error(
        `SGD: nesterov momentum requires momentum > 0 and dampening = 0, got momentum ${group.momentum}, dampening ${group.dampening}`,
      );
    }
  }

  stateSlots(group: ParamGroup): readonly string[] {
    return group.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  update(group: ParamGroup): GroupUpdate {
    return {
      kernel: sgdUpdate,
      overrides: { maximize: Number(group.maximize), has_momentum: Number(group.momentum !== 0), nesterov: Number(group.nesterov) },
    };
  }

  variantBits(group: ParamGroup): number {
    return Number(group.maximize) | (Number(group.momentum !== 0) << 1) | (Number(group.nesterov) << 2);
  }

  writeHyper(group: ParamGroup, t: number, out: Float32Array, at: number): void {
    out[at] = group.lr;
    out[at + 1] = t === 1 ? 1 : 0;
    out[at + 2] = group.momentum as number;
    out[at + 3] = 1 - (group.dampening as number);
    out[at + 4] = group.weightDecay as number;
  }
}
