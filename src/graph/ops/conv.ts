import { type Activation, gradFromOutput } from '../../kernels/activations.js';
import {
  type Conv2dGeometry,
  conv2dGradInputLaunch,
  conv2dGradWeightLaunch,
  conv2dLaunch,
  convOutputSize,
  weightGradSplits,
} from '../../kernels/conv2d.js';
import { ONE, type OpDef } from '../op.js';
import { shapeString, type Tensor } from '../tensor.js';

type Pair = readonly [number, number];

export interface Conv2dAttrs {
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly groups: number;
  readonly hasBias: boolean;
  /** Fused epilogue (identity unless a fusion pass folds the next activation in). */
  readonly act: Activation;
  readonly alpha: number;
}

/** What the gradient ops need besides their inputs: the forward's sizes and epilogue. */
export interface Conv2dGradAttrs {
  readonly geometry: Conv2dGeometry;
  readonly act: Activation;
  readonly alpha: number;
  readonly hasBias: boolean;
}

export interface Conv2dGradWeightAttrs extends Conv2dGradAttrs {
  /** Splits of the depth batch · pixels (`weightGradSplits`); > 1 adds scratch outputs. */
  readonly splits: number;
}

function geometry(x: readonly number[], w: readonly number[], a: Conv2dAttrs): Conv2dGeometry {
  return {
    batch: x[0]!,
    cIn: x[1]!,
    inH: x[2]!,
    inW: x[3]!,
    cOut: w[0]!,
    kH: w[2]!,
    kW: w[3]!,
    stride: a.stride,
    padding: a.padding,
    dilation: a.dilation,
    groups: a.groups,
  };
}

function checkAttrs(a: Conv2dAttrs, label: string): void {
  const pairs: [string, Pair, number][] = [['stride', a.stride, 1], ['padding', a.padding, 0], ['dilation', a.dilation, 1]];
  for (const [name, [h, w], min] of pairs) {
    if (![h, w].every((v) => Number.isInteger(v) && v >= min)) throw new Error(`${label}: ${name} must be integers >= ${min}, got (${h}, ${w})`);
  }
  if (!Number.isInteger(a.groups) || a.groups < 1) throw new Error(`${label}: groups must be a positive integer, got ${a.groups}`);
  if (!gradFromOutput(a.act)) throw new Error(`${label}: '${a.act}' cannot be fused into conv2d`);
}

/**
 * y = act(conv2d(x, W) + b), torch's F.conv2d: x [batch, c_in, H, W], W [c_out, c_in / groups,
 * kH, kW], b [c_out]; inputs [x, W] or [x, W, b]. Zero padding, symmetric per axis.
 */
