import activations from '../../shaders/activations.wgsl';
import source from '../../shaders/conv2d.wgsl';
import { actForward, actGrad } from './activations.js';
import type { BindingSpec, BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { ACTIVATIONS, type Activation } from './activations.js';
import { launch } from './launch.js';
import { withCommon } from './source.js';

/**
 * 2-D convolution, channels-first, with torch's F.conv2d semantics (shaders/conv2d.wgsl): the
 * forward product, the input gradient and the weight gradient (with the bias gradient in the same
 * dispatch), each an implicit GEMM over workgroup tiles whose loads gather the input windows.
 * The three kernels share one shader whose `mode` override picks the product. The weight
 * gradient's depth (batch × pixels) may be split across workgroups, whose partial sums a fourth
 * kernel adds up.
 */

/** The sizes of one convolution. Output sizes follow from the others (`convOutputSize`). */
export interface Conv2dGeometry {
  readonly batch: number;
  readonly cIn: number;
  readonly inH: number;
  readonly inW: number;
  readonly cOut: number;
  readonly kH: number;
  readonly kW: number;
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly groups: number;
}

/** torch's output size along one axis: ⌊(in + 2·pad − dil·(k − 1) − 1) / stride⌋ + 1. */
export function convOutputSize(size: number, kernel: number, stride: number, pad: number, dil: number): number {
  return Math.floor((size + 2 * pad - dil * (kernel - 1) - 1) / stride) + 1;
}

/** The largest C block of one workgroup, the K step, and the block of one invocation. */
export const CONV_TILE = { m: 32, n: 64, k: 16, blockM: 8, blockN: 16 } as const;

const u32 = (name: string): ParamSpec => ({ name, type: 'u32' });

const params: readonly ParamSpec[] = [
  ...['batch', 'c_in', 'in_h', 'in_w', 'c_out', 'out_h', 'out_w', 'k_h', 'k_w'].map(u32),
  ...['stride_h', 'stride_w', 'pad_h', 'pad_w', 'dil_h', 'dil_w', 'groups', 'k_split'].map(u32),
  { name: 'alpha', type: 'f32' },
];

const read = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read' });
const write = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read_write' });

const bindings: readonly BindingSpec[] = [
  read('x'),
  read('weight'),
  read('bias'),
  read('dy'),
  read('y'),
  write('out'),
  write('bias_out'),
];

const wgsl = withCommon(`${activations}\n${source}`);

const MODES = { forward: 0, gradInput: 1, gradWeight: 2 } as const;

function spec(name: string, mode: number, cpu: KernelSpec['cpu']): KernelSpec {
  return {
    name,
    wgsl,
    entry: 'conv2d',
    params,
    bindings,
    overrides: {
      mode,
      act: 0,
      has_bias: 0,
      wg_x: CONV_TILE.n / CONV_TILE.blockN,
      wg_y: CONV_TILE.m / CONV_TILE.blockM,
      tile_k: CONV_TILE.k,
    },
    cpu,
  };
}

/** The sizes of a launch, read back from its params (what both backends see). */
function sizes(p: Readonly<Record<string, number>>) {
  const groups = p.groups!;
  return {
    batch: p.batch!,
    cIn: p.c_in!,
    inH: p.in_h!,
    inW: p.in_w!,
    cOut: p.c_out!,
    outH: p.out_h!,
    outW: p.out_w!,
    kH: p.k_h!,
    kW: p.k_w!,
    sh: p.stride_h!,
    sw: p.stride_w!,
    ph: p.pad_h!,
    pw: p.pad_w!,
    dh: p.dil_h!,
    dw: p.dil_w!,
    groups,
    cinG: p.c_in! / groups,
    coutG: p.c_out! / groups,
    kSplit: p.k_split!,
    alpha: p.alpha!,
  };
}

/** dy ⊙ act'(y) rounded to f32 per element, as the shader's loads compute it. */
function gatedDy({ buffers, overrides, params: p }: CpuInvocation, n: number): Float32Array {
  const dy = buffers.dy!;
  const act = overrides.act ?? 0;
  if (act === 0) return dy.subarray(0, n) as Float32Array;
  const y = buffers.y!;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = dy[i]! * actGrad(act, y[i]!, p.alpha!);
  return out;
}

/**
 * Twin of mode 0: y = act(bias + W ⋆ x). Sums run in f64 and are rounded once, within the GPU's
 * f32 error; the bias is added to the rounded sum as the shader does.
 */
function forwardTwin(call: CpuInvocation): void {
  const s = sizes(call.params);
  const { buffers, overrides } = call;
  const x = buffers.x!;
  const w = buffers.weight!;
  const out = buffers.out!;
  const act = overrides.act ?? 0;
  const hasBias = overrides.has_bias === 1;
  const plane = s.outH * s.outW;
  const acc = new Float64Array(plane);
  for (let n = 0; n < s.batch; n++) {
    for (let co = 0; co < s.cOut; co++) {
      const g = Math.floor(co / s.coutG);
      acc.fill(0);
      for (let ci = 0; ci < s.cinG; ci++) {
        const xBase = (n * s.cIn + g * s.cinG + ci) * s.inH * s.inW;
        for (let i = 0; i < s.kH; i++) {
          for (let j = 0; j < s.kW; j++) {
            const wv = w[((co * s.cinG + ci) * s.kH + i) * s.kW + j]!;
            for (let oh = 0; oh < s.outH; oh++) {
              const ih = oh * s.sh - s.ph + i * s.dh;
              if (ih < 0 || ih >= s.inH) continue;
              for (let ow = 0; ow < s.outW; ow++) {
                const iw = ow * s.sw - s.pw + j * s.dw;
                if (iw >= 0 && iw < s.inW) acc[oh * s.outW + ow] += wv * x[xBase + ih * s.inW + iw]!;
              }
            }
          }
        }
      }
      const b = hasBias ? buffers.bias![co]! : 0;
      const yBase = (n * s.cOut + co) * plane;
      for (let q = 0; q < plane; q++) out[yBase + q] = actForward(act, Math.fround(Math.fround(acc[q]!) + b), s.alpha);
    }
  }
}

/** Twin of mode 1: dx = Wᵀ ⋆ dy_eff, each tap's contribution scattered back to its input pixel. */
function gradInputTwin(call: CpuInvocation): void {
  const s = sizes(call.params);
  const w = call.buffers.weight!;
  const out = call.buffers.out!;
  const dy = gatedDy(call, s.batch * s.cOut * s.outH * s.outW);
  const plane = s.inH * s.inW;
  const acc = new Float64Array(plane);
  for (let n = 0; n < s.batch; n++) {
    for (let c = 0; c < s.cIn; c++) {
      const g = Math.floor(c / s.cinG);
      const ci = c - g * s.cinG;
      acc.fill(0);
      for (let co = g * s.coutG; co < (g + 1) * s.coutG; co++) {
        const dyBase = (n * s.cOut + co) * s.outH * s.outW;
        for (let i = 0; i < s.kH; i++) {
          for (let j = 0; j < s.kW; j++) {
            const wv = w[((co * s.cinG + ci) * s.kH + i) * s.kW + j]!;
            for (let oh = 0; oh < s.outH; oh++) {
              const ih = oh * s.sh - s.ph + i * s.dh;
              if (ih < 0 || ih >= s.inH) continue;
              for (let ow = 0; ow < s.outW; ow++) {
                const iw = ow * s.sw - s.pw + j * s.dw;
                if (iw >= 0 && iw < s.inW) acc[ih * s.inW + iw] += wv * dy[dyBase + oh * s.outW + ow]!;
              }
            }
          }
        }
      }
      out.set(acc, (n * s.cIn + c) * plane);
    }
  }
}

/**
 * Twin of mode 2: dW = dy_eff ⋆ x summed over the batch, and db = Σ dy_eff per channel, one
 * partial sum per split of K = (n, oh, ow) at out[split · |dW|] and bias_out[split · c_out], as
 * the shader lays them out (a single split writes dW and db themselves).
 */
function gradWeightTwin(call: CpuInvocation): void {
  const s = sizes(call.params);
  const x = call.buffers.x!;
  const plane = s.outH * s.outW;
  const dy = gatedDy(call, s.batch * s.cOut * plane);
  const taps = s.kH * s.kW;
  const numel = s.cOut * s.cinG * taps;
  const splits = Math.ceil((s.batch * plane) / s.kSplit);
  const acc = new Float64Array(splits * numel);
  const db = new Float64Array(splits * s.cOut);
  for (let n = 0; n < s.batch; n++) {
    // Pixels [from, to) of image n lie in one split.
    for (let from = 0; from < plane; ) {
      const split = Math.floor((n * plane + from) / s.kSplit);
      const to = Math.min(plane, (split + 1) * s.kSplit - n * plane);
      for (let co = 0; co < s.cOut; co++) {
        const g = Math.floor(co / s.coutG);
        const dyBase = (n * s.cOut + co) * plane;
        for (let p = from; p < to; p++) db[split * s.cOut + co] += dy[dyBase + p]!;
        for (let ci = 0; ci < s.cinG; ci++) {
          const xBase = (n * s.cIn + g * s.cinG + ci) * s.inH * s.inW;
          for (let i = 0; i < s.kH; i++) {
            for (let j = 0; j < s.kW; j++) {
              let sum = 0;
              for (let p = from; p < to; p++) {
                const oh = Math.floor(p / s.outW);
                const ih = oh * s.sh - s.ph + i * s.dh;
                const iw = (p - oh * s.outW) * s.sw - s.pw + j * s.dw;
                if (ih >= 0 && ih < s.inH && iw >= 0 && iw < s.inW) sum += dy[dyBase + p]! * x[xBase + ih * s.inW + iw]!;
              }
              acc[split * numel + (co * s.cinG + ci) * taps + i * s.kW + j] += sum;
            }
          }
        }
      }
      from = to;
    }
  }
  call.buffers.out!.set(acc);
  if (call.overrides.has_bias === 1) call.buffers.bias_out!.set(db);
}

/** Twin of conv2d_sum_splits: the partial sums of the splits, added in split order. */
function sumSplitsTwin(call: CpuInvocation): void {
  const s = sizes(call.params);
  const numel = s.cOut * s.cinG * s.kH * s.kW;
  const splits = Math.ceil((s.batch * s.outH * s.outW) / s.kSplit);
  const add = (parts: ArrayLike<number>, out: { [i: number]: number }, n: number): void => {
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let p = 0; p < splits; p++) sum = Math.fround(sum + parts[p * n + i]!);
      out[i] = sum;
    }
  };
  add(call.buffers.parts!, call.buffers.out!, numel);
  if (call.overrides.has_bias === 1) add(call.buffers.bias_parts!, call.buffers.bias_out!, s.cOut);
}

