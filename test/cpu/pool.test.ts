/**
 * Pooling on the CPU backend: the twins against naive references written here (windows listed
 * tap by tap, gradients scattered per window, unlike the kernels' gathers), finite-difference
 * checks of each op, torch 1.13 values and input gradients (test/fixtures/pool.json, made by
 * gen_pool.py), and the validation of every option.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { type BufferView, type DeviceBuffer, view } from '../../src/backend/kernel.js';
import { gradients } from '../../src/graph/autodiff.js';
import { compileGraph } from '../../src/graph/compile.js';
import { MSE } from '../../src/graph/ops/loss.js';
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
} from '../../src/graph/ops/pool.js';
import { Parameter } from '../../src/graph/parameter.js';
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import { type Pool2dGeometry, pool2dGradLaunch, pool2dLaunch, type PoolMode } from '../../src/kernels/pool2d.js';
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from '../../src/nn/pool.js';
import fixture from '../fixtures/pool.json';
import { cpuBackend, expectAllClose, randomArray, rng, runKernel } from '../harness.js';
import { expectGradientsMatch } from '../op-check.js';

// ---- Naive references ----

interface RefConfig {
  readonly mode: PoolMode;
  readonly planes: number;
  readonly h: number;
  readonly w: number;
  /** Kernel, stride, padding, dilation as [rows, columns] (unused by adaptive). */
  readonly k?: [number, number];
  readonly s?: [number, number];
  readonly p?: [number, number];
  readonly d?: [number, number];
  readonly ceil?: boolean;
  readonly includePad?: boolean;
  /** Adaptive output size. */
  readonly out?: [number, number];
}

/** torch's output length, written from its documentation's formula. */
function outLen(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const exact = (n + 2 * p - d * (k - 1) - 1) / s;
  let o = (ceil ? Math.ceil(exact) : Math.floor(exact)) + 1;
  // The last window must start inside the input or its left padding.
  if (ceil && (o - 1) * s >= n + p) o -= 1;
  return o;
}

function outShape(c: RefConfig): [number, number] {
  if (c.mode === 'adaptive') return c.out!;
  const [k, s, p, d] = [c.k!, c.s ?? c.k!, c.p ?? [0, 0], c.d ?? [1, 1]];
  return [outLen(c.h, k[0], s[0], p[0], d[0], !!c.ceil), outLen(c.w, k[1], s[1], p[1], d[1], !!c.ceil)];
}

interface Tap {
  readonly y: number;
  readonly x: number;
  /** Inside [-p, n + p) on both axes. */
  readonly padded: boolean;
  readonly inside: boolean;
}

/** The taps of output window (oy, ox), in row-major window order. */
function taps(c: RefConfig, oy: number, ox: number): Tap[] {
  const list: Tap[] = [];
  if (c.mode === 'adaptive') {
    const [oh, ow] = c.out!;
    for (let y = Math.floor((oy * c.h) / oh); y < Math.ceil(((oy + 1) * c.h) / oh); y++) {
      for (let x = Math.floor((ox * c.w) / ow); x < Math.ceil(((ox + 1) * c.w) / ow); x++) list.push({ y, x, padded: true, inside: true });
    }
    return list;
  }
  const [k, s, p, d] = [c.k!, c.s ?? c.k!, c.p ?? [0, 0], c.d ?? [1, 1]];
  for (let ky = 0; ky < k[0]; ky++) {
    for (let kx = 0; kx < k[1]; kx++) {
      const y = oy * s[0] - p[0] + ky * d[0];
      const x = ox * s[1] - p[1] + kx * d[1];
      const padded = y >= -p[0] && y < c.h + p[0] && x >= -p[1] && x < c.w + p[1];
      list.push({ y, x, padded, inside: y >= 0 && y < c.h && x >= 0 && x < c.w });
    }
  }
  return list;
}

/** Output values and, given dy, the input gradient scattered window by window (in float64). */
function reference(c: RefConfig, x: Float32Array, dy?: Float32Array): { y: Float64Array; dx: Float64Array } {
  const [oh, ow] = outShape(c);
  const y = new Float64Array(c.planes * oh * ow);
  const dx = new Float64Array(x.length);
  for (let pl = 0; pl < c.planes; pl++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const o = (pl * oh + oy) * ow + ox;
        const at = (t: Tap) => (pl * c.h + t.y) * c.w + t.x;
        const inside = taps(c, oy, ox).filter((t) => t.inside);
        if (c.mode === 'max') {
          // Padding is -inf; the first of equal maxima wins.
          let best: Tap | null = null;
          for (const t of inside) if (best === null || x[at(t)]! > x[at(best)]!) best = t;
          y[o] = best ? x[at(best)]! : -Infinity;
          if (best && dy) dx[at(best)] += dy[o]!;
        } else {
          const all = taps(c, oy, ox);
          const divisor = c.mode === 'avg' && c.includePad !== false ? all.filter((t) => t.padded).length : inside.length;
          y[o] = inside.length === 0 ? 0 : inside.reduce((a, t) => a + x[at(t)]!, 0) / divisor;
          if (dy) for (const t of inside) dx[at(t)] += dy[o]! / divisor;
        }
      }
    }
  }
  return { y, dx };
}

