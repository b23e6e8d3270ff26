import { activation } from '../graph/ops/activation.js';
import { silu, softplus } from '../graph/ops/pointwise.js';
import { logSoftmax, softmax } from '../graph/ops/reduce.js';
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

/** x · σ(x) (torch.nn.SiLU). */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return x.graph.scope(this.describe(), () => silu(x));
  }
}

/** log(1 + e^{βx}) / β, linear above `threshold` (torch.nn.Softplus). */
export class Softplus extends Module {
  constructor(
    readonly beta = 1,
    readonly threshold = 20,
  ) {
    super();
    if (!(beta > 0) || !Number.isFinite(beta)) throw new Error(`Softplus: beta must be a positive number, got ${beta}`);
    if (!Number.isFinite(threshold)) throw new Error(`Softplus: threshold must be finite, got ${threshold}`);
  }
  override describe(): string {
    return `Softplus(beta=${this.beta}, threshold=${this.threshold})`;
  }
  forward(x: Tensor): Tensor {
    return x.graph.scope(this.describe(), () => softplus(x, this.beta, this.threshold));
  }
}

/** Softmax over `dim` (torch.nn.Softmax). */
export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new Error(`Softmax: dim must be an integer, got ${dim}`);
  }
  override describe(): string {
    return `Softmax(dim=${this.dim})`;
  }
  forward(x: Tensor): Tensor {
    return x.graph.scope(this.describe(), () => softmax(x, this.dim));
  }
}

/** Log-softmax over `dim` (torch.nn.LogSoftmax). */
export class LogSoftmax extends Module {
  constructor(readonly dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new Error(`LogSoftmax: dim must be an integer, got ${dim}`);
  }
  override describe(): string {
    return `LogSoftmax(dim=${this.dim})`;
  }
  forward(x: Tensor): Tensor {
    return x.graph.scope(this.describe(), () => logSoftmax(x, this.dim));
  }
}