/**
 * y[n, co, oh, ow] = act(bias[co] + Σ weight[co, ci, i, j] · x[n, g·cin_g + ci, oh·sh − ph + i·dh,
 * ow·sw − pw + j·dw]). Overrides: `act` (ACTIVATIONS code), `has_bias`, tile shape `wg_x`, `wg_y`,
 * `tile_k`. Launch it through `conv2dLaunch`.
 */
export const conv2d = spec('conv2d', MODES.forward, forwardTwin);

/** dx of the convolution from dy (gated by act'(y) when `act` is set). Launch: `conv2dGradInputLaunch`. */
export const conv2dGradInput = spec('conv2d_grad_input', MODES.gradInput, gradInputTwin);

/**
 * dweight (into `out`) and, with `has_bias`, dbias (into `bias_out`) from dy (gated by act'(y)
 * when `act` is set). Launch: `conv2dGradWeightLaunch`.
 */
export const conv2dGradWeight = spec('conv2d_grad_weight', MODES.gradWeight, gradWeightTwin);

/**
 * out = Σ_s parts[s · |dW| + i] and, with `has_bias`, bias_out = Σ_s bias_parts[s · c_out + co]:
 * the partial sums of a split weight gradient. Launch: `conv2dGradWeightLaunch`.
 */