export const CONV2D: OpDef<Conv2dAttrs> = {
  name: 'conv2d',
  infer([x, w, b], attrs, label) {
    checkAttrs(attrs, label);
    if (x!.dtype !== 'f32' || w!.dtype !== 'f32') throw new Error(`${label}: conv2d needs f32 tensors, got ${x!.dtype} ${x} and ${w!.dtype} ${w}`);
    if (w!.shape.length !== 4) throw new Error(`${label}: weight must be [out_channels, in_channels / groups, kH, kW], got ${shapeString(w!.shape)}`);
    const [cOut, cinG, kH, kW] = w!.shape as [number, number, number, number];
    const { groups } = attrs;
    const cIn = cinG * groups;
    if (x!.shape.length !== 4 || x!.shape[1] !== cIn) {
      throw new Error(`${label}: expected input [batch, ${cIn}, H, W] for weight ${shapeString(w!.shape)} and groups=${groups}, got ${shapeString(x!.shape)}`);
    }
    if (cOut % groups !== 0) throw new Error(`${label}: groups=${groups} must divide the ${cOut} output channels of weight ${shapeString(w!.shape)}`);
    if (attrs.hasBias !== (b !== undefined)) throw new Error(`${label}: hasBias is ${attrs.hasBias} but ${b ? 'a bias is' : 'no bias is'} given`);
    if (b && (b.shape.length !== 1 || b.shape[0] !== cOut)) throw new Error(`${label}: bias must be [${cOut}], got ${shapeString(b.shape)}`);
    const [, , h, wd] = x!.shape as [number, number, number, number];
    const outH = convOutputSize(h, kH, attrs.stride[0], attrs.padding[0], attrs.dilation[0]);
    const outW = convOutputSize(wd, kW, attrs.stride[1], attrs.padding[1], attrs.dilation[1]);
    if (outH < 1 || outW < 1) {
      const eh = attrs.dilation[0] * (kH - 1) + 1;
      const ew = attrs.dilation[1] * (kW - 1) + 1;
      throw new Error(
        `${label}: input ${shapeString(x!.shape)} padded to ${h + 2 * attrs.padding[0]}x${wd + 2 * attrs.padding[1]} ` +
          `is smaller than the (dilated) kernel ${eh}x${ew}: output size would be ${outH}x${outW}`,
      );
    }
    return [{ shape: [x!.shape[0]!, cOut, outH, outW], dtype: 'f32' }];
  },
  backward(g, node, [gradOut], wants) {
    if (!gradOut) return node.inputs.map(() => null);
    if (gradOut === ONE) throw new Error(`${node.label}: a conv2d output cannot be the loss`);
    const [x, w] = node.inputs as [Tensor, Tensor];
    const { act, alpha, hasBias } = node.attrs;
    const attrs: Conv2dGradAttrs = { geometry: geometry(x.shape, w.shape, node.attrs), act, alpha, hasBias };
    const gate = act === 'identity' ? [] : [node.outputs[0]!];
    const grads: (Tensor | null)[] = node.inputs.map(() => null);
    if (wants[0]) grads[0] = g.apply(CONV2D_GRAD_INPUT, [gradOut, w, ...gate], attrs, `${node.label}.grad_input`)[0]!;
    if (wants[1] || (hasBias && wants[2])) {
      const splits = weightGradSplits(attrs.geometry);
      const [dw, db] = g.apply(CONV2D_GRAD_WEIGHT, [gradOut, x, ...gate], { ...attrs, splits }, `${node.label}.grad_weight`);
      grads[1] = dw!;
      if (hasBias) grads[2] = db!;
    }
    return grads;
  },
  lower(node, io) {
    const [x, w, b] = node.inputs as [Tensor, Tensor, Tensor | undefined];
    const { act, alpha, hasBias } = node.attrs;
    return [
      conv2dLaunch(
        geometry(x.shape, w.shape, node.attrs),
        { x: io.view(x), weight: io.view(w), bias: b ? io.view(b) : undefined, y: io.view(node.outputs[0]!) },
        { act, alpha, hasBias },
        io.dummyOut,
        node.label,
      ),
    ];
  },
};

/** dx = the transposed convolution of dy ⊙ act'(y) with W; inputs [dy, W] or [dy, W, y]. */
export const CONV2D_GRAD_INPUT: OpDef<Conv2dGradAttrs> = {
  name: 'conv2d_grad_input',
  infer(_inputs, { geometry: s }) {
    return [{ shape: [s.batch, s.cIn, s.inH, s.inW], dtype: 'f32' }];
  },
  lower(node, io) {
    const [dy, w, y] = node.inputs as [Tensor, Tensor, Tensor | undefined];
    const { geometry: s, act, alpha } = node.attrs;
    return [
      conv2dGradInputLaunch(
        s,
        { dy: io.view(dy), weight: io.view(w), y: y ? io.view(y) : undefined, dx: io.view(node.outputs[0]!) },
        { act, alpha },
        io.dummyOut,
        node.label,
      ),
    ];
  },
};

/**
 * dW = Σ over batch and pixels of (dy ⊙ act'(y)) times the input windows, and db = Σ dy ⊙ act'(y)
 * per channel, in one dispatch; inputs [dy, x] or [dy, x, y]. Outputs [dW, db?], then, when the
 * depth is split, the scratch partial sums [splits · |dW|] and [splits · c_out]? that a second
 * dispatch adds up.
 */
