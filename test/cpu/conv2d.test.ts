/**
 * Conv2d on the CPU: the three kernel twins against a plain-loop reference written here from the
 * definition, the op's shape errors and finite-difference gradients, nn.Conv2d's options, init
 * and repr, and forward + backward against torch 1.13 (test/fixtures/gen_conv.py).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { BufferView } from '../../src/backend/kernel.js';
import { gradients } from '../../src/graph/autodiff.js';
import { compileGraph } from '../../src/graph/compile.js';
import { CONV2D, type Conv2dAttrs, conv2d } from '../../src/graph/ops/conv.js';
import { MSE } from '../../src/graph/ops/loss.js';
import { Parameter } from '../../src/graph/parameter.js';
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import type { Activation } from '../../src/kernels/activations.js';
import {
  type Conv2dGeometry,
  conv2dGradInputLaunch,
  conv2dGradWeightLaunch,
  conv2dLaunch,
  convOutputSize,
  weightGradSplits,
} from '../../src/kernels/conv2d.js';
import { Conv2d, type Conv2dOptions } from '../../src/nn/conv.js';
import { manualSeed } from '../../src/nn/init.js';
import { cpuBackend, expectAllClose, randomArray, runKernel } from '../harness.js';
import { expectGradientsMatch } from '../op-check.js';

// ---------------------------------------------------------------------------------------------
// The reference: each output element straight from its definition, in float64.

interface Case extends Conv2dGeometry {
  readonly name: string;
}

function geo(name: string, g: Partial<Conv2dGeometry> & Pick<Conv2dGeometry, 'batch' | 'cIn' | 'inH' | 'inW' | 'cOut' | 'kH' | 'kW'>): Case {
  return { name, stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, ...g };
}

function outSize(c: Conv2dGeometry): [number, number] {
  return [
    convOutputSize(c.inH, c.kH, c.stride[0], c.padding[0], c.dilation[0]),
    convOutputSize(c.inW, c.kW, c.stride[1], c.padding[1], c.dilation[1]),
  ];
}

/** y[n, co, oh, ow] = b[co] + Σ w[co, ci, i, j] · x[n, g·cinG + ci, oh·sh − ph + i·dh, ow·sw − pw + j·dw]. */
function refForward(c: Conv2dGeometry, x: Float32Array, w: Float32Array, b: Float32Array | null): Float64Array {
  const [oH, oW] = outSize(c);
  const cinG = c.cIn / c.groups;
  const coutG = c.cOut / c.groups;
  const y = new Float64Array(c.batch * c.cOut * oH * oW);
  for (let n = 0; n < c.batch; n++) {
    for (let co = 0; co < c.cOut; co++) {
      const g = Math.floor(co / coutG);
      for (let oh = 0; oh < oH; oh++) {
        for (let ow = 0; ow < oW; ow++) {
          let s = b ? b[co]! : 0;
          for (let ci = 0; ci < cinG; ci++) {
            for (let i = 0; i < c.kH; i++) {
              for (let j = 0; j < c.kW; j++) {
                const ih = oh * c.stride[0] - c.padding[0] + i * c.dilation[0];
                const iw = ow * c.stride[1] - c.padding[1] + j * c.dilation[1];
                if (ih < 0 || iw < 0 || ih >= c.inH || iw >= c.inW) continue;
                s += w[((co * cinG + ci) * c.kH + i) * c.kW + j]! * x[((n * c.cIn + g * cinG + ci) * c.inH + ih) * c.inW + iw]!;
              }
            }
          }
          y[((n * c.cOut + co) * oH + oh) * oW + ow] = s;
        }
      }
    }
  }
  return y;
}

/**
 * dx[n, c, ih, iw] = Σ over taps (i, j) and output channels co of c's group of w[co, c − g·cinG,
 * i, j] · dy[n, co, oh, ow], where oh = (ih + ph − i·dh) / sh is a whole number in range (ow alike):
 * the gather form, where the kernel twin scatters.
 */