export const conv2dSumSplits: KernelSpec = {
  name: 'conv2d_sum_splits',
  wgsl,
  entry: 'conv2d_sum_splits',
  params,
  bindings: [read('parts'), read('bias_parts'), write('out'), write('bias_out')],
  overrides: { has_bias: 0, wg: 256 },
  cpu: sumSplitsTwin,
};

export interface ConvEpilogue {
  /** Forward: applied after the bias. Backward: dy is multiplied by its derivative at y. */
  readonly act?: Activation;
  /** leaky_relu slope. Default 0.01 (torch's). */
  readonly alpha?: number;
}

/** Power-of-two invocations along one axis, as few as cover `size` within `tile`. */
function tileSpan(size: number, tile: number, block: number): number {
  let span = 1;
  while (span * block < Math.min(size, tile)) span *= 2;
  return span;
}

function check(geo: Conv2dGeometry, who: string): { outH: number; outW: number } {
  const ints: [string, number, number][] = [
    ['batch', geo.batch, 1],
    ['cIn', geo.cIn, 1],
    ['inH', geo.inH, 1],
    ['inW', geo.inW, 1],
    ['cOut', geo.cOut, 1],
    ['kH', geo.kH, 1],
    ['kW', geo.kW, 1],
    ['stride[0]', geo.stride[0], 1],
    ['stride[1]', geo.stride[1], 1],
    ['padding[0]', geo.padding[0], 0],
    ['padding[1]', geo.padding[1], 0],
    ['dilation[0]', geo.dilation[0], 1],
    ['dilation[1]', geo.dilation[1], 1],
    ['groups', geo.groups, 1],
  ];
  for (const [name, v, min] of ints) {
    if (!Number.isInteger(v) || v < min) throw new Error(`${who}: ${name} must be an integer >= ${min}, got ${v}`);
  }
  if (geo.cIn % geo.groups !== 0 || geo.cOut % geo.groups !== 0) {
    throw new Error(`${who}: groups=${geo.groups} must divide cIn=${geo.cIn} and cOut=${geo.cOut}`);
  }
  const outH = convOutputSize(geo.inH, geo.kH, geo.stride[0], geo.padding[0], geo.dilation[0]);
  const outW = convOutputSize(geo.inW, geo.kW, geo.stride[1], geo.padding[1], geo.dilation[1]);
  if (outH < 1 || outW < 1) throw new Error(`${who}: output size ${outH}x${outW} is empty`);
  return { outH, outW };
}

