import source from '../../shaders/optim/adagrad.wgsl';
import { f, fma, type HyperValues, updateKernel } from '../kernels/optim.js';
import { Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface AdagradOptions extends ParamGroupOptions {
  lr?: number;
  lrDecay?: number;
  weightDecay?: number;
  initialAccumulatorValue?: number;
  eps?: number;
  maximize?: boolean;
}

/** shaders/optim/adagrad.wgsl and its twin. State: sum. */
export const adagradUpdate = updateKernel({
  name: 'adagrad',
  source,
  hyper: ['clr', 'eps', 'weight_decay'],
  cpu(u) {
    const { weights, state, hyper: h } = u;
    const clr = f(h.clr * u.lrFactor);
    for (let i = 0; i < u.n; i++) {
      const w = weights[i]!;
      const g = fma(h.weight_decay, w, u.grad(i));
      const sum = fma(g, g, state[i]!);
      state[i] = sum;
      weights[i] = w + f(f(-clr * g) / f(f(Math.sqrt(sum)) + h.eps));
    }
  },
});

const DEFAULTS = { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false };
const RULES = { lrDecay: '>= 0', weightDecay: '>= 0', initialAccumulatorValue: '>= 0', eps: '>= 0', maximize: 'boolean' } as const;

/**
 * Adagrad (Duchi, Hazan & Singer 2011), as torch.optim.Adagrad (torch 1.13):
 *
 * ```text
 * g   = grad + weightDecay * w
 * sum = sum + g^2                        (sum starts at initialAccumulatorValue)
 * w   = w - clr * g / (sqrt(sum) + eps),  clr = lr / (1 + (t - 1) * lrDecay)
 * ```
 */
export class Adagrad extends Optimizer {
  protected readonly kernel = adagradUpdate;

  constructor(params: ParamsInput<AdagradOptions>, options: AdagradOptions = {}) {
    super('Adagrad', params, DEFAULTS, options, RULES);
  }

  stateSlots(): readonly string[] {
    return ['sum'];
  }

  protected override initialValue(group: ParamGroup): number {
    return group.initialAccumulatorValue as number;
  }

  hyper(group: ParamGroup, t: number): HyperValues<typeof adagradUpdate> {
    return {
      clr: group.lr / (1 + (t - 1) * (group.lrDecay as number)),
      eps: group.eps as number,
      weight_decay: group.weightDecay as number,
    };
  }
}