function refGradInput(c: Conv2dGeometry, dy: ArrayLike<number>, w: Float32Array): Float64Array {
  const [oH, oW] = outSize(c);
  const cinG = c.cIn / c.groups;
  const coutG = c.cOut / c.groups;
  const dx = new Float64Array(c.batch * c.cIn * c.inH * c.inW);
  const source = (p: number, pad: number, tap: number, dil: number, stride: number, size: number): number => {
    const t = p + pad - tap * dil;
    if (t < 0 || t % stride !== 0 || t / stride >= size) return -1;
    return t / stride;
  };
  for (let n = 0; n < c.batch; n++) {
    for (let ch = 0; ch < c.cIn; ch++) {
      const g = Math.floor(ch / cinG);
      for (let ih = 0; ih < c.inH; ih++) {
        for (let iw = 0; iw < c.inW; iw++) {
          let s = 0;
          for (let co = g * coutG; co < (g + 1) * coutG; co++) {
            for (let i = 0; i < c.kH; i++) {
              for (let j = 0; j < c.kW; j++) {
                const oh = source(ih, c.padding[0], i, c.dilation[0], c.stride[0], oH);
                const ow = source(iw, c.padding[1], j, c.dilation[1], c.stride[1], oW);
                if (oh < 0 || ow < 0) continue;
                s += w[((co * cinG + (ch - g * cinG)) * c.kH + i) * c.kW + j]! * dy[((n * c.cOut + co) * oH + oh) * oW + ow]!;
              }
            }
          }
          dx[((n * c.cIn + ch) * c.inH + ih) * c.inW + iw] = s;
        }
      }
    }
  }
  return dx;
}

/** dw[co, ci, i, j] = Σ_{n, oh, ow} dy[n, co, oh, ow] · x[n, g·cinG + ci, ih, iw]; db[co] = Σ dy[n, co]. */
function refGradWeight(c: Conv2dGeometry, dy: ArrayLike<number>, x: Float32Array): { dw: Float64Array; db: Float64Array } {
  const [oH, oW] = outSize(c);
  const cinG = c.cIn / c.groups;
  const coutG = c.cOut / c.groups;
  const dw = new Float64Array(c.cOut * cinG * c.kH * c.kW);
  const db = new Float64Array(c.cOut);
  for (let co = 0; co < c.cOut; co++) {
    const g = Math.floor(co / coutG);
    for (let n = 0; n < c.batch; n++) {
      for (let p = 0; p < oH * oW; p++) db[co] += dy[(n * c.cOut + co) * oH * oW + p]!;
    }
    for (let ci = 0; ci < cinG; ci++) {
      for (let i = 0; i < c.kH; i++) {
        for (let j = 0; j < c.kW; j++) {
          let s = 0;
          for (let n = 0; n < c.batch; n++) {
            for (let oh = 0; oh < oH; oh++) {
              for (let ow = 0; ow < oW; ow++) {
                const ih = oh * c.stride[0] - c.padding[0] + i * c.dilation[0];
                const iw = ow * c.stride[1] - c.padding[1] + j * c.dilation[1];
                if (ih < 0 || iw < 0 || ih >= c.inH || iw >= c.inW) continue;
                s += dy[((n * c.cOut + co) * oH + oh) * oW + ow]! * x[((n * c.cIn + g * cinG + ci) * c.inH + ih) * c.inW + iw]!;
              }
            }
          }
          dw[((co * cinG + ci) * c.kH + i) * c.kW + j] = s;
        }
      }
    }
  }
  return { dw, db };
}

/** The activations' definitions and derivatives (through their output y), for the fused variants. */
const ACT: Partial<Record<Activation, { f: (v: number) => number; dfy: (y: number) => number }>> = {
  relu: { f: (v) => Math.max(v, 0), dfy: (y) => (y > 0 ? 1 : 0) },
  leaky_relu: { f: (v) => (v > 0 ? v : 0.01 * v), dfy: (y) => (y > 0 ? 1 : 0.01) },
  tanh: { f: Math.tanh, dfy: (y) => 1 - y * y },
  sigmoid: { f: (v) => 1 / (1 + Math.exp(-v)), dfy: (y) => y * (1 - y) },
};

// ---------------------------------------------------------------------------------------------
// Running one kernel through its launch helper on a backend, every binding in its own buffer.

const ANY: BufferView = { buffer: { id: 0, byteLength: 4, label: 'any' }, offset: 0, length: 2 ** 30 };

type Product = 'forward' | 'gradInput' | 'gradWeight';