function convParams(geo: Conv2dGeometry, outH: number, outW: number, kSplit: number, alpha: number): Record<string, number> {
  return {
    batch: geo.batch,
    c_in: geo.cIn,
    in_h: geo.inH,
    in_w: geo.inW,
    c_out: geo.cOut,
    out_h: outH,
    out_w: outW,
    k_h: geo.kH,
    k_w: geo.kW,
    stride_h: geo.stride[0],
    stride_w: geo.stride[1],
    pad_h: geo.padding[0],
    pad_w: geo.padding[1],
    dil_h: geo.dilation[0],
    dil_w: geo.dilation[1],
    groups: geo.groups,
    k_split: kSplit,
    alpha,
  };
}

/** Overrides and grid of one product C[M, N] per group. */
function tiling(m: number, n: number, groups: number, who: string) {
  const wgX = tileSpan(n, CONV_TILE.n, CONV_TILE.blockN);
  const wgY = tileSpan(m, CONV_TILE.m, CONV_TILE.blockM);
  const workgroups: [number, number, number] = [Math.ceil(n / (wgX * CONV_TILE.blockN)), Math.ceil(m / (wgY * CONV_TILE.blockM)), groups];
  if (workgroups.some((v) => v > 65535)) throw new Error(`${who}: a ${m}x${n} product over ${groups} groups needs too many workgroups`);
  return { overrides: { wg_x: wgX, wg_y: wgY }, workgroups };
}

export interface Conv2dBindings {
  readonly x: BufferView;
  readonly weight: BufferView;
  /** Required when `hasBias`. */
  readonly bias?: BufferView;
  readonly y: BufferView;
}

/**
 * The forward launch. Bindings the variant ignores are still bound, as WebGPU requires: unused
 * read-only ones alias `weight`, the unused `bias_out` gets `dummyOut` (a small buffer no other
 * binding of the dispatch uses).
 */
