import source from '../../shaders/optim/adadelta.wgsl';
import { f, fma, type HyperValues, updateKernel } from '../kernels/optim.js';
import { Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface AdadeltaOptions extends ParamGroupOptions {
  lr?: number;
  rho?: number;
  eps?: number;
  weightDecay?: number;
  maximize?: boolean;
}

/** shaders/optim/adadelta.wgsl and its twin. State: square_avg, acc_delta. */
export const adadeltaUpdate = updateKernel({
  name: 'adadelta',
  source,
  hyper: ['lr', 'rho', 'one_minus_rho', 'eps', 'weight_decay'],
  cpu(u) {
    const { weights, state, hyper: h } = u;
    const s = u.slot(1);
    const lr = f(h.lr * u.lrFactor);
    for (let i = 0; i < u.n; i++) {
      const w = weights[i]!;
      const g = fma(h.weight_decay, w, u.grad(i));
      const sq = fma(f(h.one_minus_rho * g), g, f(state[i]! * h.rho));
      state[i] = sq;
      const rmsGrad = f(Math.sqrt(f(sq + h.eps)));
      const acc = state[s + i]!;
      const delta = f(f(f(Math.sqrt(f(acc + h.eps))) / rmsGrad) * g);
      state[s + i] = fma(f(h.one_minus_rho * delta), delta, f(acc * h.rho));
      weights[i] = fma(-lr, delta, w);
    }
  },
});

const DEFAULTS = { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false };
const RULES = { rho: 'in [0, 1]', eps: '>= 0', weightDecay: '>= 0', maximize: 'boolean' } as const;

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
  protected readonly kernel = adadeltaUpdate;

  constructor(params: ParamsInput<AdadeltaOptions>, options: AdadeltaOptions = {}) {
    super('Adadelta', params, DEFAULTS, options, RULES);
  }

  stateSlots(): readonly string[] {
    return ['square_avg', 'acc_delta'];
  }

  hyper(group: ParamGroup): HyperValues<typeof adadeltaUpdate> {
    const rho = group.rho as number;
    return { lr: group.lr, rho, one_minus_rho: 1 - rho, eps: group.eps as number, weight_decay: group.weightDecay as number };
  }
}