async function runConv(
  backend: Backend,
  product: Product,
  c: Conv2dGeometry,
  data: Partial<Record<'x' | 'weight' | 'bias' | 'dy' | 'y', Float32Array>>,
  opts: { act?: Activation; hasBias?: boolean; splits?: number } = {},
): Promise<{ out: Float32Array; biasOut: Float32Array; launches: number }> {
  const [oH, oW] = outSize(c);
  const launches =
    product === 'forward'
      ? [conv2dLaunch(c, { x: ANY, weight: ANY, bias: ANY, y: ANY }, opts, ANY)]
      : product === 'gradInput'
        ? [conv2dGradInputLaunch(c, { dy: ANY, weight: ANY, y: ANY, dx: ANY }, opts, ANY)]
        : conv2dGradWeightLaunch(c, { dy: ANY, x: ANY, y: ANY, dweight: ANY, dbias: ANY, dweightParts: ANY, dbiasParts: ANY }, opts, ANY);
  const numel = product === 'forward' ? c.batch * c.cOut * oH * oW : product === 'gradInput' ? c.batch * c.cIn * c.inH * c.inW : (c.cOut * c.cIn * c.kH * c.kW) / c.groups;
  const splits = launches.length > 1 ? launches[0]!.workgroups[2] / c.groups : 1;
  const tiny = new Float32Array(1);
  const first = launches[0]!;
  const result = await runKernel(backend, first.kernel, {
    inputs: { x: tiny, weight: tiny, bias: tiny, dy: tiny, y: tiny, ...data },
    outputs: { out: splits * numel, bias_out: splits * c.cOut },
    params: first.params!,
    overrides: first.overrides!,
    workgroups: first.workgroups,
  });
  const sum = launches[1];
  if (!sum) return { out: result.out as Float32Array, biasOut: result.bias_out as Float32Array, launches: 1 };
  const total = await runKernel(backend, sum.kernel, {
    inputs: { parts: result.out!, bias_parts: result.bias_out! },
    outputs: { out: numel, bias_out: c.cOut },
    params: sum.params!,
    overrides: sum.overrides!,
    workgroups: sum.workgroups,
  });
  return { out: total.out as Float32Array, biasOut: total.bias_out as Float32Array, launches: 2 };
}

const CASES: Case[] = [
  geo('3x3, batch 2', { batch: 2, cIn: 3, inH: 5, inW: 6, cOut: 4, kH: 3, kW: 3 }),
  geo('stride 2, padding 1', { batch: 1, cIn: 2, inH: 7, inW: 7, cOut: 3, kH: 3, kW: 3, stride: [2, 2], padding: [1, 1] }),
  geo('dilation 2, padding 2', { batch: 2, cIn: 2, inH: 9, inW: 8, cOut: 3, kH: 3, kW: 3, padding: [2, 2], dilation: [2, 2] }),
  geo('groups 2', { batch: 2, cIn: 4, inH: 6, inW: 5, cOut: 6, kH: 3, kW: 3, padding: [1, 1], groups: 2 }),
  geo('non-square everything', { batch: 3, cIn: 3, inH: 8, inW: 11, cOut: 2, kH: 2, kW: 4, stride: [2, 1], padding: [0, 2], dilation: [1, 2] }),
  geo('depthwise 1x1, batch 1, odd sizes', { batch: 1, cIn: 5, inH: 3, inW: 7, cOut: 5, kH: 1, kW: 1, groups: 5 }),
  geo('stride 3 over a 2x2 kernel (pixels no window reaches)', { batch: 2, cIn: 2, inH: 8, inW: 7, cOut: 2, kH: 2, kW: 2, stride: [3, 3] }),
  geo('padding larger than the kernel', { batch: 1, cIn: 1, inH: 2, inW: 3, cOut: 2, kH: 2, kW: 2, padding: [3, 2] }),
];

