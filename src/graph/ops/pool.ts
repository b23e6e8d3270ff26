import { type Pool2dGeometry, pool2dGradLaunch, pool2dLaunch, type PoolMode } from '../../kernels/pool2d.js';
import { ONE, type OpDef } from '../op.js';
import { shapeString, type Tensor } from '../tensor.js';

/** A size given for both spatial axes at once, or as [rows, columns], as torch's int-or-tuple. */
export type Size2 = number | readonly [number, number];

export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  readonly stride?: Size2;
  /** Implicit -inf padding on each side, at most half the kernel size. Default 0. */
  readonly padding?: Size2;
  /** Spacing between the taps of a window. Default 1. */
  readonly dilation?: Size2;
  /** Output size rounded up instead of down (the last window may hang over the edge). Default false. */
  readonly ceilMode?: boolean;
}

export interface AvgPool2dOptions {
  /** Default: the kernel size. */
  readonly stride?: Size2;
  /** Implicit zero padding on each side, at most half the kernel size. Default 0. */
  readonly padding?: Size2;
  readonly ceilMode?: boolean;
  /** Count padding taps in the divisor (torch's default, true), or only the taps in the input. */
  readonly countIncludePad?: boolean;
}

type Pair = readonly [number, number];

export interface Pool2dAttrs {
  readonly mode: PoolMode;
  readonly kernel: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  /** Adaptive pooling's output size (ignored by the others). */
  readonly outputSize: Pair;
  /** The layer as torch prints it, for error messages: `MaxPool2d(kernel_size=2, stride=2, padding=0)`. */
  readonly layer: string;
}

/** torch's repr of an int-or-tuple argument. */
function show(v: Size2): string {
  return typeof v === 'number' ? `${v}` : Array.isArray(v) ? `(${v.join(', ')})` : String(v);
}

function pair(v: Size2, layer: string, option: string, min: number): Pair {
  const p: Pair = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : [NaN, NaN];
  if (!p.every((n) => Number.isInteger(n) && n >= min)) {
    const what = min === 0 ? 'non-negative integer' : 'positive integer';
    throw new Error(`${layer}: ${option} must be a ${what} or a pair of them, got ${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}`);
  }
  return p;
}

function checkPadding(attrs: Pool2dAttrs, padding: Size2, kernelSize: Size2): void {
  const [k, p] = [attrs.kernel, attrs.padding];
  if (p[0] > Math.floor(k[0] / 2) || p[1] > Math.floor(k[1] / 2)) {
    throw new Error(`${attrs.layer}: padding must be at most half of kernel_size, got padding=${show(padding)} with kernel_size=${show(kernelSize)}`);
  }
}

/** Validated attributes of max pooling (throws naming `MaxPool2d` and the option). */
export function maxPool2dAttrs(kernelSize: Size2, { stride, padding = 0, dilation = 1, ceilMode = false }: MaxPool2dOptions = {}): Pool2dAttrs {
  const extra = `${dilation === 1 ? '' : `, dilation=${show(dilation)}`}${ceilMode ? ', ceil_mode=true' : ''}`;
  const layer = `MaxPool2d(kernel_size=${show(kernelSize)}, stride=${show(stride ?? kernelSize)}, padding=${show(padding)}${extra})`;
  const attrs: Pool2dAttrs = {
    mode: 'max',
    kernel: pair(kernelSize, layer, 'kernel_size', 1),
    stride: pair(stride ?? kernelSize, layer, 'stride', 1),
    padding: pair(padding, layer, 'padding', 0),
    dilation: pair(dilation, layer, 'dilation', 1),
    ceilMode: checkFlag(ceilMode, layer, 'ceilMode'),
    countIncludePad: true,
    outputSize: [0, 0],
    layer,
  };
  checkPadding(attrs, padding, kernelSize);
  return attrs;
}

/** Validated attributes of average pooling. */
export function avgPool2dAttrs(kernelSize: Size2, options: AvgPool2dOptions = {}): Pool2dAttrs {
  const { stride, padding = 0, ceilMode = false, countIncludePad = true } = options;
  const extra = `${ceilMode ? ', ceil_mode=true' : ''}${countIncludePad ? '' : ', count_include_pad=false'}`;
  const layer = `AvgPool2d(kernel_size=${show(kernelSize)}, stride=${show(stride ?? kernelSize)}, padding=${show(padding)}${extra})`;
  if ('dilation' in options) throw new Error(`${layer}: average pooling has no dilation (torch.nn.AvgPool2d neither)`);
  const attrs: Pool2dAttrs = {
    mode: 'avg',
    kernel: pair(kernelSize, layer, 'kernel_size', 1),
    stride: pair(stride ?? kernelSize, layer, 'stride', 1),
    padding: pair(padding, layer, 'padding', 0),
    dilation: [1, 1],
    ceilMode: checkFlag(ceilMode, layer, 'ceilMode'),
    countIncludePad: checkFlag(countIncludePad, layer, 'countIncludePad'),
    outputSize: [0, 0],
    layer,
  };
  checkPadding(attrs, padding, kernelSize);
  return attrs;
}

/** Validated attributes of adaptive average pooling to `outputSize`. */
export function adaptiveAvgPool2dAttrs(outputSize: Size2): Pool2dAttrs {
  const layer = `AdaptiveAvgPool2d(output_size=${show(outputSize)})`;
  const one: Pair = [1, 1];
  return {
    mode: 'adaptive',
    kernel: one,
    stride: one,
    padding: [0, 0],
    dilation: one,
    ceilMode: false,
    countIncludePad: true,
    outputSize: pair(outputSize, layer, 'output_size', 1),
    layer,
  };
}