// ---- Kernels: twins against the references ----

const fake = (n: number): BufferView => view({ id: 0, byteLength: Math.max(4, n * 4), label: 'fake' } as DeviceBuffer, 0, n);

function geometryOf(c: RefConfig): Pool2dGeometry {
  const [oh, ow] = outShape(c);
  const k = c.k ?? [1, 1];
  const s = c.s ?? k;
  const p = c.p ?? [0, 0];
  const d = c.d ?? [1, 1];
  return { planes: c.planes, h: c.h, w: c.w, oh, ow, kh: k[0], kw: k[1], sh: s[0], sw: s[1], ph: p[0], pw: p[1], dh: d[0], dw: d[1] };
}

/** Runs the forward and backward kernels of `c` on `backend`, outputs poisoned first. */
async function runPoolKernels(backend: Backend, c: RefConfig, x: Float32Array, dy: Float32Array) {
  const g = geometryOf(c);
  const opts = { countIncludePad: c.includePad !== false };
  const fwd = pool2dLaunch(c.mode, g, { x: fake(x.length), y: fake(dy.length) }, opts);
  const bwd = pool2dGradLaunch(c.mode, g, { x: fake(x.length), dy: fake(dy.length), dx: fake(x.length) }, opts);
  const common = (l: typeof fwd) => ({ params: l.params!, overrides: l.overrides ?? {}, workgroups: l.workgroups });
  const y = (await runKernel(backend, fwd.kernel, { inputs: { x }, outputs: { y: dy.length }, ...common(fwd) })).y as Float32Array;
  const inputs: Record<string, Float32Array> = c.mode === 'max' ? { x, dy } : { dy };
  const dx = (await runKernel(backend, bwd.kernel, { inputs, outputs: { dx: x.length }, ...common(bwd) })).dx as Float32Array;
  return { y, dx };
}

/** Values with no two closer than `gap`: a permutation, scaled. */
function distinct(n: number, seed: number, gap = 0.05): Float32Array {
  const next = rng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return Float32Array.from(order, (v) => (v - n / 2) * gap);
}

const KERNEL_CASES: [string, RefConfig][] = [
  ['max 2x2', { mode: 'max', planes: 3, h: 6, w: 7, k: [2, 2] }],
  ['max 3x3 stride 2 padding 1', { mode: 'max', planes: 2, h: 9, w: 7, k: [3, 3], s: [2, 2], p: [1, 1] }],
  ['max 3x2 stride (1, 2) padding (1, 0)', { mode: 'max', planes: 5, h: 7, w: 6, k: [3, 2], s: [1, 2], p: [1, 0] }],
  ['max 3x3 dilation (2, 3) padding 1', { mode: 'max', planes: 2, h: 11, w: 13, k: [3, 3], s: [2, 1], p: [1, 1], d: [2, 3] }],
  ['max 3x3 stride 2 ceil', { mode: 'max', planes: 2, h: 8, w: 10, k: [3, 3], s: [2, 2], p: [1, 0], ceil: true }],
  ['max 2x2 stride 1 (overlap)', { mode: 'max', planes: 1, h: 5, w: 6, k: [2, 2], s: [1, 1] }],
  ['max all-padding window', { mode: 'max', planes: 1, h: 2, w: 2, k: [2, 2], s: [1, 1], p: [1, 1], d: [3, 3] }],
  ['avg 2x2', { mode: 'avg', planes: 3, h: 6, w: 7, k: [2, 2] }],
  ['avg 3x3 stride 2 padding 1', { mode: 'avg', planes: 2, h: 9, w: 7, k: [3, 3], s: [2, 2], p: [1, 1] }],
  ['avg 3x3 stride 2 padding 1 excluding pad', { mode: 'avg', planes: 2, h: 9, w: 7, k: [3, 3], s: [2, 2], p: [1, 1], includePad: false }],
  ['avg 3x3 stride 2 padding 1 ceil', { mode: 'avg', planes: 2, h: 8, w: 8, k: [3, 3], s: [2, 2], p: [1, 1], ceil: true }],
  ['avg 3x3 stride 2 ceil excluding pad', { mode: 'avg', planes: 2, h: 8, w: 10, k: [3, 3], s: [2, 2], p: [1, 1], ceil: true, includePad: false }],
  ['avg 2x3 stride (1, 2) padding (1, 1)', { mode: 'avg', planes: 3, h: 5, w: 7, k: [2, 3], s: [1, 2], p: [1, 1] }],
  ['adaptive 7x7 to 3x3', { mode: 'adaptive', planes: 2, h: 7, w: 7, out: [3, 3] }],
  ['adaptive 7x10 to 3x4', { mode: 'adaptive', planes: 3, h: 7, w: 10, out: [3, 4] }],
  ['adaptive 3x5 to 4x7 (upsampling)', { mode: 'adaptive', planes: 2, h: 3, w: 5, out: [4, 7] }],
  ['adaptive global', { mode: 'adaptive', planes: 5, h: 5, w: 3, out: [1, 1] }],
];