describe('conv2d kernel twins against the definition', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const [oH, oW] = outSize(c);
    const x = randomArray(c.batch * c.cIn * c.inH * c.inW, -1, 1, 1);
    const w = randomArray((c.cOut * c.cIn * c.kH * c.kW) / c.groups, -1, 1, 2);
    const b = randomArray(c.cOut, -1, 1, 3);
    const dy = randomArray(c.batch * c.cOut * oH * oW, -1, 1, 4);
    const cpu = cpuBackend();
    const tol = { rtol: 1e-5, atol: 1e-6 };

    const y = await runConv(cpu, 'forward', c, { x, weight: w, bias: b }, { hasBias: true });
    expectAllClose(y.out, refForward(c, x, w, b), { ...tol, label: 'y' });
    const yNoBias = await runConv(cpu, 'forward', c, { x, weight: w });
    expectAllClose(yNoBias.out, refForward(c, x, w, null), { ...tol, label: 'y without bias' });

    const dx = await runConv(cpu, 'gradInput', c, { dy, weight: w });
    expectAllClose(dx.out, refGradInput(c, dy, w), { ...tol, label: 'dx' });

    const { dw, db } = refGradWeight(c, dy, x);
    const grads = await runConv(cpu, 'gradWeight', c, { dy, x }, { hasBias: true });
    expectAllClose(grads.out, dw, { ...tol, label: 'dweight' });
    expectAllClose(grads.biasOut, db, { ...tol, label: 'dbias' });
    const noBias = await runConv(cpu, 'gradWeight', c, { dy, x });
    expectAllClose(noBias.out, dw, { ...tol, label: 'dweight without bias' });
    expect(noBias.biasOut.every(Number.isNaN), 'bias_out is left alone without a bias').toBe(true);

    // The depth batch · pixels cut into splits whose ends fall inside images, summed by a second kernel.
    for (const splits of [2, 3, 64]) {
      const parts = await runConv(cpu, 'gradWeight', c, { dy, x }, { hasBias: true, splits });
      expect(parts.launches, `${splits} splits take a second launch when K has that many steps`).toBe(Math.ceil((c.batch * oH * oW) / 16) > 1 ? 2 : 1);
      expectAllClose(parts.out, dw, { ...tol, label: `dweight, ${splits} splits` });
      expectAllClose(parts.biasOut, db, { ...tol, label: `dbias, ${splits} splits` });
      const partsNoBias = await runConv(cpu, 'gradWeight', c, { dy, x }, { splits });
      expectAllClose(partsNoBias.out, dw, { ...tol, label: `dweight without bias, ${splits} splits` });
    }
  });

  it.each(['relu', 'leaky_relu', 'tanh', 'sigmoid'] as const)('fused %s: epilogue forward, dy gated by its derivative backward', async (act) => {
    const c = CASES[3]!;
    const [oH, oW] = outSize(c);
    const x = randomArray(c.batch * c.cIn * c.inH * c.inW, -1, 1, 5);
    const w = randomArray((c.cOut * c.cIn * c.kH * c.kW) / c.groups, -1, 1, 6);
    const b = randomArray(c.cOut, -1, 1, 7);
    const dy = randomArray(c.batch * c.cOut * oH * oW, -1, 1, 8);
    const cpu = cpuBackend();
    const tol = { rtol: 1e-5, atol: 1e-6 };
    const { f, dfy } = ACT[act]!;

    const y = (await runConv(cpu, 'forward', c, { x, weight: w, bias: b }, { act, hasBias: true })).out;
    expectAllClose(y, refForward(c, x, w, b).map(f), { ...tol, label: `${act}(y)` });
    const gated = dy.map((v, i) => v * dfy(y[i]!));
    const dx = await runConv(cpu, 'gradInput', c, { dy, weight: w, y }, { act });
    expectAllClose(dx.out, refGradInput(c, gated, w), { ...tol, label: 'dx' });
    const ref = refGradWeight(c, gated, x);
    const grads = await runConv(cpu, 'gradWeight', c, { dy, x, y }, { act, hasBias: true });
    expectAllClose(grads.out, ref.dw, { ...tol, label: 'dweight' });
    expectAllClose(grads.biasOut, ref.db, { ...tol, label: 'dbias' });
  });

  it('splits the weight gradient only where K is long and the product small', () => {
    const mnist1 = geo('', { batch: 128, cIn: 1, inH: 28, inW: 28, cOut: 16, kH: 3, kW: 3, padding: [1, 1] });
    expect(weightGradSplits(mnist1)).toBe(64);
    expect(weightGradSplits({ ...mnist1, batch: 2 })).toBe(1);
    // 196 steps of K along 16 make 3 splits of at least 64 steps each.
    expect(weightGradSplits({ ...mnist1, batch: 2, inH: 28 * 2 })).toBe(3);
    // Many output tiles already fill the GPU.
    expect(weightGradSplits({ ...mnist1, cIn: 256, cOut: 256 })).toBe(1);
    const launches = conv2dGradWeightLaunch(mnist1, { dy: ANY, x: ANY, dweight: ANY, dweightParts: ANY }, {}, ANY);
    expect(launches.map((l) => l.kernel.name)).toEqual(['conv2d_grad_weight', 'conv2d_sum_splits']);
    expect(launches[0]!.workgroups).toEqual([1, 1, 64]);
    expect(() => conv2dGradWeightLaunch(mnist1, { dy: ANY, x: ANY, dweight: ANY }, {}, ANY)).toThrow(/64 splits need 'dweightParts' buffers/);
    expect(() => conv2dGradWeightLaunch(mnist1, { dy: ANY, x: ANY, dweight: ANY }, { splits: 0 }, ANY)).toThrow(/splits must be a positive integer, got 0/);
  });

  it('launch helpers refuse bad geometry and missing buffers', () => {
    const c = CASES[0]!;
    expect(() => conv2dLaunch({ ...c, groups: 2 }, { x: ANY, weight: ANY, y: ANY }, {}, ANY)).toThrow(/groups=2 must divide cIn=3/);
    expect(() => conv2dLaunch({ ...c, kH: 9 }, { x: ANY, weight: ANY, y: ANY }, {}, ANY)).toThrow(/output size -3x4 is empty/);
    expect(() => conv2dLaunch({ ...c, stride: [0, 1] }, { x: ANY, weight: ANY, y: ANY }, {}, ANY)).toThrow(/stride\[0\] must be an integer >= 1, got 0/);
    expect(() => conv2dLaunch(c, { x: ANY, weight: ANY, y: ANY }, { hasBias: true }, ANY)).toThrow(/hasBias needs a 'bias' buffer/);
    expect(() => conv2dGradInputLaunch(c, { dy: ANY, weight: ANY, dx: ANY }, { act: 'relu' }, ANY)).toThrow(/needs the forward output 'y'/);
    const short = { ...ANY, length: 10 };
    expect(() => conv2dLaunch(c, { x: short, weight: ANY, y: ANY }, {}, ANY, 'layer1')).toThrow(/layer1: binding 'x' .* holds 10 elements, needs 180/);
  });
});

