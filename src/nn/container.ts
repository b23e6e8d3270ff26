import { add, reshape } from '../graph/ops/arith.js';
import type { Tensor } from '../graph/tensor.js';
import { Module } from './module.js';

/** Applies modules in order; parameters are named by position (`0.weight`), as in torch. */
export class Sequential extends Module {
  readonly layers: readonly Module[];
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module)) throw new Error(`Sequential: argument ${i} is not a Module`);
    });
    this.layers = layers;
  }
  override children(): [string, Module][] {
    return this.layers.map((m, i) => [String(i), m]);
  }
  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, m) => m.forward(h), x);
  }
}

/** y = x + fn(x): a skip connection around `fn` (parameters named `fn.*`). */
export class Residual extends Module {
  constructor(readonly fn: Module) {
    super();
  }
  override children(): [string, Module][] {
    return [['fn', this.fn]];
  }
  forward(x: Tensor): Tensor {
    const y = this.fn.forward(x);
    return x.graph.scope('Residual', () => add(x, y));
  }
}

/** Flattens all dimensions after the batch: [batch, ...] to [batch, features]. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    const [batch, ...rest] = x.shape;
    return x.graph.scope('Flatten', () => reshape(x, [batch!, rest.reduce((a, b) => a * b, 1)]));
  }
}