describe('pooling twins equal the naive references', () => {
  it.each(KERNEL_CASES)('%s', async (_name, c) => {
    const [oh, ow] = outShape(c);
    const x = c.mode === 'max' ? distinct(c.planes * c.h * c.w, 3) : randomArray(c.planes * c.h * c.w, -2, 2, 3);
    const dy = randomArray(c.planes * oh * ow, -1, 1, 4);
    const ref = reference(c, x, dy);
    const got = await runPoolKernels(cpuBackend(), c, x, dy);
    expectAllClose(got.y, ref.y, { label: 'y' });
    expectAllClose(got.dx, ref.dx, { label: 'dx' });
  });

  it('max pooling sends a tied window gradient to its first maximum in row-major order', async () => {
    const c: RefConfig = { mode: 'max', planes: 1, h: 2, w: 2, k: [2, 2] };
    const got = await runPoolKernels(cpuBackend(), c, new Float32Array([1, 3, 3, 3]), new Float32Array([5]));
    expect([...got.y]).toEqual([3]);
    expect([...got.dx]).toEqual([0, 5, 0, 0]);
  });

  it('a max window made only of padding gives -inf and no gradient, as torch', async () => {
    // torch 1.13: F.max_pool2d(torch.ones(1, 1, 2, 2), 2, stride=1, padding=1, dilation=3) = [[[[-inf]]]], grad 0.
    const c: RefConfig = { mode: 'max', planes: 1, h: 2, w: 2, k: [2, 2], s: [1, 1], p: [1, 1], d: [3, 3] };
    const got = await runPoolKernels(cpuBackend(), c, new Float32Array([1, 1, 1, 1]), new Float32Array([1]));
    expect([...got.y]).toEqual([-Infinity]);
    expect([...got.dx]).toEqual([0, 0, 0, 0]);
  });
});

// ---- Ops: finite differences ----

describe('pooling gradients match finite differences', () => {
  const x = (shape: number[], seed: number) => ({ shape, data: distinct(shape.reduce((a, b) => a * b, 1), seed) });

  it.each<[string, Size2, MaxPool2dOptions]>([
    ['2', 2, {}],
    ['3, stride 2, padding 1', 3, { stride: 2, padding: 1 }],
    ['(3, 2), stride 1, dilation (1, 2), ceil', [3, 2], { stride: 1, dilation: [1, 2], ceilMode: true }],
  ])('maxPool2d %s', async (_n, k, opts) => {
    await expectGradientsMatch((t) => maxPool2d(t, k, opts), [x([2, 2, 5, 5], 11)]);
  });

  it.each<[string, Size2, AvgPool2dOptions]>([
    ['2', 2, {}],
    ['3, stride 2, padding 1', 3, { stride: 2, padding: 1 }],
    ['3, stride 2, padding 1, excluding pad, ceil', 3, { stride: 2, padding: 1, countIncludePad: false, ceilMode: true }],
  ])('avgPool2d %s', async (_n, k, opts) => {
    await expectGradientsMatch((t) => avgPool2d(t, k, opts), [{ shape: [2, 2, 6, 5] }]);
  });

  it.each<[string, Size2, number[]]>([
    ['7x5 to 3', 3, [1, 2, 7, 5]],
    ['3x4 to (5, 2)', [5, 2], [2, 1, 3, 4]],
    ['unbatched [C, H, W] to 1', 1, [3, 4, 4]],
  ])('adaptiveAvgPool2d %s', async (_n, size, shape) => {
    await expectGradientsMatch((t) => adaptiveAvgPool2d(t, size), [{ shape }]);
  });
});