// ---------------------------------------------------------------------------------------------
// The op: shape rule and gradients.

describe('conv2d op', () => {
  const trace = (x: number[], w: number[], b: number[] | null, opts: Parameters<typeof conv2d>[3] = {}): Tensor => {
    const g = new Graph();
    return g.scope('net.conv', () =>
      conv2d(g.input('x', x), g.input('w', w), b ? g.input('b', b) : null, opts),
    );
  };

  it('infers torch output sizes', () => {
    expect(trace([2, 3, 28, 28], [8, 3, 3, 3], [8], { padding: 1 }).shape).toEqual([2, 8, 28, 28]);
    expect(trace([1, 3, 28, 27], [8, 3, 3, 3], null, { stride: 2 }).shape).toEqual([1, 8, 13, 13]);
    expect(trace([1, 4, 9, 10], [6, 2, 3, 2], null, { stride: [2, 3], padding: [1, 0], dilation: [2, 1], groups: 2 }).shape).toEqual([1, 6, 4, 3]);
    expect(trace([1, 2, 7, 9], [3, 2, 3, 5], null, { padding: 'same', dilation: [2, 1] }).shape).toEqual([1, 3, 7, 9]);
    expect(trace([1, 2, 7, 9], [3, 2, 3, 5], null, { padding: 'valid' }).shape).toEqual([1, 3, 5, 5]);
  });

  it('names the layer and the shapes in its errors', () => {
    expect(() => trace([3, 28, 28], [8, 3, 3, 3], null)).toThrow('net.conv: expected input [batch, 3, H, W] for weight [8, 3, 3, 3] and groups=1, got [3, 28, 28]');
    expect(() => trace([4, 5, 28, 28], [8, 3, 3, 3], null)).toThrow(/net\.conv: expected input \[batch, 3, H, W\].*got \[4, 5, 28, 28\]/);
    expect(() => trace([4, 3, 28, 28], [8, 3, 3], null)).toThrow(/net\.conv: weight must be \[out_channels, in_channels \/ groups, kH, kW\], got \[8, 3, 3\]/);
    expect(() => trace([4, 4, 8, 8], [9, 2, 3, 3], null, { groups: 2 })).toThrow(/net\.conv: groups=2 must divide the 9 output channels of weight \[9, 2, 3, 3\]/);
    expect(() => trace([4, 3, 8, 8], [8, 3, 3, 3], [7])).toThrow(/net\.conv: bias must be \[8\], got \[7\]/);
    expect(() => trace([1, 3, 4, 4], [8, 3, 5, 5], null, { padding: [0, 1] })).toThrow(
      /net\.conv: input \[1, 3, 4, 4\] padded to 4x6 is smaller than the \(dilated\) kernel 5x5: output size would be 0x2/,
    );
    expect(() => trace([1, 3, 8, 8], [8, 3, 3, 3], null, { dilation: 4 })).toThrow(/kernel 9x9/);
    expect(() => trace([1, 3, 8, 8], [8, 3, 3, 3], null, { stride: 0 })).toThrow(/net\.conv: stride must be an integer >= 1 or a pair \[h, w\] of them, got 0/);
    expect(() => trace([1, 3, 8, 8], [8, 3, 3, 3], null, { padding: [1, -1] })).toThrow(/net\.conv: padding must be .*got \[1,-1\]/);
    expect(() => trace([1, 3, 8, 8], [8, 3, 3, 3], null, { groups: 0 })).toThrow(/net\.conv: groups must be a positive integer, got 0/);
    expect(() => trace([1, 3, 8, 8], [8, 3, 3, 3], null, { padding: 'same', stride: 2 })).toThrow(/padding='same' needs stride 1/);
    expect(() => trace([1, 3, 8, 8], [8, 3, 2, 2], null, { padding: 'same' })).toThrow(/would pad unevenly/);
  });

  const conv = (opts: Parameters<typeof conv2d>[3]) => (x: Tensor, w: Tensor, b?: Tensor) => conv2d(x, w, b ?? null, opts);

  it('gradients of x, weight and bias match finite differences', async () => {
    await expectGradientsMatch(conv({ padding: 1 }), [{ shape: [2, 2, 4, 5] }, { shape: [3, 2, 3, 3] }, { shape: [3] }], { seed: 11 });
  });

  it('gradients with stride 2, padding 1 and a non-square kernel', async () => {
    await expectGradientsMatch(conv({ stride: 2, padding: [1, 0] }), [{ shape: [1, 2, 5, 6] }, { shape: [2, 2, 3, 2] }, { shape: [2] }], { seed: 12 });
  });

  it('gradients with dilation 2 and stride (1, 3)', async () => {
    await expectGradientsMatch(conv({ dilation: 2, stride: [1, 3], padding: 2 }), [{ shape: [2, 1, 5, 7] }, { shape: [2, 1, 3, 3] }, { shape: [2] }], { seed: 13 });
  });

  it('gradients with groups 2 and no bias', async () => {
    await expectGradientsMatch(conv({ groups: 2, padding: 1 }), [{ shape: [1, 4, 4, 3] }, { shape: [4, 2, 2, 2] }], { seed: 14 });
  });

  it('gradients through a fused tanh epilogue', async () => {
    const attrs: Conv2dAttrs = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, hasBias: true, act: 'tanh', alpha: 0.01 };
    const fused = (x: Tensor, w: Tensor, b: Tensor) => x.graph.apply(CONV2D, [x, w, b], attrs)[0]!;
    await expectGradientsMatch(fused, [{ shape: [1, 2, 3, 4] }, { shape: [2, 2, 3, 3], lo: -0.5, hi: 0.5 }, { shape: [2] }], { seed: 15 });
  });

  it('splits a long weight-gradient depth in two through the graph, with the same result', async () => {
    const c = geo('', { batch: 2, cIn: 1, inH: 32, inW: 32, cOut: 2, kH: 3, kW: 3, padding: [1, 1] });
    expect(weightGradSplits(c)).toBe(2);
    const conv = new Conv2d(1, 2, 3, { padding: 1 });
    const x = randomArray(2 * 32 * 32, -1, 1, 21);
    const t = randomArray(2 * 2 * 32 * 32, -1, 1, 22);
    const r = await forwardBackward(cpuBackend(), conv, [2, 1, 32, 32], Array.from(x), Array.from(t));
    expect(r.kernels).toContain('conv2d_sum_splits');
    const y = refForward(c, x, conv.weight.data, conv.bias!.data);
    // d MSE / dy = 2 (y - t) / numel
    const dy = y.map((v, i) => (2 * (v - t[i]!)) / y.length);
    const { dw, db } = refGradWeight(c, dy, x);
    const tol = { rtol: 1e-5, atol: 1e-6 };
    expectAllClose(r.y, y, { ...tol, label: 'y' });
    expectAllClose(r.dx, refGradInput(c, dy, conv.weight.data), { ...tol, label: 'dx' });
    expectAllClose(r.dweight, dw, { ...tol, label: 'dweight' });
    expectAllClose(r.dbias!, db, { ...tol, label: 'dbias' });
  });

  it('only the gradients that lead to parameters are built', () => {
    const g = new Graph();
    const x = g.input('x', [1, 2, 5, 5]);
    const w = g.param(new Parameter(randomArray(18), [1, 2, 3, 3], 'w'));
    const y = conv2d(x, w, null);
    const [loss] = g.apply(MSE, [y, g.input('t', y.shape)], {});
    const [dw] = gradients(g, loss!, [w]);
    expect(dw!.shape).toEqual([1, 2, 3, 3]);
    expect(g.nodes.map((n) => n.op.name)).not.toContain('conv2d_grad_input');
  });
});

