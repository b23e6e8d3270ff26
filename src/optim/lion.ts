import source from '../../shaders/optim/lion.wgsl';
import { f, type HyperValues, updateKernel } from '../kernels/optim.js';
import { Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface LionOptions extends ParamGroupOptions {
  lr?: number;
  betas?: readonly [number, number];
  weightDecay?: number;
  maximize?: boolean;
}

/** shaders/optim/lion.wgsl and its twin. State: exp_avg. */
export const lionUpdate = updateKernel({
  name: 'lion',
  source,
  hyper: ['lr', 'beta1', 'one_minus_beta1', 'beta2', 'one_minus_beta2', 'weight_decay'],
  cpu(u) {
    const { weights, state, hyper: h } = u;
    const lr = f(h.lr * u.lrFactor);
    for (let i = 0; i < u.n; i++) {
      const w = weights[i]!;
      const g = u.grad(i);
      const m = state[i]!;
      const c = f(f(m * h.beta1) + f(h.one_minus_beta1 * g));
      weights[i] = w - f(lr * f(Math.sign(c) + f(h.weight_decay * w)));
      state[i] = f(f(m * h.beta2) + f(h.one_minus_beta2 * g));
    }
  },
});

const DEFAULTS = { lr: 1e-4, betas: [0.9, 0.99], weightDecay: 0, maximize: false };
const RULES = { betas: 'betas', weightDecay: '>= 0', maximize: 'boolean' } as const;

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
  protected readonly kernel = lionUpdate;

  constructor(params: ParamsInput<LionOptions>, options: LionOptions = {}) {
    super('Lion', params, DEFAULTS, options, RULES);
  }

  stateSlots(): readonly string[] {
    return ['exp_avg'];
  }

  hyper(group: ParamGroup): HyperValues<typeof lionUpdate> {
    const [beta1, beta2] = group.betas as [number, number];
    return {
      lr: group.lr,
      beta1,
      one_minus_beta1: 1 - beta1,
      beta2,
      one_minus_beta2: 1 - beta2,
      weight_decay: group.weightDecay as number,
    };
  }
}