// ---- Ops: torch fixtures ----

interface PoolCase {
  name: string;
  kind: PoolMode;
  shape: number[];
  arg: Size2;
  options: MaxPool2dOptions & AvgPool2dOptions;
  x: number[];
  outShape: number[];
  y: number[];
  target: number[];
  dx: number[];
}

/** y = build(x) and d mse(y, target) / dx through the compiled graph: what gen_pool.py records. */
async function runWithMse(backend: Backend, build: (x: Tensor) => Tensor, shape: number[], x: Float32Array, target: Float32Array) {
  const g = new Graph();
  const xt = g.param(new Parameter(Float32Array.from(x), shape, 'x'));
  const y = build(xt);
  const tt = g.input('target', y.shape);
  const loss = g.apply(MSE, [y, tt], {}, 'loss')[0]!;
  const [dx] = gradients(g, loss, [xt]);
  const made: DeviceBuffer[] = [];
  const bind = (data: Float32Array): BufferView => {
    const b = backend.createBuffer(data.byteLength, 'fixture');
    backend.write(b, data);
    made.push(b);
    return view(b);
  };
  const bound = new Map([
    [xt, bind(x)],
    [tt, bind(target)],
  ]);
  const compiled = compileGraph(backend, { graph: g, bound, outputs: [y, dx!], label: 'pool-fixture', poison: true });
  const program = backend.compile(compiled.launches, 'pool-fixture');
  backend.run(program);
  const read = async (t: Tensor) => {
    const v = compiled.views.get(t)!;
    return new Float32Array(await backend.read(v.buffer, v.offset * 4, t.numel * 4));
  };
  const out = { shape: y.shape, y: await read(y), dx: await read(dx!) };
  program.dispose();
  compiled.dispose();
  for (const b of made) backend.destroyBuffer(b);
  return out;
}

describe('pooling equals torch 1.13 (values and input gradients)', () => {
  it.each((fixture.pools as PoolCase[]).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const build = (t: Tensor): Tensor =>
      c.kind === 'max' ? maxPool2d(t, c.arg, c.options) : c.kind === 'avg' ? avgPool2d(t, c.arg, c.options) : adaptiveAvgPool2d(t, c.arg);
    const got = await runWithMse(cpuBackend(), build, c.shape, Float32Array.from(c.x), Float32Array.from(c.target));
    expect(got.shape).toEqual(c.outShape);
    expectAllClose(got.y, c.y, { rtol: 1e-5, atol: 1e-6, label: 'y' });
    expectAllClose(got.dx, c.dx, { rtol: 1e-4, atol: 1e-7, label: 'dx' });
  });
});

// ---- Options, errors, modules ----

