import { activation } from '../graph/ops/activation.js';
import type { Tensor } from '../graph/tensor.js';
import type { Activation } from '../kernels/activations.js';
import { Module } from './module.js';

abstract class ActivationModule extends Module {
  protected abstract readonly kind: Activation;
  protected readonly alpha: number = 0;
  forward(x: Tensor): Tensor {
    return x.graph.scope(this.describe(), () => activation(x, this.kind, this.alpha));
  }
}

export class Identity extends ActivationModule {
  protected readonly kind = 'identity';
}

export class ReLU extends ActivationModule {
  protected readonly kind = 'relu';
}

/** max(x, 0) + negativeSlope · min(x, 0), as torch.nn.LeakyReLU. */
export class LeakyReLU extends ActivationModule {
  protected readonly kind = 'leaky_relu';
  protected override readonly alpha: number;
  constructor(readonly negativeSlope = 0.01) {
    super();
    if (!Number.isFinite(negativeSlope)) throw new Error(`LeakyReLU: negativeSlope must be finite, got ${negativeSlope}`);
    this.alpha = negativeSlope;
  }
  override describe(): string {
    return `LeakyReLU(${this.negativeSlope})`;
  }
}

export class Sigmoid extends ActivationModule {
  protected readonly kind = 'sigmoid';
}

export class Tanh extends ActivationModule {
  protected readonly kind = 'tanh';
}

/** x · Φ(x), the exact (erf) form, as torch.nn.GELU() with approximate='none'. */
export class GELU extends ActivationModule {
  protected readonly kind = 'gelu';
}
