import source from '../../shaders/optim/adam.wgsl';
import { f, fma, type HyperValues, updateKernel, type UpdateKernel, type UpdateTwin } from '../kernels/optim.js';
import { Optimizer, type ParamGroup, type ParamGroupOptions, type ParamsInput } from './optimizer.js';

export interface AdamOptions extends ParamGroupOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
}

/** The scalars of shaders/optim/adam.wgsl, shared by Adam and AdamW. */
export const ADAM_HYPER = ['step_size', 'bc2_sqrt', 'beta1', 'one_minus_beta1', 'beta2', 'one_minus_beta2', 'eps', 'decay'] as const;

/**
 * The twin of update4 in adam.wgsl, for Adam and (with the `decoupled` override) AdamW: the same
 * f32 operations in the same order.
 */
export function adamTwin(u: UpdateTwin<(typeof ADAM_HYPER)[number]>): void {
  const { weights, state, hyper: h } = u;
  const s = u.slot(1);
  const keep = f(1 - f(h.decay * u.lrFactor));
  const stepSize = f(h.step_size * u.lrFactor);
  for (let i = 0; i < u.n; i++) {
    let w = weights[i]!;
    let g = u.grad(i);
    if (u.overrides.decoupled) w = f(w * keep);
    else g = fma(h.decay, w, g);
    const m = fma(h.one_minus_beta1, g, f(state[i]! * h.beta1));
    let v = fma(f(h.one_minus_beta2 * g), g, f(state[s + i]! * h.beta2));
    state[i] = m;
    state[s + i] = v;
    if (u.overrides.amsgrad) {
      v = Math.max(state[2 * s + i]!, v);
      state[2 * s + i] = v;
    }
    const denom = f(f(f(Math.sqrt(v)) / h.bc2_sqrt) + h.eps);
    weights[i] = w + f(f(-stepSize * m) / denom);
  }
}

/** shaders/optim/adam.wgsl and its twin. Override: amsgrad. State: exp_avg, exp_avg_sq [, max_exp_avg_sq]. */
export const adamUpdate = updateKernel({ name: 'adam', source, hyper: ADAM_HYPER, variants: { amsgrad: 0, decoupled: 0 }, cpu: adamTwin });

const RULES = { betas: 'betas', eps: '>= 0', weightDecay: '>= 0', amsgrad: 'boolean', maximize: 'boolean' } as const;

/** What Adam and AdamW share: moments, bias correction, amsgrad; they differ in weight decay. */
export abstract class AdamFamily extends Optimizer {
  protected abstract override readonly kernel: UpdateKernel<(typeof ADAM_HYPER)[number]>;

  protected constructor(name: string, params: ParamsInput<AdamOptions>, defaults: Record<string, unknown>, options: AdamOptions) {
    super(name, params, defaults, options, RULES);
  }

  /** hyper's `decay` entry: weightDecay for Adam (added to g), lr * weightDecay for AdamW. */
  protected abstract decay(group: ParamGroup): number;

  stateSlots(group: ParamGroup): readonly string[] {
    return group.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
  }

  protected override variants(group: ParamGroup): Record<string, boolean> {
    return { amsgrad: group.amsgrad === true };
  }

  hyper(group: ParamGroup, t: number): HyperValues<typeof adamUpdate> {
    const [beta1, beta2] = group.betas as [number, number];
    return {
      step_size: group.lr / (1 - beta1 ** t),
      bc2_sqrt: Math.sqrt(1 - beta2 ** t),
      beta1,
      one_minus_beta1: 1 - beta1,
      beta2,
      one_minus_beta2: 1 - beta2,
      eps: group.eps as number,
      decay: this.decay(group),
    };
  }
}

const DEFAULTS = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };

/**
 * Adam (Kingma & Ba 2015), as torch.optim.Adam (torch 1.13). This is the standard form, with
 * bias correction of both moments (some course notes drop it; it matters in the first steps):
 *
 * ```text
 * g = grad + weightDecay * w                 (L2 coupled into the gradient)
 * m = beta1 * m + (1 - beta1) * g
 * v = beta2 * v + (1 - beta2) * g^2
 * v = max(v_max, v), kept as v_max           (amsgrad, Reddi et al. 2018)
 * w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * ```
 */
export class Adam extends AdamFamily {
  protected readonly kernel = adamUpdate;

  constructor(params: ParamsInput<AdamOptions>, options: AdamOptions = {}) {
    super('Adam', params, DEFAULTS, options);
  }

  protected decay(group: ParamGroup): number {
    return group.weightDecay as number;
  }
}