export function conv2dLaunch(
  geo: Conv2dGeometry,
  b: Conv2dBindings,
  opts: ConvEpilogue & { readonly hasBias?: boolean },
  dummyOut: BufferView,
  label?: string,
): Launch {
  const who = label ?? 'conv2d';
  const { outH, outW } = check(geo, who);
  const hasBias = opts.hasBias === true;
  if (hasBias && !b.bias) throw new Error(`${who}: hasBias needs a 'bias' buffer`);
  const t = tiling(geo.cOut / geo.groups, geo.batch * outH * outW, geo.groups, who);
  return launch(conv2d, {
    bindings: { x: b.x, weight: b.weight, bias: b.bias ?? b.weight, dy: b.weight, y: b.weight, out: b.y, bias_out: dummyOut },
    params: convParams(geo, outH, outW, (geo.cIn / geo.groups) * geo.kH * geo.kW, opts.alpha ?? 0.01),
    overrides: { act: ACTIVATIONS[opts.act ?? 'identity'], has_bias: hasBias ? 1 : 0, ...t.overrides },
    workgroups: t.workgroups,
    needs: {
      x: geo.batch * geo.cIn * geo.inH * geo.inW,
      weight: geo.cOut * (geo.cIn / geo.groups) * geo.kH * geo.kW,
      ...(hasBias ? { bias: geo.cOut } : {}),
      out: geo.batch * geo.cOut * outH * outW,
    },
    label,
  });
}

export interface Conv2dGradInputBindings {
  readonly dy: BufferView;
  readonly weight: BufferView;
  /** The forward output, required when `act` is not identity. */
  readonly y?: BufferView;
  readonly dx: BufferView;
}

/** The input-gradient launch; unused bindings as in `conv2dLaunch`. */
export function conv2dGradInputLaunch(
  geo: Conv2dGeometry,
  b: Conv2dGradInputBindings,
  opts: ConvEpilogue,
  dummyOut: BufferView,
  label?: string,
): Launch {
  const who = label ?? 'conv2d_grad_input';
  const { outH, outW } = check(geo, who);
  const act = opts.act ?? 'identity';
  if (act !== 'identity' && !b.y) throw new Error(`${who}: act '${act}' needs the forward output 'y'`);
  const t = tiling(geo.cIn / geo.groups, geo.batch * geo.inH * geo.inW, geo.groups, who);
  const outputs = geo.batch * geo.cOut * outH * outW;
  return launch(conv2dGradInput, {
    bindings: { x: b.weight, weight: b.weight, bias: b.weight, dy: b.dy, y: b.y ?? b.dy, out: b.dx, bias_out: dummyOut },
    params: convParams(geo, outH, outW, (geo.cOut / geo.groups) * geo.kH * geo.kW, opts.alpha ?? 0.01),
    overrides: { act: ACTIVATIONS[act], ...t.overrides },
    workgroups: t.workgroups,
    needs: {
      dy: outputs,
      weight: geo.cOut * (geo.cIn / geo.groups) * geo.kH * geo.kW,
      ...(act !== 'identity' ? { y: outputs } : {}),
      out: geo.batch * geo.cIn * geo.inH * geo.inW,
    },
    label,
  });
}

/**
 * Splits of the weight gradient's depth K = batch · outH · outW: enough workgroups to fill a GPU
 * (about 256), each still walking at least 64 steps of K (so that the partial sums stay few
 * and cheap to add), at most 64 splits.
 */
export function weightGradSplits(geo: Conv2dGeometry): number {
  const { outH, outW } = check(geo, 'conv2d_grad_weight');
  const tiles = tiling(geo.cOut / geo.groups, (geo.cIn / geo.groups) * geo.kH * geo.kW, geo.groups, 'conv2d_grad_weight').workgroups;
  const steps = Math.ceil((geo.batch * outH * outW) / CONV_TILE.k);
  const want = Math.ceil(256 / (tiles[0] * tiles[1] * tiles[2]));
  return splitLayout(geo.batch * outH * outW, Math.max(1, Math.min(Math.floor(steps / 64), want, 64))).splits;
}

