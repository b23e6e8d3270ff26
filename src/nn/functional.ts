/**
 * torch.nn.functional for Descent, imported as `F`: the layers' computations as functions of
 * tensors, to be called inside a module's `forward`. Weights may be given as tensors or as the
 * module's Parameters (`F.linear(x, this.weight, this.bias)`).
 *
 * ```ts
 * const F = nn.functional;
 * forward(x: Tensor): Tensor {
 *   const h = F.gelu(F.linear(x, this.w1, this.b1));
 *   return F.layerNorm(h.add(x), [64], this.gamma, this.beta);
 * }
 * ```
 */
import { activation } from '../graph/ops/activation.js';
import { scaledDotProductAttention as sdpa, type AttentionOptions } from '../graph/ops/attention.js';
import { conv2d as conv2dOp, type Conv2dOptions } from '../graph/ops/conv.js';
import { dropout as dropoutOp } from '../graph/ops/dropout.js';
import { embedding as embeddingOp, type EmbeddingOptions } from '../graph/ops/embedding.js';
import { linearAnyRank } from '../graph/ops/linear.js';
import * as losses from '../graph/ops/losses.js';
import { batchNorm as batchNormOp, type BatchNormOptions, layerNorm as layerNormOp, type LayerNormOptions } from '../graph/ops/norm.js';
import { silu as siluOp, softplus as softplusOp } from '../graph/ops/pointwise.js';
import {
  adaptiveAvgPool2d as adaptiveAvgPool2dOp,
  avgPool2d as avgPool2dOp,
  type AvgPool2dOptions,
  maxPool2d as maxPool2dOp,
  type MaxPool2dOptions,
} from '../graph/ops/pool.js';
import { logSoftmax as logSoftmaxOp, softmax as softmaxOp } from '../graph/ops/reduce.js';
import { type Tensor, type TensorLike, toTensor } from '../graph/tensor.js';

export { cat } from '../graph/ops/shape.js';
export { where } from '../graph/ops/pointwise.js';

type Size2 = number | readonly [number, number];

const lift = (x: Tensor, v: TensorLike | null | undefined): Tensor | null => (v === null || v === undefined ? null : toTensor(x.graph, v));

/** y = x · Wᵀ + b over the last dim of x (any leading dims), W [out, in] as torch. */
export function linear(x: Tensor, weight: TensorLike, bias?: TensorLike | null): Tensor {
  return linearAnyRank(x, lift(x, weight)!, lift(x, bias));
}

/** 2-D convolution, channels-first: x [N, C, H, W], weight [out, C / groups, kh, kw]. */
export function conv2d(x: Tensor, weight: TensorLike, bias?: TensorLike | null, options: Conv2dOptions = {}): Tensor {
  return conv2dOp(x, lift(x, weight)!, lift(x, bias), options);
}

export function maxPool2d(x: Tensor, kernelSize: Size2, options: MaxPool2dOptions = {}): Tensor {
  return maxPool2dOp(x, kernelSize, options);
}

export function avgPool2d(x: Tensor, kernelSize: Size2, options: AvgPool2dOptions = {}): Tensor {
  return avgPool2dOp(x, kernelSize, options);
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: Size2): Tensor {
  return adaptiveAvgPool2dOp(x, outputSize);
}

/** Normalises over the last dims given by `normalizedShape`. */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight?: TensorLike | null, bias?: TensorLike | null, options: LayerNormOptions = {}): Tensor {
  return layerNormOp(x, normalizedShape, lift(x, weight), lift(x, bias), options);
}

/**
 * Batch normalisation over dim 1. Training (the graph's mode by default) uses the batch's
 * statistics and updates running statistics given as module buffers in place.
 */
export function batchNorm(
  x: Tensor,
  runningMean: TensorLike | null,
  runningVar: TensorLike | null,
  weight?: TensorLike | null,
  bias?: TensorLike | null,
  options: Omit<BatchNormOptions, 'numBatchesTracked'> & { numBatchesTracked?: TensorLike | null } = {},
): Tensor {
  const numBatchesTracked = lift(x, options.numBatchesTracked);
  return batchNormOp(x, lift(x, runningMean), lift(x, runningVar), lift(x, weight), lift(x, bias), { ...options, numBatchesTracked });
}

/**
 * Inverted dropout with counter-based masks (see nn.Dropout), active when `training` (default:
 * the graph's mode) and p > 0; any shape.
 */
export function dropout(x: Tensor, p = 0.5, training = x.graph.training): Tensor {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`${x.graph.currentLabel}: dropout p must be a probability in [0, 1], got ${p}`);
  return training && p > 0 ? dropoutOp(x, p) : x;
}

/** Rows of `weight` [num, dim] picked by the int32 ids: [...ids.shape, dim]. */
export function embedding(ids: Tensor, weight: TensorLike, options: EmbeddingOptions = {}): Tensor {
  return embeddingOp(ids, lift(ids, weight)!, options);
}

/**
 * softmax(q·kᵀ·scale + mask)·v: one fused kernel forward (online softmax, no L×S matrix in
 * memory), three dispatches backward (the row dot products, dK/dV, dQ).
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: Omit<AttentionOptions, 'attnMask'> & { attnMask?: TensorLike | null } = {},
): Tensor {
  const attnMask = lift(q, options.attnMask);
  return sdpa(q, k, v, { ...options, ...(attnMask ? { attnMask } : { attnMask: undefined }) });
}

export function softmax(x: Tensor, dim: number): Tensor {
  return softmaxOp(x, dim);
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  return logSoftmaxOp(x, dim);
}

export function relu(x: Tensor): Tensor {
  return activation(x, 'relu');
}

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return activation(x, 'leaky_relu', negativeSlope);
}

export function sigmoid(x: Tensor): Tensor {
  return activation(x, 'sigmoid');
}

export function tanh(x: Tensor): Tensor {
  return activation(x, 'tanh');
}

/** The exact (erf) GELU, as torch's default. */
export function gelu(x: Tensor): Tensor {
  return activation(x, 'gelu');
}

export function silu(x: Tensor): Tensor {
  return siluOp(x);
}

export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return softplusOp(x, beta, threshold);
}

export const crossEntropy = losses.crossEntropy;
export const binaryCrossEntropyWithLogits = losses.binaryCrossEntropyWithLogits;
export const mseLoss = losses.mseLoss;
export const l1Loss = losses.l1Loss;
