import source from '../../shaders/pool2d.wgsl';
import type { BindingSpec, BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { withCommon } from './source.js';

/**
 * Max, average and adaptive average pooling over channels-first planes, forward and backward
 * (shaders/pool2d.wgsl, where the window geometry is written out). Backward passes gather per
 * input element, and max pooling's backward recomputes each window's argmax from x instead of
 * storing indices: no atomics, deterministic, and nothing kept between the passes but x.
 */

export type PoolMode = 'max' | 'avg' | 'adaptive';

/**
 * Everything a pooling launch needs: `planes` = batch · channels of [h, w] inputs and [oh, ow]
 * outputs. The kernel fields (kh … dw) are ignored by adaptive pooling; average pooling has
 * dh = dw = 1.
 */
export interface Pool2dGeometry {
  readonly planes: number;
  readonly h: number;
  readonly w: number;
  readonly oh: number;
  readonly ow: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly dh: number;
  readonly dw: number;
}

const wgsl = withCommon(source);
const WG = 256;
const FIELDS = ['h', 'w', 'oh', 'ow', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw'] as const;
const params: readonly ParamSpec[] = [{ name: 'count', type: 'u32' }, ...FIELDS.map((name) => ({ name, type: 'u32' as const }))];

const read = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read' });
const write = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read_write' });

type P = Readonly<Record<string, number>>;
const f32 = Math.fround;

function spec(entry: string, bindings: BindingSpec[], cpu: KernelSpec['cpu'], overrides: Record<string, number> = {}): KernelSpec {
  return { name: entry, wgsl, entry, params, bindings, overrides: { wg: WG, ...overrides }, cpu };
}

// ---- CPU twins: the loops of the WGSL, in the same order, rounding every sum to float32 ----

/** Index within its plane of the maximum of window (oy, ox); -1 when every tap is padding. */
function windowArgmax(x: Float32Array, base: number, oy: number, ox: number, p: P): number {
  const y0 = oy * p.sh! - p.ph!;
  const x0 = ox * p.sw! - p.pw!;
  let best = 0;
  let arg = -1;
  for (let ky = 0; ky < p.kh!; ky++) {
    const iy = y0 + ky * p.dh!;
    if (iy < 0 || iy >= p.h!) continue;
    for (let kx = 0; kx < p.kw!; kx++) {
      const ix = x0 + kx * p.dw!;
      if (ix < 0 || ix >= p.w!) continue;
      const at = iy * p.w! + ix;
      const v = x[base + at]!;
      if (arg < 0 || v > best) {
        best = v;
        arg = at;
      }
    }
  }
  return arg;
}

interface AvgWindow {
  y0: number;
  y1: number;
  x0: number;
  x1: number;
  divisor: number;
}

function avgWindow(oy: number, ox: number, p: P, countIncludePad: boolean): AvgWindow {
  const ya = oy * p.sh! - p.ph!;
  const xa = ox * p.sw! - p.pw!;
  const yb = Math.min(ya + p.kh!, p.h! + p.ph!);
  const xb = Math.min(xa + p.kw!, p.w! + p.pw!);
  const y0 = Math.max(ya, 0);
  const x0 = Math.max(xa, 0);
  const y1 = Math.min(yb, p.h!);
  const x1 = Math.min(xb, p.w!);
  const inside = Math.max(y1 - y0, 0) * Math.max(x1 - x0, 0);
  return { y0, y1, x0, x1, divisor: countIncludePad ? (yb - ya) * (xb - xa) : inside };
}

const startIndex = (o: number, nIn: number, nOut: number): number => Math.floor((o * nIn) / nOut);
const endIndex = (o: number, nIn: number, nOut: number): number => Math.floor(((o + 1) * nIn + nOut - 1) / nOut);

function adaptiveDivisor(oy: number, ox: number, p: P): number {
  const rows = endIndex(oy, p.h!, p.oh!) - startIndex(oy, p.h!, p.oh!);
  const cols = endIndex(ox, p.w!, p.ow!) - startIndex(ox, p.w!, p.ow!);
  return rows * cols;
}

/** The output window along one axis with kernel tap k at input index i, or -1. */
function windowOfTap(i: number, k: number, pad: number, stride: number, dilation: number, nOut: number): number {
  const t = i + pad - k * dilation;
  if (t < 0 || t % stride !== 0) return -1;
  const o = t / stride;
  return o < nOut ? o : -1;
}

function maxPool2dTwin({ buffers, params: p }: CpuInvocation): void {
  const x = buffers.x as Float32Array;
  const y = buffers.y as Float32Array;
  const outs = p.oh! * p.ow!;
  for (let i = 0; i < p.count!; i++) {
    const o = i % outs;
    const base = Math.floor(i / outs) * p.h! * p.w!;
    const arg = windowArgmax(x, base, Math.floor(o / p.ow!), o % p.ow!, p);
    y[i] = arg < 0 ? -Infinity : x[base + arg]!;
  }
}

function avgPool2dTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const x = buffers.x as Float32Array;
  const y = buffers.y as Float32Array;
  const outs = p.oh! * p.ow!;
  for (let i = 0; i < p.count!; i++) {
    const o = i % outs;
    const base = Math.floor(i / outs) * p.h! * p.w!;
    const win = avgWindow(Math.floor(o / p.ow!), o % p.ow!, p, overrides.count_include_pad !== 0);
    let sum = 0;
    for (let iy = win.y0; iy < win.y1; iy++) {
      for (let ix = win.x0; ix < win.x1; ix++) sum = f32(sum + x[base + iy * p.w! + ix]!);
    }
    y[i] = win.y0 < win.y1 && win.x0 < win.x1 ? sum / win.divisor : 0;
  }
}

function adaptiveAvgPool2dTwin({ buffers, params: p }: CpuInvocation): void {
  const x = buffers.x as Float32Array;
  const y = buffers.y as Float32Array;
  const outs = p.oh! * p.ow!;
  for (let i = 0; i < p.count!; i++) {
    const o = i % outs;
    const oy = Math.floor(o / p.ow!);
    const ox = o % p.ow!;
    const base = Math.floor(i / outs) * p.h! * p.w!;
    let sum = 0;
    for (let iy = startIndex(oy, p.h!, p.oh!); iy < endIndex(oy, p.h!, p.oh!); iy++) {
      for (let ix = startIndex(ox, p.w!, p.ow!); ix < endIndex(ox, p.w!, p.ow!); ix++) sum = f32(sum + x[base + iy * p.w! + ix]!);
    }
    y[i] = sum / adaptiveDivisor(oy, ox, p);
  }
}

/** Calls `each(plane, iy, ix)` for input element i of every backward invocation. */
function forEachInput(p: P, each: (i: number, plane: number, iy: number, ix: number) => void): void {
  const ins = p.h! * p.w!;
  for (let i = 0; i < p.count!; i++) {
    const at = i % ins;
    each(i, Math.floor(i / ins), Math.floor(at / p.w!), at % p.w!);
  }
}

function maxPool2dGradTwin({ buffers, params: p }: CpuInvocation): void {
  const x = buffers.x as Float32Array;
  const dy = buffers.dy as Float32Array;
  const dx = buffers.dx as Float32Array;
  const ins = p.h! * p.w!;
  forEachInput(p, (i, plane, iy, ix) => {
    let sum = 0;
    for (let ky = 0; ky < p.kh!; ky++) {
      const oy = windowOfTap(iy, ky, p.ph!, p.sh!, p.dh!, p.oh!);
      if (oy < 0) continue;
      for (let kx = 0; kx < p.kw!; kx++) {
        const ox = windowOfTap(ix, kx, p.pw!, p.sw!, p.dw!, p.ow!);
        if (ox < 0) continue;
        if (windowArgmax(x, plane * ins, oy, ox, p) === iy * p.w! + ix) sum = f32(sum + dy[(plane * p.oh! + oy) * p.ow! + ox]!);
      }
    }
    dx[i] = sum;
  });
}

function avgPool2dGradTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const dy = buffers.dy as Float32Array;
  const dx = buffers.dx as Float32Array;
  const includePad = overrides.count_include_pad !== 0;
  forEachInput(p, (i, plane, iy, ix) => {
    let sum = 0;
    for (let ky = 0; ky < p.kh!; ky++) {
      const oy = windowOfTap(iy, ky, p.ph!, p.sh!, 1, p.oh!);
      if (oy < 0) continue;
      for (let kx = 0; kx < p.kw!; kx++) {
        const ox = windowOfTap(ix, kx, p.pw!, p.sw!, 1, p.ow!);
        if (ox < 0) continue;
        const { divisor } = avgWindow(oy, ox, p, includePad);
        sum = f32(sum + f32(dy[(plane * p.oh! + oy) * p.ow! + ox]! / divisor));
      }
    }
    dx[i] = sum;
  });
}

