import { batchNorm, checkMomentum, type InputContract, layerNorm, normalizedShapeOf } from '../graph/ops/norm.js';
import { ModuleBuffer, Parameter } from '../graph/parameter.js';
import type { Tensor } from '../graph/tensor.js';
import { Module } from './module.js';

export interface BatchNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Weight of each batch in the running statistics; null for a cumulative average. Default 0.1. */
  momentum?: number | null;
  /** Learnable per-channel `weight` (γ, ones) and `bias` (β, zeros). Default true. */
  affine?: boolean;
  /** Keep running statistics for evaluation; false: batch statistics always, no buffers. Default true. */
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation over channels (dim 1), as torch.nn.BatchNorm1d / BatchNorm2d:
 *
 *   y = (x - E[x]) / sqrt(Var[x] + eps) · weight + bias,  per channel over every other dim.
 *
 * While training, E and Var are the batch's (Var biased), and the running statistics move
 * towards them: running = (1 - momentum)·running + momentum·batch, the variance entering
 * unbiased (divided by m - 1 for m values per channel); momentum null makes the factor
 * 1 / num_batches_tracked, a cumulative average. num_batches_tracked counts training passes. In
 * evaluation the running statistics normalise. With trackRunningStats false there are no
 * buffers and batch statistics are used in evaluation too.
 *
 * Fields in torch's order: `weight`, `bias` (parameters), `running_mean` (zeros), `running_var`
 * (ones), `num_batches_tracked` (buffers). num_batches_tracked holds its count in one float32
 * (torch stores an int64): exact up to 2^24 batches, and it loads from and saves to torch state
 * dicts by value.
 *
 * The running statistics are updated in place on the device by the training step itself (one
 * extra dispatch per layer); evaluation and prediction graphs never change them.
 */
export abstract class BatchNormBase extends Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly running_mean: ModuleBuffer | null;
  readonly running_var: ModuleBuffer | null;
  readonly num_batches_tracked: ModuleBuffer | null;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly numFeatures: number;

  /** `name` is the torch class name, spelled out so that errors survive minification. */
  protected constructor(
    private readonly name: string,
    numFeatures: number,
    { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true }: BatchNormOptions = {},
  ) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new Error(`${name}: numFeatures must be a positive integer, got ${numFeatures}`);
    if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new Error(`${name}: eps must be a finite number >= 0, got ${eps}`);
    checkMomentum(momentum, name);
    const C = numFeatures;
    this.weight = affine ? new Parameter(new Float32Array(C).fill(1), [C]) : null;
    this.bias = affine ? new Parameter(new Float32Array(C), [C]) : null;
    this.running_mean = trackRunningStats ? new ModuleBuffer(new Float32Array(C), [C]) : null;
    this.running_var = trackRunningStats ? new ModuleBuffer(new Float32Array(C).fill(1), [C]) : null;
    this.num_batches_tracked = trackRunningStats ? new ModuleBuffer(new Float32Array(1), []) : null;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = trackRunningStats;
    this.numFeatures = numFeatures;
  }

  /** The input layouts this layer accepts, for its errors. */
  protected abstract contract(): InputContract;

  override describe(): string {
    const extra = [
      this.eps !== 1e-5 ? `eps=${this.eps}` : '',
      this.momentum !== 0.1 ? `momentum=${this.momentum}` : '',
      this.affine ? '' : 'affine=false',
      this.trackRunningStats ? '' : 'trackRunningStats=false',
    ].filter(Boolean);
    return `${this.name}(${[this.numFeatures, ...extra].join(', ')})`;
  }

  forward(x: Tensor): Tensor {
    const g = x.graph;
    return g.scope(this.describe(), () => {
      const training = (this.training && g.training) || !this.trackRunningStats;
      const buffer = (b: ModuleBuffer | null) => (b ? g.buffer(b) : null);
      const param = (p: Parameter | null) => (p ? g.param(p) : null);
      const options = { training, momentum: this.momentum, eps: this.eps, numBatchesTracked: buffer(this.num_batches_tracked) };
      return batchNorm(x, buffer(this.running_mean), buffer(this.running_var), param(this.weight), param(this.bias), options, this.contract());
    });
  }
}

/** Batch normalisation of [batch, C] or [batch, C, L] inputs, as torch.nn.BatchNorm1d. */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super('BatchNorm1d', numFeatures, options);
  }

  protected contract(): InputContract {
    const C = this.numFeatures;
    return { channels: C, ranks: [2, 3], layout: `[batch, ${C}] or [batch, ${C}, L]` };
  }
}

/** Batch normalisation of [batch, C, H, W] inputs, as torch.nn.BatchNorm2d. */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super('BatchNorm2d', numFeatures, options);
  }

  protected contract(): InputContract {
    return { channels: this.numFeatures, ranks: [4], layout: `[batch, ${this.numFeatures}, H, W]` };
  }
}

export interface LayerNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Learnable `weight` (ones) and `bias` (zeros) of normalizedShape. Default true. */
  elementwiseAffine?: boolean;
}

/**
 * Layer normalisation over the trailing dims, as torch.nn.LayerNorm: each slice
 * x[..., *normalizedShape] becomes (x - mean) / sqrt(var + eps) · weight + bias, with its own
 * mean and biased variance; the same in training and evaluation.
 */
export class LayerNorm extends Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;

  constructor(normalizedShape: number | readonly number[], { eps = 1e-5, elementwiseAffine = true }: LayerNormOptions = {}) {
    super();
    const shape = normalizedShapeOf(normalizedShape, 'LayerNorm');
    if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new Error(`LayerNorm: eps must be a finite number >= 0, got ${eps}`);
    const n = shape.reduce((a, b) => a * b, 1);
    this.weight = elementwiseAffine ? new Parameter(new Float32Array(n).fill(1), shape) : null;
    this.bias = elementwiseAffine ? new Parameter(new Float32Array(n), shape) : null;
    this.normalizedShape = shape;
    this.eps = eps;
    this.elementwiseAffine = elementwiseAffine;
  }

  override describe(): string {
    const s = this.normalizedShape;
    const extra = [this.eps !== 1e-5 ? `eps=${this.eps}` : '', this.elementwiseAffine ? '' : 'elementwiseAffine=false'].filter(Boolean);
    return `LayerNorm(${[s.length === 1 ? `${s[0]}` : `[${s.join(', ')}]`, ...extra].join(', ')})`;
  }

  forward(x: Tensor): Tensor {
    const g = x.graph;
    return g.scope(this.describe(), () =>
      layerNorm(x, this.normalizedShape, this.weight ? g.param(this.weight) : null, this.bias ? g.param(this.bias) : null, { eps: this.eps }),
    );
  }
}
