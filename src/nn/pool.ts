import {
  adaptiveAvgPool2d,
  adaptiveAvgPool2dAttrs,
  avgPool2d,
  type AvgPool2dOptions,
  avgPool2dAttrs,
  maxPool2d,
  type MaxPool2dOptions,
  maxPool2dAttrs,
  type Size2,
} from '../graph/ops/pool.js';
import type { Tensor } from '../graph/tensor.js';
import { Module } from './module.js';

/**
 * torch.nn.MaxPool2d over [N, C, H, W] (or [C, H, W]): the largest value of each kernelSize
 * window, windows `stride` apart (default: kernelSize, so they tile), with implicit -inf
 * `padding` of at most half the kernel, optional `dilation` and `ceilMode`. The gradient goes to
 * the first maximum of each window in row-major order, as in torch. No parameters.
 */
export class MaxPool2d extends Module {
  private readonly layer: string;

  constructor(
    readonly kernelSize: Size2,
    readonly options: MaxPool2dOptions = {},
  ) {
    super();
    this.layer = maxPool2dAttrs(kernelSize, options).layer;
  }

  override describe(): string {
    return this.layer;
  }

  forward(x: Tensor): Tensor {
    return x.graph.scope(this.describe(), () => maxPool2d(x, this.kernelSize, this.options));
  }
}

/**
 * torch.nn.AvgPool2d over [N, C, H, W] (or [C, H, W]): the mean of each window, zero `padding`
 * of at most half the kernel; with `countIncludePad` (default true) padding taps count in the
 * divisor, as in torch. No parameters.
 */
export class AvgPool2d extends Module {
  private readonly layer: string;

  constructor(
    readonly kernelSize: Size2,
    readonly options: AvgPool2dOptions = {},
  ) {
    super();
    this.layer = avgPool2dAttrs(kernelSize, options).layer;
  }

  override describe(): string {
    return this.layer;
  }

  forward(x: Tensor): Tensor {
    return x.graph.scope(this.describe(), () => avgPool2d(x, this.kernelSize, this.options));
  }
}

/**
 * torch.nn.AdaptiveAvgPool2d: output [N, C, oh, ow] whatever H and W are; output row i averages
 * input rows floor(i·H/oh) to ceil((i+1)·H/oh) - 1 (windows may overlap when oh does not divide
 * H), likewise for columns. AdaptiveAvgPool2d(1) is global average pooling. No parameters.
 */
export class AdaptiveAvgPool2d extends Module {
  private readonly layer: string;

  constructor(readonly outputSize: Size2) {
    super();
    this.layer = adaptiveAvgPool2dAttrs(outputSize).layer;
  }

  override describe(): string {
    return this.layer;
  }

  forward(x: Tensor): Tensor {
    return x.graph.scope(this.describe(), () => adaptiveAvgPool2d(x, this.outputSize));
  }
}
