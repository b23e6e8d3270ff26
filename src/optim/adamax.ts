import source from '../../shaders/optim/adamax.wgsl';
import { f, fma, type HyperValues, updateKernel } from '../kernels/optim.js';
import { Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface AdamaxOptions extends ParamGroupOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
  maximize?: boolean;
}

/** shaders/optim/adamax.wgsl and its twin. State: exp_avg, exp_inf. */
export const adamaxUpdate = updateKernel({
  name: 'adamax',
  source,
  hyper: ['clr', 'beta1', 'one_minus_beta1', 'beta2', 'eps', 'weight_decay'],
  cpu(u) {
    const { weights, state, hyper: h } = u;
    const s = u.slot(1);
    const clr = f(h.clr * u.lrFactor);
    for (let i = 0; i < u.n; i++) {
      const w = weights[i]!;
      const g = fma(h.weight_decay, w, u.grad(i));
      const m = fma(h.one_minus_beta1, g, f(state[i]! * h.beta1));
      const inf = Math.max(f(state[s + i]! * h.beta2), f(Math.abs(g) + h.eps));
      state[i] = m;
      state[s + i] = inf;
      weights[i] = w + f(f(-clr * m) / inf);
    }
  },
});

const DEFAULTS = { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false };
const RULES = { betas: 'betas', eps: '>= 0', weightDecay: '>= 0', maximize: 'boolean' } as const;

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
  protected readonly kernel = adamaxUpdate;

  constructor(params: ParamsInput<AdamaxOptions>, options: AdamaxOptions = {}) {
    super('Adamax', params, DEFAULTS, options, RULES);
  }

  stateSlots(): readonly string[] {
    return ['exp_avg', 'exp_inf'];
  }

  hyper(group: ParamGroup, t: number): HyperValues<typeof adamaxUpdate> {
    const [beta1, beta2] = group.betas as [number, number];
    return {
      clr: group.lr / (1 - beta1 ** t),
      beta1,
      one_minus_beta1: 1 - beta1,
      beta2,
      eps: group.eps as number,
      weight_decay: group.weightDecay as number,
    };
  }
}