// ---------------------------------------------------------------------------------------------
// The module.

describe('nn.Conv2d', () => {
  it('holds torch-shaped parameters under torch names', () => {
    const conv = new Conv2d(4, 6, [3, 2], { groups: 2 });
    expect(conv.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['weight', [6, 2, 3, 2]],
      ['bias', [6]],
    ]);
    expect(new Conv2d(1, 8, 3, { bias: false }).namedParameters().map(([n]) => n)).toEqual(['weight']);
  });

  it("initialises like torch: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weight and bias", () => {
    manualSeed(3);
    const conv = new Conv2d(6, 63, [3, 5], { groups: 3 });
    const bound = 1 / Math.sqrt((6 / 3) * 3 * 5);
    for (const p of [conv.weight.data, conv.bias!.data]) {
      const max = Math.max(...p.map(Math.abs));
      expect(max).toBeLessThanOrEqual(bound);
      expect(max).toBeGreaterThan(0.9 * bound);
    }
    // A uniform distribution's variance is bound² / 3.
    const w = conv.weight.data;
    const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
    expect(variance).toBeGreaterThan(0.9 * (bound * bound) / 3);
    expect(variance).toBeLessThan(1.1 * (bound * bound) / 3);
  });

  it('prints like torch', () => {
    expect(new Conv2d(1, 8, 3, { padding: 1 }).describe()).toBe('Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))');
    expect(new Conv2d(4, 4, [1, 3], { stride: [2, 1], groups: 4, bias: false, padding: 'valid' }).describe()).toBe(
      'Conv2d(4, 4, kernel_size=(1, 3), stride=(2, 1), padding=valid, groups=4, bias=False)',
    );
  });

  it('validates every option, naming it and its value', () => {
    expect(() => new Conv2d(0, 8, 3)).toThrow(/Conv2d\(0, 8, kernel_size=3\): inChannels must be a positive integer, got 0/);
    expect(() => new Conv2d(3, 2.5, 3)).toThrow(/outChannels must be a positive integer, got 2.5/);
    expect(() => new Conv2d(3, 8, 0)).toThrow(/kernelSize must be an integer >= 1 or a pair \[h, w\] of them, got 0/);
    expect(() => new Conv2d(3, 8, [3, 3, 3] as unknown as [number, number])).toThrow(/kernelSize must be .*got \[3,3,3\]/);
    expect(() => new Conv2d(3, 8, 3, { stride: [1, 0] })).toThrow(/stride must be .*got \[1,0\]/);
    expect(() => new Conv2d(3, 8, 3, { padding: -1 })).toThrow(/padding must be an integer >= 0 .*got -1/);
    expect(() => new Conv2d(3, 8, 3, { padding: 'full' as 'same' })).toThrow(/padding must be a size, 'valid' or 'same', got 'full'/);
    expect(() => new Conv2d(3, 8, 3, { padding: 'same', stride: 2 })).toThrow(/padding='same' needs stride 1, got stride \(2, 2\)/);
    expect(() => new Conv2d(3, 8, 3, { dilation: 0 })).toThrow(/dilation must be .*got 0/);
    expect(() => new Conv2d(3, 8, 3, { groups: 0 })).toThrow(/groups must be a positive integer, got 0/);
    expect(() => new Conv2d(3, 8, 3, { groups: 2 })).toThrow(/inChannels=3 must be divisible by groups=2/);
    expect(() => new Conv2d(4, 6, 3, { groups: 4 })).toThrow(/outChannels=6 must be divisible by groups=4/);
    expect(() => new Conv2d(3, 8, 3, { bias: 'yes' as unknown as boolean })).toThrow(/bias must be true or false, got "yes"/);
  });

  it('names the layer when the input does not fit', () => {
    const g = new Graph();
    const conv = new Conv2d(3, 8, 3);
    expect(() => conv.forward(g.input('x', [4, 5, 28, 28]))).toThrow(
      'Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1)): expected input [batch, 3, H, W] for weight [8, 3, 3, 3] and groups=1, got [4, 5, 28, 28]',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Against torch.

interface TorchCase {
  name: string;
  cin: number;
  cout: number;
  kernel: number | [number, number];
  options: Conv2dOptions;
  x: number[];
  repr: string;
  y_shape: number[];
  x_data: number[];
  target: number[];
  weight: number[];
  bias?: number[];
  y: number[];
  loss: number;
  dx: number[];
  dweight: number[];
  dbias?: number[];
}

const fixture: { cases: TorchCase[] } = JSON.parse(readFileSync(new URL('../fixtures/conv.json', import.meta.url), 'utf8'));

/** y = conv(x) and MSELoss(y, target) with the gradients of x, weight and bias, through the compiled graph. */
async function forwardBackward(backend: Backend, conv: Conv2d, xShape: number[], x: number[], target: number[]) {
  const g = new Graph();
  const xp = new Parameter(Float32Array.from(x), xShape, 'x');
  const xt = g.param(xp);
  const y = conv.forward(xt);
  const t = g.input('target', y.shape);
  const [loss] = g.apply(MSE, [y, t], {}, 'loss');
  const params = [xp, conv.weight, ...(conv.bias ? [conv.bias] : [])];
  const grads = gradients(g, loss!, params.map((p) => g.param(p)));
  const made: ReturnType<Backend['createBuffer']>[] = [];
  const buffer = (data: Float32Array): BufferView => {
    const b = backend.createBuffer(Math.max(4, data.byteLength), 'fixture');
    backend.write(b, data);
    made.push(b);
    return { buffer: b, offset: 0, length: data.length };
  };
  const bound = new Map<Tensor, BufferView>([[t, buffer(Float32Array.from(target))]]);
  for (const p of params) bound.set(g.param(p), buffer(p.data));
  const outputs = [y, loss!, ...grads.map((d) => d!)];
  const compiled = compileGraph(backend, { graph: g, bound, outputs, label: 'conv-fixture', poison: true });
  const program = backend.compile(compiled.launches, 'conv-fixture');
  backend.run(program);
  await backend.idle();
  const read = async (v: Tensor) => {
    const view = compiled.views.get(v)!;
    return new Float32Array(await backend.read(view.buffer, view.offset * 4, v.numel * 4));
  };
  const [out, lossValue, ...gradValues] = await Promise.all(outputs.map(read));
  program.dispose();
  compiled.dispose();
  for (const b of made) backend.destroyBuffer(b);
  const kernels = compiled.launches.map((l) => l.kernel.name);
  return { kernels, shape: y.shape, y: out!, loss: lossValue![0]!, dx: gradValues[0]!, dweight: gradValues[1]!, dbias: gradValues[2] ?? null };
}

describe('nn.Conv2d against torch 1.13', () => {
  const TOL = { rtol: 1e-5, atol: 1e-6 };
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const conv = new Conv2d(c.cin, c.cout, c.kernel, c.options);
    expect(conv.describe()).toBe(c.repr);
    conv.loadStateDict(c.bias ? { weight: c.weight, bias: c.bias } : { weight: c.weight });
    const r = await forwardBackward(cpuBackend(), conv, c.x, c.x_data, c.target);
    expect(r.shape).toEqual(c.y_shape);
    expectAllClose(r.y, c.y, { ...TOL, label: 'y' });
    expectAllClose([r.loss], [c.loss], { ...TOL, label: 'loss' });
    expectAllClose(r.dx, c.dx, { ...TOL, label: 'dx' });
    expectAllClose(r.dweight, c.dweight, { ...TOL, label: 'dweight' });
    if (c.dbias) expectAllClose(r.dbias!, c.dbias, { ...TOL, label: 'dbias' });
    else expect(r.dbias).toBeNull();
  });
});
