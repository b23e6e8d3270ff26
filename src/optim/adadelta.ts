import { adadeltaUpdate } from '../kernels/optim.js';
import { type GroupUpdate, Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface AdadeltaOptions extends ParamGroupOptions {
  lr?: number;
  rho?: number;
  eps?: number;
  weightDecay?: number;
  maximize?: boolean;
}

const DEFAULTS = { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false };

/**
 * Adadelta (Zeiler 2012), as torch.optim.Adadelta (torch 1.13), which keeps a learning rate that
 * scales the step (lr = 1 is the paper's rule):
 *
 * ```text
 * g     = grad + weightDecay * w
 * sq    = rho * sq + (1 - rho) * g^2
 * delta = sqrt(acc + eps) / sqrt(sq + eps) * g
 * acc   = rho * acc + (1 - rho) * delta^2
 * w     = w - lr * delta
 * ```
 */
export class Adadelta extends Optimizer {
  constructor(params: ParamsInput<AdadeltaOptions>, options: AdadeltaOptions = {}) {
    super('Adadelta', params, DEFAULTS, options);
  }

  protected validateGroup(group: ParamGroup, index: number): void {
    this.expect(group, index, 'rho', 'in [0, 1]');
    this.expect(group, index, 'eps', '>= 0');
    this.expect(group, index, 'weightDecay', '>= 0');
    this.expect(group, index, 'maximize', 'boolean');
  }

  stateSlots(): readonly string[] {
    return ['square_avg', 'acc_delta'];
  }

  update(group: ParamGroup): GroupUpdate {
    return { kernel: adadeltaUpdate, overrides: { maximize: Number(group.maximize) } };
  }

  variantBits(group: ParamGroup): number {
    return Number(group.maximize);
  }

  writeHyper(group: ParamGroup, _t: number, out: Float32Array, at: number): void {
    const rho = group.rho as number;
    out[at] = group.lr;
    out[at + 1] = rho;
    out[at + 2] = 1 - rho;
    out[at + 3] = group.eps as number;
    out[at + 4] = group.weightDecay as number;
  }
}