/** K cut into `splits` ranges of whole tile_k steps; fewer splits when the last would be empty. */
function splitLayout(depth: number, splits: number): { kSplit: number; splits: number } {
  const kSplit = Math.ceil(Math.ceil(depth / CONV_TILE.k) / splits) * CONV_TILE.k;
  return { kSplit, splits: Math.ceil(depth / kSplit) };
}

export interface Conv2dGradWeightBindings {
  readonly dy: BufferView;
  readonly x: BufferView;
  /** The forward output, required when `act` is not identity. */
  readonly y?: BufferView;
  readonly dweight: BufferView;
  /** Required when `hasBias`. */
  readonly dbias?: BufferView;
  /** Scratch for the partial sums when `splits` > 1: splits · |dweight| values. */
  readonly dweightParts?: BufferView;
  /** Scratch for the partial bias sums when `splits` > 1 and `hasBias`: splits · cOut values. */
  readonly dbiasParts?: BufferView;
}

/**
 * The weight-gradient launches (and bias gradient with `hasBias`): one, or with `splits` > 1 (see
 * `weightGradSplits`, the default) the split product into the scratch buffers and their sum.
 * Unused bindings as in `conv2dLaunch`.
 */
export function conv2dGradWeightLaunch(
  geo: Conv2dGeometry,
  b: Conv2dGradWeightBindings,
  opts: ConvEpilogue & { readonly hasBias?: boolean; readonly splits?: number },
  dummyOut: BufferView,
  label?: string,
): Launch[] {
  const who = label ?? 'conv2d_grad_weight';
  const { outH, outW } = check(geo, who);
  const act = opts.act ?? 'identity';
  const hasBias = opts.hasBias === true;
  if (act !== 'identity' && !b.y) throw new Error(`${who}: act '${act}' needs the forward output 'y'`);
  if (hasBias && !b.dbias) throw new Error(`${who}: hasBias needs a 'dbias' buffer`);
  const requested = opts.splits ?? weightGradSplits(geo);
  if (!Number.isInteger(requested) || requested < 1) throw new Error(`${who}: splits must be a positive integer, got ${requested}`);
  const depth = geo.batch * outH * outW;
  const { kSplit, splits } = splitLayout(depth, requested);
  const numel = geo.cOut * (geo.cIn / geo.groups) * geo.kH * geo.kW;
  const split = splits > 1;
  if (split && (!b.dweightParts || (hasBias && !b.dbiasParts))) throw new Error(`${who}: ${splits} splits need 'dweightParts'${hasBias ? " and 'dbiasParts'" : ''} buffers`);
  const t = tiling(geo.cOut / geo.groups, (geo.cIn / geo.groups) * geo.kH * geo.kW, geo.groups * splits, who);
  const params = convParams(geo, outH, outW, kSplit, opts.alpha ?? 0.01);
  const out = split ? b.dweightParts! : b.dweight;
  const biasOut = hasBias ? (split ? b.dbiasParts! : b.dbias!) : dummyOut;
  const product = launch(conv2dGradWeight, {
    bindings: { x: b.x, weight: b.x, bias: b.x, dy: b.dy, y: b.y ?? b.dy, out, bias_out: biasOut },
    params,
    overrides: { act: ACTIVATIONS[act], has_bias: hasBias ? 1 : 0, ...t.overrides },
    workgroups: t.workgroups,
    needs: {
      dy: geo.batch * geo.cOut * outH * outW,
      x: geo.batch * geo.cIn * geo.inH * geo.inW,
      ...(act !== 'identity' ? { y: geo.batch * geo.cOut * outH * outW } : {}),
      out: splits * numel,
      ...(hasBias ? { bias_out: splits * geo.cOut } : {}),
    },
    label,
  });
  if (!split) return [product];
  const sum = launch(conv2dSumSplits, {
    bindings: { parts: out, bias_parts: hasBias ? biasOut : out, out: b.dweight, bias_out: hasBias ? b.dbias! : dummyOut },
    params,
    overrides: { has_bias: hasBias ? 1 : 0 },
    threads: numel + (hasBias ? geo.cOut : 0),
    needs: { out: numel, ...(hasBias ? { bias_out: geo.cOut } : {}) },
    label,
  });
  return [product, sum];
}
