import { linearAnyRank } from '../graph/ops/linear.js';
import type { Tensor } from '../graph/tensor.js';
import { uniform } from './init.js';
import { Module } from './module.js';
import { Parameter } from '../graph/parameter.js';

export interface LinearOptions {
  bias?: boolean;
}

/**
 * y = x · Wᵀ + b, with `weight` [out, in] and `bias` [out] as in torch.nn.Linear, initialised
 * like torch: U(-1/√in, 1/√in) for both.
 */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    { bias = true }: LinearOptions = {},
  ) {
    super();
    for (const [name, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Linear: ${name} must be a positive integer, got ${v}`);
    }
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = new Parameter(uniform(outFeatures * inFeatures, bound), [outFeatures, inFeatures]);
    this.bias = bias ? new Parameter(uniform(outFeatures, bound), [outFeatures]) : null;
  }

  override ownParameters(): [string, Parameter][] {
    return this.bias ? [['weight', this.weight], ['bias', this.bias]] : [['weight', this.weight]];
  }

  override describe(): string {
    return `Linear(${this.inFeatures}, ${this.outFeatures}${this.bias ? '' : ', bias=false'})`;
  }

  /** Any input [..., in] (the last dim holds the features, as in torch) to [..., out]. */
  forward(x: Tensor): Tensor {
    const g = x.graph;
    return g.scope(this.describe(), () => linearAnyRank(x, g.param(this.weight), this.bias ? g.param(this.bias) : null));
  }
}