export const CONV2D_GRAD_WEIGHT: OpDef<Conv2dGradWeightAttrs> = {
  name: 'conv2d_grad_weight',
  infer(_inputs, { geometry: s, hasBias, splits }) {
    const numel = (s.cOut * s.cIn * s.kH * s.kW) / s.groups;
    const specs = [{ shape: [s.cOut, s.cIn / s.groups, s.kH, s.kW], dtype: 'f32' as const }];
    if (hasBias) specs.push({ shape: [s.cOut], dtype: 'f32' });
    if (splits > 1) {
      specs.push({ shape: [splits * numel], dtype: 'f32' });
      if (hasBias) specs.push({ shape: [splits * s.cOut], dtype: 'f32' });
    }
    return specs;
  },
  lower(node, io) {
    const [dy, x, y] = node.inputs as [Tensor, Tensor, Tensor | undefined];
    const { geometry: s, act, alpha, hasBias, splits } = node.attrs;
    const outs = [...node.outputs];
    const dw = outs.shift()!;
    const db = hasBias ? outs.shift() : undefined;
    const [dwParts, dbParts] = outs;
    return conv2dGradWeightLaunch(
      s,
      {
        dy: io.view(dy),
        x: io.view(x),
        y: y ? io.view(y) : undefined,
        dweight: io.view(dw),
        dbias: db ? io.view(db) : undefined,
        dweightParts: dwParts ? io.view(dwParts) : undefined,
        dbiasParts: dbParts ? io.view(dbParts) : undefined,
      },
      { act, alpha, hasBias, splits },
      io.dummyOut,
      node.label,
    );
  },
};

/** A size per spatial axis: one number for both, or [h, w]. */
export type Size2 = number | readonly [number, number];

export interface Conv2dOptions {
  readonly stride?: Size2;
  /** Zeros added on both sides of each axis; 'valid' is 0, 'same' keeps the size (stride 1). */
  readonly padding?: Size2 | 'valid' | 'same';
  readonly dilation?: Size2;
  readonly groups?: number;
}

/** `v` as [h, w], checked to be integers >= `min`; errors name `who` and the option. */
export function pair(v: Size2, name: string, min: number, who: string): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  const ok = (typeof v === 'number' || (Array.isArray(v) && v.length === 2)) && p.every((n) => Number.isInteger(n) && n >= min);
  if (!ok) throw new Error(`${who}: ${name} must be an integer >= ${min} or a pair [h, w] of them, got ${JSON.stringify(v)}`);
  return p;
}

/**
 * torch's padding='same' as symmetric zero padding: dilation · (kernel − 1) must be even on each
 * axis (torch pads the extra pixel on one side only; that case is refused rather than shifted).
 */
export function resolvePadding(padding: Size2 | 'valid' | 'same', kernel: Pair, stride: Pair, dilation: Pair, who: string): [number, number] {
  if (padding === 'valid') return [0, 0];
  if (padding !== 'same') return pair(padding, 'padding', 0, who);
  if (stride[0] !== 1 || stride[1] !== 1) throw new Error(`${who}: padding='same' needs stride 1, got stride (${stride[0]}, ${stride[1]})`);
  const total = [dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)];
  if (total.some((t) => t % 2 !== 0)) {
    throw new Error(`${who}: padding='same' with kernel (${kernel[0]}, ${kernel[1]}) and dilation (${dilation[0]}, ${dilation[1]}) would pad unevenly; give the padding explicitly`);
  }
  return [total[0]! / 2, total[1]! / 2];
}

/**
 * torch.nn.functional.conv2d: x [batch, c_in, H, W], w [c_out, c_in / groups, kH, kW], b [c_out]
 * or null. Output [batch, c_out, ⌊(H + 2·pad − dil·(kH − 1) − 1) / stride⌋ + 1, likewise for W].
 */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const who = x.graph.currentLabel;
  const stride = pair(opts.stride ?? 1, 'stride', 1, who);
  const dilation = pair(opts.dilation ?? 1, 'dilation', 1, who);
  const kernel: Pair = [w.shape[2] ?? 1, w.shape[3] ?? 1];
  const padding = resolvePadding(opts.padding ?? 0, kernel, stride, dilation, who);
  const groups = opts.groups ?? 1;
  const attrs: Conv2dAttrs = { stride, padding, dilation, groups, hasBias: b !== null, act: 'identity', alpha: 0.01 };
  return x.graph.apply(CONV2D, b ? [x, w, b] : [x, w], attrs)[0]!;
}