function adaptiveAvgPool2dGradTwin({ buffers, params: p }: CpuInvocation): void {
  const dy = buffers.dy as Float32Array;
  const dx = buffers.dx as Float32Array;
  forEachInput(p, (i, plane, iy, ix) => {
    let sum = 0;
    for (let oy = startIndex(iy, p.oh!, p.h!); oy < endIndex(iy, p.oh!, p.h!); oy++) {
      for (let ox = startIndex(ix, p.ow!, p.w!); ox < endIndex(ix, p.ow!, p.w!); ox++) {
        sum = f32(sum + f32(dy[(plane * p.oh! + oy) * p.ow! + ox]! / adaptiveDivisor(oy, ox, p)));
      }
    }
    dx[i] = sum;
  });
}

// ---- Kernels ----

/** y = max over each window (ties: first in row-major order; -inf for an all-padding window). */
export const maxPool2d = spec('max_pool2d', [read('x'), write('y')], maxPool2dTwin);
/** y = mean over each window's taps, the divisor set by the `count_include_pad` override. */
export const avgPool2d = spec('avg_pool2d', [read('x'), write('y')], avgPool2dTwin, { count_include_pad: 1 });
/** y = mean over torch's adaptive windows [floor(o·in/out), ceil((o+1)·in/out)). */
export const adaptiveAvgPool2d = spec('adaptive_avg_pool2d', [read('x'), write('y')], adaptiveAvgPool2dTwin);
/** dx = Σ dy over the windows whose argmax (recomputed from x) is the element. */
export const maxPool2dGrad = spec('max_pool2d_grad', [read('x'), read('dy'), write('dx')], maxPool2dGradTwin);
/** dx = Σ dy / divisor over the windows with a tap at the element. */
export const avgPool2dGrad = spec('avg_pool2d_grad', [read('dy'), write('dx')], avgPool2dGradTwin, { count_include_pad: 1 });
/** dx = Σ dy / window size over the adaptive windows holding the element. */
export const adaptiveAvgPool2dGrad = spec('adaptive_avg_pool2d_grad', [read('dy'), write('dx')], adaptiveAvgPool2dGradTwin);

