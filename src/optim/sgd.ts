import source from '../../shaders/optim/sgd.wgsl';
import { f, fma, type HyperValues, updateKernel } from '../kernels/optim.js';
import { Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface SGDOptions extends ParamGroupOptions {
  /** Required, as in torch: SGD has no default learning rate. */
  lr?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
  maximize?: boolean;
}

/** shaders/optim/sgd.wgsl and its twin. Overrides: has_momentum, nesterov. State: momentum_buffer. */
export const sgdUpdate = updateKernel({
  name: 'sgd',
  source,
  hyper: ['lr', 'first_step', 'momentum', 'one_minus_dampening', 'weight_decay'],
  variants: { has_momentum: 0, nesterov: 0 },
  cpu(u) {
    const { weights, state, hyper: h } = u;
    const lr = f(h.lr * u.lrFactor);
    for (let i = 0; i < u.n; i++) {
      const w = weights[i]!;
      let d = fma(h.weight_decay, w, u.grad(i));
      if (u.overrides.has_momentum) {
        const b = h.first_step !== 0 ? d : fma(h.one_minus_dampening, d, f(state[i]! * h.momentum));
        state[i] = b;
        d = u.overrides.nesterov ? fma(h.momentum, b, d) : b;
      }
      weights[i] = fma(-lr, d, w);
    }
  },
});

const DEFAULTS = { lr: undefined, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };
const RULES = { momentum: '>= 0', dampening: 'finite', weightDecay: '>= 0', nesterov: 'boolean', maximize: 'boolean' } as const;

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
  protected readonly kernel = sgdUpdate;

  constructor(params: ParamsInput<SGDOptions>, options: SGDOptions = {}) {
    super('SGD', params, DEFAULTS, options, RULES);
  }

  protected override validateGroup(group: ParamGroup): void {
    if (group.nesterov && ((group.momentum as number) <= 0 || group.dampening !== 0)) {
      throw new Error(
        `SGD: nesterov momentum requires momentum > 0 and dampening = 0, got momentum ${group.momentum}, dampening ${group.dampening}`,
      );
    }
  }

  stateSlots(group: ParamGroup): readonly string[] {
    return group.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected override variants(group: ParamGroup): Record<string, boolean> {
    return { has_momentum: group.momentum !== 0, nesterov: group.nesterov === true };
  }

  hyper(group: ParamGroup, t: number): HyperValues<typeof sgdUpdate> {
    return {
      lr: group.lr,
      first_step: t === 1 ? 1 : 0,
      momentum: group.momentum as number,
      one_minus_dampening: 1 - (group.dampening as number),
      weight_decay: group.weightDecay as number,
    };
  }
}
