import source from '../../shaders/optim/nadam.wgsl';
import { f, fma, type HyperValues, updateKernel } from '../kernels/optim.js';
import { Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface NAdamOptions extends ParamGroupOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
  momentumDecay?: number;
  maximize?: boolean;
}

/** shaders/optim/nadam.wgsl and its twin. State: exp_avg, exp_avg_sq. */
export const nadamUpdate = updateKernel({
  name: 'nadam',
  source,
  hyper: ['bc2', 'c_grad', 'c_avg', 'beta1', 'one_minus_beta1', 'beta2', 'one_minus_beta2', 'eps', 'weight_decay'],
  cpu(u) {
    const { weights, state, hyper: h } = u;
    const s = u.slot(1);
    const cGrad = f(h.c_grad * u.lrFactor);
    const cAvg = f(h.c_avg * u.lrFactor);
    for (let i = 0; i < u.n; i++) {
      const w = weights[i]!;
      const g = fma(h.weight_decay, w, u.grad(i));
      const m = fma(h.one_minus_beta1, g, f(state[i]! * h.beta1));
      const v = fma(f(h.one_minus_beta2 * g), g, f(state[s + i]! * h.beta2));
      state[i] = m;
      state[s + i] = v;
      const denom = f(f(Math.sqrt(f(v / h.bc2))) + h.eps);
      const w1 = f(w + f(f(-cGrad * g) / denom));
      weights[i] = w1 + f(f(-cAvg * m) / denom);
    }
  },
});

const DEFAULTS = { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, maximize: false };
const RULES = { betas: 'betas', eps: '>= 0', weightDecay: '>= 0', momentumDecay: '>= 0', maximize: 'boolean' } as const;

/**
 * NAdam (Dozat 2016, "Incorporating Nesterov Momentum into Adam"), as torch.optim.NAdam:
 *
 * ```text
 * mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentumDecay))
 * g = grad + weightDecay * w
 * m = beta1 * m + (1 - beta1) * g
 * v = beta2 * v + (1 - beta2) * g^2
 * d = sqrt(v / (1 - beta2^t)) + eps
 * w = w - lr * (1 - mu_t) / (1 - mu_1...mu_t) * g / d
 * w = w - lr * mu_{t+1} / (1 - mu_1...mu_{t+1}) * m / d
 * ```
 *
 * torch 1.13 multiplies mu_t twice into the last product; torch 2.0 fixed it (pytorch#92699) and
 * the formula above is the fixed, paper form.
 */
export class NAdam extends Optimizer {
  protected readonly kernel = nadamUpdate;
  /** Running products of mu per group, so that step t costs O(1) when steps are consecutive. */
  private readonly muProducts = new WeakMap<ParamGroup, { t: number; product: number }>();

  constructor(params: ParamsInput<NAdamOptions>, options: NAdamOptions = {}) {
    super('NAdam', params, DEFAULTS, options, RULES);
  }

  stateSlots(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  hyper(group: ParamGroup, t: number): HyperValues<typeof nadamUpdate> {
    const [beta1, beta2] = group.betas as [number, number];
    const mu = (step: number): number => beta1 * (1 - 0.5 * 0.96 ** (step * (group.momentumDecay as number)));
    const product = this.muProduct(group, t, mu);
    const productNext = product * mu(t + 1);
    return {
      bc2: 1 - beta2 ** t,
      c_grad: (group.lr * (1 - mu(t))) / (1 - product),
      c_avg: (group.lr * mu(t + 1)) / (1 - productNext),
      beta1,
      one_minus_beta1: 1 - beta1,
      beta2,
      one_minus_beta2: 1 - beta2,
      eps: group.eps as number,
      weight_decay: group.weightDecay as number,
    };
  }

  /** mu_1 * ... * mu_t, extended by one factor per consecutive step, recomputed after a jump. */
  private muProduct(group: ParamGroup, t: number, mu: (step: number) => number): number {
    const cached = this.muProducts.get(group);
    let product: number;
    if (cached && cached.t === t - 1) {
      product = cached.product * mu(t);
    } else {
      product = 1;
      for (let s = 1; s <= t; s++) product *= mu(s);
    }
    this.muProducts.set(group, { t, product });
    return product;
  }
}