const FORWARD: Record<PoolMode, KernelSpec> = { max: maxPool2d, avg: avgPool2d, adaptive: adaptiveAvgPool2d };
const BACKWARD: Record<PoolMode, KernelSpec> = { max: maxPool2dGrad, avg: avgPool2dGrad, adaptive: adaptiveAvgPool2dGrad };

// ---- Launch helpers ----

function paramsOf(geom: Pool2dGeometry, count: number): Record<string, number> {
  const out: Record<string, number> = { count };
  for (const f of FIELDS) out[f] = geom[f];
  return out;
}

function overridesOf(mode: PoolMode, countIncludePad: boolean): Record<string, number> | undefined {
  return mode === 'avg' ? { count_include_pad: countIncludePad ? 1 : 0 } : undefined;
}

export interface PoolLaunchOptions {
  /** Average pooling's divisor: taps in the padded input (true, torch's default) or in the input. */
  readonly countIncludePad?: boolean;
  readonly label?: string;
}

/** y [planes, oh, ow] = pool(x [planes, h, w]). */
export function pool2dLaunch(
  mode: PoolMode,
  geom: Pool2dGeometry,
  bindings: { x: BufferView; y: BufferView },
  { countIncludePad = true, label }: PoolLaunchOptions = {},
): Launch {
  const count = geom.planes * geom.oh * geom.ow;
  const overrides = overridesOf(mode, countIncludePad);
  return launch(FORWARD[mode], {
    bindings,
    params: paramsOf(geom, count),
    ...(overrides ? { overrides } : {}),
    threads: count,
    needs: { x: geom.planes * geom.h * geom.w, y: count },
    ...(label !== undefined ? { label } : {}),
  });
}

/** dx [planes, h, w] from dy [planes, oh, ow]; max pooling also reads x to find each argmax. */
export function pool2dGradLaunch(
  mode: PoolMode,
  geom: Pool2dGeometry,
  bindings: { x?: BufferView; dy: BufferView; dx: BufferView },
  { countIncludePad = true, label }: PoolLaunchOptions = {},
): Launch {
  const count = geom.planes * geom.h * geom.w;
  if (mode === 'max' && !bindings.x) throw new Error(`${label ?? 'max_pool2d_grad'}: max pooling's backward needs x`);
  const needs: Record<string, number> = { dy: geom.planes * geom.oh * geom.ow, dx: count };
  if (mode === 'max') needs.x = count;
  const given: Record<string, BufferView> = mode === 'max' ? { x: bindings.x!, dy: bindings.dy, dx: bindings.dx } : { dy: bindings.dy, dx: bindings.dx };
  const overrides = overridesOf(mode, countIncludePad);
  return launch(BACKWARD[mode], {
    bindings: given,
    params: paramsOf(geom, count),
    ...(overrides ? { overrides } : {}),
    threads: count,
    needs,
    ...(label !== undefined ? { label } : {}),
  });
}
