import { conv2d, pair, resolvePadding, type Size2 } from '../graph/ops/conv.js';
import { Parameter } from '../graph/parameter.js';
import type { Tensor } from '../graph/tensor.js';
import { uniform } from './init.js';
import { Module } from './module.js';

export interface Conv2dOptions {
  /** Step of the window, one number or [h, w]. Default 1. */
  stride?: Size2;
  /** Zeros on both sides of each axis, [h, w], or 'valid' (0) / 'same' (stride 1 only). Default 0. */
  padding?: Size2 | 'valid' | 'same';
  /** Spacing of the kernel taps. Default 1. */
  dilation?: Size2;
  /** Channels split into this many independent convolutions. Default 1. */
  groups?: number;
  bias?: boolean;
}

const tuple = (p: readonly [number, number]): string => `(${p[0]}, ${p[1]})`;

/**
 * 2-D convolution over channels-first images [batch, in, H, W], as torch.nn.Conv2d: `weight`
 * [out, in / groups, kH, kW] and `bias` [out], both initialised U(−1/√fanIn, 1/√fanIn) with
 * fanIn = in / groups · kH · kW (torch's kaiming_uniform with a = √5, and its bias rule).
 *
 * ```ts
 * new nn.Conv2d(1, 8, 3, { padding: 1 });            // [B, 1, 28, 28] -> [B, 8, 28, 28]
 * new nn.Conv2d(8, 16, [3, 5], { stride: 2, groups: 2, bias: false });
 * ```
 */
export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  /** As given ('same', 'valid' or sizes), for describe(). */
  private readonly paddingSpec: string | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Size2,
    { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true }: Conv2dOptions = {},
  ) {
    super();
    const who = `Conv2d(${inChannels}, ${outChannels}, kernel_size=${JSON.stringify(kernelSize)})`;
    for (const [name, v] of [['inChannels', inChannels], ['outChannels', outChannels], ['groups', groups]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${v}`);
    }
    if (inChannels % groups !== 0) throw new Error(`${who}: inChannels=${inChannels} must be divisible by groups=${groups}`);
    if (outChannels % groups !== 0) throw new Error(`${who}: outChannels=${outChannels} must be divisible by groups=${groups}`);
    if (typeof bias !== 'boolean') throw new Error(`${who}: bias must be true or false, got ${JSON.stringify(bias)}`);
    this.kernelSize = pair(kernelSize, 'kernelSize', 1, who);
    this.stride = pair(stride, 'stride', 1, who);
    this.dilation = pair(dilation, 'dilation', 1, who);
    if (typeof padding === 'string' && padding !== 'same' && padding !== 'valid') {
      throw new Error(`${who}: padding must be a size, 'valid' or 'same', got '${padding}'`);
    }
    this.padding = resolvePadding(padding, this.kernelSize, this.stride, this.dilation, who);
    this.paddingSpec = typeof padding === 'string' ? padding : null;
    this.groups = groups;

    const [kH, kW] = this.kernelSize;
    const fanIn = (inChannels / groups) * kH * kW;
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = new Parameter(uniform(outChannels * fanIn, bound), [outChannels, inChannels / groups, kH, kW]);
    this.bias = bias ? new Parameter(uniform(outChannels, bound), [outChannels]) : null;
  }

  /** torch's repr: `Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))`. */
  override describe(): string {
    let s = `Conv2d(${this.inChannels}, ${this.outChannels}, kernel_size=${tuple(this.kernelSize)}, stride=${tuple(this.stride)}`;
    if (this.paddingSpec !== null) s += `, padding=${this.paddingSpec}`;
    else if (this.padding[0] !== 0 || this.padding[1] !== 0) s += `, padding=${tuple(this.padding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${tuple(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ', bias=False';
    return `${s})`;
  }

  forward(x: Tensor): Tensor {
    const g = x.graph;
    return g.scope(this.describe(), () =>
      conv2d(x, g.param(this.weight), this.bias ? g.param(this.bias) : null, {
        stride: this.stride,
        padding: this.padding,
        dilation: this.dilation,
        groups: this.groups,
      }),
    );
  }
}