describe('pooling options are validated with torch-like messages', () => {
  it.each<[string, () => unknown, RegExp]>([
    ['kernel 0', () => maxPool2dAttrs(0), /MaxPool2d\(kernel_size=0.*kernel_size must be a positive integer or a pair of them, got 0/],
    ['kernel 1.5', () => avgPool2dAttrs(1.5), /AvgPool2d.*kernel_size must be a positive integer/],
    ['kernel of three', () => maxPool2dAttrs([2, 2, 2] as unknown as Size2), /kernel_size must be .*got \[2, 2, 2\]/],
    ['stride 0', () => maxPool2dAttrs(2, { stride: 0 }), /stride must be a positive integer/],
    ['negative padding', () => avgPool2dAttrs(3, { padding: -1 }), /padding must be a non-negative integer/],
    ['padding above half the kernel', () => maxPool2dAttrs(3, { padding: 2 }), /MaxPool2d.*padding must be at most half of kernel_size, got padding=2 with kernel_size=3/],
    ['padding above half, one axis', () => avgPool2dAttrs([4, 2], { padding: [2, 2] }), /padding must be at most half of kernel_size, got padding=\(2, 2\) with kernel_size=\(4, 2\)/],
    ['dilation 0', () => maxPool2dAttrs(2, { dilation: 0 }), /dilation must be a positive integer/],
    ['ceilMode not a boolean', () => maxPool2dAttrs(2, { ceilMode: 1 as unknown as boolean }), /ceilMode must be true or false, got 1/],
    ['countIncludePad not a boolean', () => avgPool2dAttrs(2, { countIncludePad: 'no' as unknown as boolean }), /countIncludePad must be true or false/],
    ['avg with dilation', () => avgPool2dAttrs(2, { dilation: 2 } as AvgPool2dOptions), /AvgPool2d.*no dilation/],
    ['adaptive size 0', () => adaptiveAvgPool2dAttrs(0), /AdaptiveAvgPool2d\(output_size=0\): output_size must be a positive integer/],
    ['adaptive size of one', () => adaptiveAvgPool2dAttrs([3] as unknown as Size2), /output_size must be/],
    ['module MaxPool2d', () => new MaxPool2d(3, { padding: 2 }), /padding must be at most half/],
    ['module AvgPool2d', () => new AvgPool2d(2, { stride: -1 }), /AvgPool2d.*stride must be a positive integer/],
    ['module AdaptiveAvgPool2d', () => new AdaptiveAvgPool2d([2, 0]), /AdaptiveAvgPool2d\(output_size=\(2, 0\)\)/],
  ])('%s', (_name, make, message) => {
    expect(make).toThrow(message);
  });

  it('names the layer and the shapes for a wrong input', () => {
    const g = new Graph();
    const flat = g.input('x', [4, 5]);
    expect(() => new MaxPool2d(2).forward(flat)).toThrow(
      /MaxPool2d\(kernel_size=2, stride=2, padding=0\): MaxPool2d\(kernel_size=2, stride=2, padding=0\) expects a float input \[batch, channels, H, W\] or \[channels, H, W\], got f32 \[4, 5\]/,
    );
    expect(() => avgPool2d(g.input('ids', [1, 1, 4, 4], 'i32'), 2)).toThrow(/AvgPool2d.*got i32 \[1, 1, 4, 4\]/);
    expect(() => maxPool2d(g.input('small', [1, 1, 2, 2]), 3)).toThrow(/MaxPool2d\(kernel_size=3.*input \[1, 1, 2, 2\]: output size 0x0 is too small/);
  });

  it('gives torch output shapes, batched and unbatched', () => {
    const g = new Graph();
    expect(maxPool2d(g.input('a', [2, 3, 28, 28]), 2).shape).toEqual([2, 3, 14, 14]);
    expect(maxPool2d(g.input('b', [3, 7, 7]), 2).shape).toEqual([3, 3, 3]);
    expect(maxPool2d(g.input('c', [1, 1, 7, 7]), 2, { ceilMode: true }).shape).toEqual([1, 1, 4, 4]);
    expect(avgPool2d(g.input('d', [1, 1, 8, 8]), 3, { stride: 2, padding: 1, ceilMode: true }).shape).toEqual([1, 1, 5, 5]);
    expect(adaptiveAvgPool2d(g.input('e', [2, 4, 9, 9]), [2, 5]).shape).toEqual([2, 4, 2, 5]);
  });
});

describe('pooling modules', () => {
  it('describe themselves as torch prints them and hold no parameters', () => {
    expect(new MaxPool2d(2).describe()).toBe('MaxPool2d(kernel_size=2, stride=2, padding=0)');
    expect(new MaxPool2d([3, 2], { stride: [1, 2], padding: [1, 0] }).describe()).toBe('MaxPool2d(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0))');
    expect(new MaxPool2d(3, { stride: 2, dilation: 2, ceilMode: true }).describe()).toBe(
      'MaxPool2d(kernel_size=3, stride=2, padding=0, dilation=2, ceil_mode=true)',
    );
    expect(new AvgPool2d(3, { stride: 2, padding: 1 }).describe()).toBe('AvgPool2d(kernel_size=3, stride=2, padding=1)');
    expect(new AvgPool2d(2, { countIncludePad: false }).describe()).toBe('AvgPool2d(kernel_size=2, stride=2, padding=0, count_include_pad=false)');
    expect(new AdaptiveAvgPool2d(1).describe()).toBe('AdaptiveAvgPool2d(output_size=1)');
    expect(new AdaptiveAvgPool2d([3, 4]).describe()).toBe('AdaptiveAvgPool2d(output_size=(3, 4))');
    for (const m of [new MaxPool2d(2), new AvgPool2d(2), new AdaptiveAvgPool2d(2)]) {
      expect(m.parameters()).toEqual([]);
      expect(m.buffers()).toEqual([]);
    }
  });

  it('forward applies the functional form with the module options', async () => {
    const c = (fixture.pools as PoolCase[]).find((p) => p.name === 'avg 3 stride 2 padding 1 countIncludePad false')!;
    const layer = new AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false });
    const got = await runWithMse(cpuBackend(), (t) => layer.forward(t), c.shape, Float32Array.from(c.x), Float32Array.from(c.target));
    expectAllClose(got.y, c.y, { label: 'y' });
    expectAllClose(got.dx, c.dx, { rtol: 1e-4, atol: 1e-7, label: 'dx' });
  });
});