function checkFlag(v: unknown, layer: string, option: string): boolean {
  if (typeof v !== 'boolean') throw new Error(`${layer}: ${option} must be true or false, got ${String(v)}`);
  return v;
}

/** torch's pooling_output_shape: windows that start inside the input or its left padding. */
function outputLength(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = size + 2 * p - d * (k - 1) - 1;
  let out = Math.floor((span + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= size + p) out--;
  return out;
}

/** The kernel geometry of pooling `inputShape` ([N, C, H, W] or [C, H, W]). */
function geometry(a: Pool2dAttrs, inputShape: readonly number[]): Pool2dGeometry {
  const [h, w] = inputShape.slice(-2) as [number, number];
  const planes = inputShape.slice(0, -2).reduce((p, q) => p * q, 1);
  const [oh, ow] =
    a.mode === 'adaptive'
      ? a.outputSize
      : [0, 1].map((i) => outputLength(i ? w : h, a.kernel[i]!, a.stride[i]!, a.padding[i]!, a.dilation[i]!, a.ceilMode));
  return {
    planes,
    h,
    w,
    oh: oh!,
    ow: ow!,
    kh: a.kernel[0],
    kw: a.kernel[1],
    sh: a.stride[0],
    sw: a.stride[1],
    ph: a.padding[0],
    pw: a.padding[1],
    dh: a.dilation[0],
    dw: a.dilation[1],
  };
}

/**
 * Pooling over the last two axes of x [N, C, H, W] (or unbatched [C, H, W], as torch allows):
 * max, average or adaptive average, by `mode`. Its gradient is POOL2D_GRAD, a gather per input
 * element; max pooling's recomputes each window's argmax from x, so no indices are stored.
 */
export const POOL2D: OpDef<Pool2dAttrs> = {
  name: 'pool2d',
  infer([x], a, label) {
    if (x!.dtype !== 'f32' || (x!.rank !== 3 && x!.rank !== 4) || x!.numel === 0) {
      throw new Error(`${label}: ${a.layer} expects a float input [batch, channels, H, W] or [channels, H, W], got ${x!.dtype} ${shapeString(x!.shape)}`);
    }
    const g = geometry(a, x!.shape);
    if (g.oh < 1 || g.ow < 1) {
      throw new Error(`${label}: ${a.layer} on input ${shapeString(x!.shape)}: output size ${g.oh}x${g.ow} is too small (the input is smaller than one window)`);
    }
    return [{ shape: [...x!.shape.slice(0, -2), g.oh, g.ow], dtype: 'f32' }];
  },
  backward(g, node, [gradOut], wants) {
    if (!wants[0] || !gradOut) return [null];
    if (gradOut === ONE) throw new Error(`${node.label}: a pooling output cannot be the loss`);
    const x = node.inputs[0]!;
    const inputs = node.attrs.mode === 'max' ? [gradOut, x] : [gradOut];
    return [g.apply(POOL2D_GRAD, inputs, { ...node.attrs, inputShape: x.shape }, `${node.label}.grad`)[0]!];
  },
  lower(node, io) {
    const x = node.inputs[0]!;
    const a = node.attrs;
    const bindings = { x: io.view(x), y: io.view(node.outputs[0]!) };
    return [pool2dLaunch(a.mode, geometry(a, x.shape), bindings, { countIncludePad: a.countIncludePad, label: node.label })];
  },
};

/** dx of POOL2D from dy (and x, for max pooling). */
export const POOL2D_GRAD: OpDef<Pool2dAttrs & { readonly inputShape: readonly number[] }> = {
  name: 'pool2d_grad',
  infer([dy], a, label) {
    const { oh, ow } = geometry(a, a.inputShape);
    const want = [...a.inputShape.slice(0, -2), oh, ow];
    if (dy!.shape.join() !== want.join()) throw new Error(`${label}: ${a.layer} gradient must be ${shapeString(want)}, got ${shapeString(dy!.shape)}`);
    return [{ shape: a.inputShape, dtype: 'f32' }];
  },
  lower(node, io) {
    const [dy, x] = node.inputs as [Tensor, Tensor | undefined];
    const a = node.attrs;
    const bindings = { dy: io.view(dy), dx: io.view(node.outputs[0]!), ...(x ? { x: io.view(x) } : {}) };
    return [pool2dGradLaunch(a.mode, geometry(a, a.inputShape), bindings, { countIncludePad: a.countIncludePad, label: node.label })];
  },
};

function pool(x: Tensor, attrs: Pool2dAttrs): Tensor {
  return x.graph.apply(POOL2D, [x], attrs)[0]!;
}

/** torch.nn.functional.max_pool2d: the largest value of each window (padding is -inf). */
export function maxPool2d(x: Tensor, kernelSize: Size2, options: MaxPool2dOptions = {}): Tensor {
  return pool(x, maxPool2dAttrs(kernelSize, options));
}

/** torch.nn.functional.avg_pool2d: the mean of each window. */
export function avgPool2d(x: Tensor, kernelSize: Size2, options: AvgPool2dOptions = {}): Tensor {
  return pool(x, avgPool2dAttrs(kernelSize, options));
}

/** torch.nn.functional.adaptive_avg_pool2d: means over windows that tile H, W into `outputSize`. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Size2): Tensor {
  return pool(x, adaptiveAvgPool2dAttrs(outputSize));
}
