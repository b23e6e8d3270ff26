import source from '../../shaders/optim/rmsprop.wgsl';
import { f, fma, type HyperValues, updateKernel } from '../kernels/optim.js';
import { Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface RMSpropOptions extends ParamGroupOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
  maximize?: boolean;
}

/**
 * shaders/optim/rmsprop.wgsl and its twin. Overrides: has_momentum, centered. State: square_avg
 * [, momentum_buffer] [, grad_avg].
 */
export const rmspropUpdate = updateKernel({
  name: 'rmsprop',
  source,
  hyper: ['lr', 'alpha', 'one_minus_alpha', 'eps', 'weight_decay', 'momentum'],
  variants: { has_momentum: 0, centered: 0 },
  cpu(u) {
    const { weights, state, hyper: h } = u;
    const lr = f(h.lr * u.lrFactor);
    const hasMomentum = Boolean(u.overrides.has_momentum);
    const s = u.slot(1);
    const gradAvgAt = u.slot(hasMomentum ? 2 : 1);
    for (let i = 0; i < u.n; i++) {
      const w = weights[i]!;
      const g = fma(h.weight_decay, w, u.grad(i));
      const sq = fma(f(h.one_minus_alpha * g), g, f(state[i]! * h.alpha));
      state[i] = sq;
      let avg = f(Math.sqrt(sq));
      if (u.overrides.centered) {
        const ga = fma(h.one_minus_alpha, g, f(state[gradAvgAt + i]! * h.alpha));
        state[gradAvgAt + i] = ga;
        avg = f(Math.sqrt(fma(-ga, ga, sq)));
      }
      avg = f(avg + h.eps);
      if (hasMomentum) {
        const b = f(f(state[s + i]! * h.momentum) + f(g / avg));
        state[s + i] = b;
        weights[i] = fma(-lr, b, w);
      } else {
        weights[i] = w + f(f(-lr * g) / avg);
      }
    }
  },
});

const DEFAULTS = { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false };
const RULES = { alpha: '>= 0', eps: '>= 0', weightDecay: '>= 0', momentum: '>= 0', centered: 'boolean', maximize: 'boolean' } as const;

/**
 * RMSprop (Hinton, Coursera lecture 6e; the centered form is Graves 2013), as torch.optim.RMSprop
 * (torch 1.13), with eps added outside the square root:
 *
 * ```text
 * g   = grad + weightDecay * w
 * sq  = alpha * sq + (1 - alpha) * g^2
 * ga  = alpha * ga + (1 - alpha) * g                               (centered)
 * avg = sqrt(sq - ga^2) + eps if centered, else sqrt(sq) + eps
 * b   = momentum * b + g / avg,  w = w - lr * b                    (momentum > 0)
 * w   = w - lr * g / avg                                           (otherwise)
 * ```
 */
export class RMSprop extends Optimizer {
  protected readonly kernel = rmspropUpdate;

  constructor(params: ParamsInput<RMSpropOptions>, options: RMSpropOptions = {}) {
    super('RMSprop', params, DEFAULTS, options, RULES);
  }

  stateSlots(group: ParamGroup): readonly string[] {
    return ['square_avg', ...(group.momentum !== 0 ? ['momentum_buffer'] : []), ...(group.centered ? ['grad_avg'] : [])];
  }

  protected override variants(group: ParamGroup): Record<string, boolean> {
    return { has_momentum: group.momentum !== 0, centered: group.centered === true };
  }

  hyper(group: ParamGroup): HyperValues<typeof rmspropUpdate> {
    const alpha = group.alpha as number;
    return {
      lr: group.lr,
      alpha,
      one_minus_alpha: 1 - alpha,
      eps: group.eps as number,
      weight_decay: group.weightDecay as number,
      momentum: group.momentum as number,
    };
  }
}
