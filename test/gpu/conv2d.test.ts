/**
 * Conv2d on WebGPU: each of the three kernels against its CPU twin at awkward sizes (partial
 * tiles on every axis, several K steps, groups, a fused activation) with poisoned outputs, and
 * the conv2d op's forward and gradients through the compiled graph against the CPU backend.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { BufferView, TypedArray } from '../../src/backend/kernel.js';
import { CONV2D, type Conv2dAttrs, conv2d } from '../../src/graph/ops/conv.js';
import type { Tensor } from '../../src/graph/tensor.js';
import type { Activation } from '../../src/kernels/activations.js';
import {
  type Conv2dGeometry,
  conv2dGradInputLaunch,
  conv2dGradWeightLaunch,
  conv2dLaunch,
  convOutputSize,
} from '../../src/kernels/conv2d.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, runKernel } from '../harness.js';
import { expectBackendsAgree } from '../op-check.js';

const ANY: BufferView = { buffer: { id: 0, byteLength: 4, label: 'any' }, offset: 0, length: 2 ** 30 };
const TOL = { rtol: 1e-4, atol: 1e-5 };

interface Case extends Conv2dGeometry {
  readonly name: string;
  readonly act?: Activation;
}

function geo(name: string, g: Partial<Case> & Pick<Conv2dGeometry, 'batch' | 'cIn' | 'inH' | 'inW' | 'cOut' | 'kH' | 'kW'>): Case {
  return { name, stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, ...g };
}

type Product = 'forward' | 'gradInput' | 'gradWeight';

/**
 * One product through its launch helper, each binding in its own poisoned buffer; a split weight
 * gradient also returns its partial sums, then runs the kernel that adds them.
 */
interface ConvRun {
  readonly out: TypedArray;
  readonly bias_out: TypedArray;
  /** Splits of K; with more than one, the partial sums the second kernel added. */
  readonly parts: number;
  readonly partials?: TypedArray;
  readonly biasPartials?: TypedArray;
}

async function runConv(backend: Backend, product: Product, c: Case, data: Record<string, Float32Array>, hasBias: boolean, splits?: number): Promise<ConvRun> {
  const oH = convOutputSize(c.inH, c.kH, c.stride[0], c.padding[0], c.dilation[0]);
  const oW = convOutputSize(c.inW, c.kW, c.stride[1], c.padding[1], c.dilation[1]);
  const opts = { act: c.act ?? 'identity', hasBias, ...(splits ? { splits } : {}) };
  const launches =
    product === 'forward'
      ? [conv2dLaunch(c, { x: ANY, weight: ANY, bias: ANY, y: ANY }, opts, ANY)]
      : product === 'gradInput'
        ? [conv2dGradInputLaunch(c, { dy: ANY, weight: ANY, y: ANY, dx: ANY }, opts, ANY)]
        : conv2dGradWeightLaunch(c, { dy: ANY, x: ANY, y: ANY, dweight: ANY, dbias: ANY, dweightParts: ANY, dbiasParts: ANY }, opts, ANY);
  const numel = product === 'forward' ? c.batch * c.cOut * oH * oW : product === 'gradInput' ? c.batch * c.cIn * c.inH * c.inW : (c.cOut * c.cIn * c.kH * c.kW) / c.groups;
  const parts = launches.length > 1 ? launches[0]!.workgroups[2] / c.groups : 1;
  const tiny = new Float32Array(1);
  const first = launches[0]!;
  const result = await runKernel(backend, first.kernel, {
    inputs: { x: tiny, weight: tiny, bias: tiny, dy: tiny, y: tiny, ...data },
    outputs: { out: parts * numel, bias_out: parts * c.cOut },
    params: first.params!,
    overrides: first.overrides!,
    workgroups: first.workgroups,
  });
  const sum = launches[1];
  if (!sum) return { out: result.out!, bias_out: result.bias_out!, parts };
  const total = await runKernel(backend, sum.kernel, {
    inputs: { parts: result.out!, bias_parts: result.bias_out! },
    outputs: { out: numel, bias_out: c.cOut },
    params: sum.params!,
    overrides: sum.overrides!,
    workgroups: sum.workgroups,
  });
  return { out: total.out!, bias_out: total.bias_out!, parts, partials: result.out!, biasPartials: result.bias_out! };
}

const CASES: Case[] = [
  geo('batch 1, 1 -> 3 channels, 7x9, padding 1', { batch: 1, cIn: 1, inH: 7, inW: 9, cOut: 3, kH: 3, kW: 3, padding: [1, 1] }),
  geo('batch 3, 3 -> 5 channels, 13x13, stride 2, padding 1', { batch: 3, cIn: 3, inH: 13, inW: 13, cOut: 5, kH: 3, kW: 3, stride: [2, 2], padding: [1, 1] }),
  geo('5 -> 40 channels (two row tiles), 3x2 kernel, dilation 2', { batch: 3, cIn: 5, inH: 7, inW: 9, cOut: 40, kH: 3, kW: 2, dilation: [2, 2] }),
  geo('groups 2, 5x5 kernel, stride (1, 2)', { batch: 1, cIn: 6, inH: 13, inW: 13, cOut: 10, kH: 5, kW: 5, stride: [1, 2], padding: [2, 1], groups: 2 }),
  geo('fused relu, depthwise-like groups 3', { batch: 3, cIn: 3, inH: 7, inW: 9, cOut: 6, kH: 3, kW: 3, padding: [1, 1], groups: 3, act: 'relu' }),
];

describe('conv2d kernels (WGSL) against their CPU twins', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const oH = convOutputSize(c.inH, c.kH, c.stride[0], c.padding[0], c.dilation[0]);
    const oW = convOutputSize(c.inW, c.kW, c.stride[1], c.padding[1], c.dilation[1]);
    const x = randomArray(c.batch * c.cIn * c.inH * c.inW);
    const weight = randomArray((c.cOut * c.cIn * c.kH * c.kW) / c.groups);
    const bias = randomArray(c.cOut);
    const dy = randomArray(c.batch * c.cOut * oH * oW);
    const gpu = await gpuBackend();
    const cpu = cpuBackend();
    const both = async (product: Product, data: Record<string, Float32Array>, hasBias: boolean) => ({
      gpu: await runConv(gpu, product, c, data, hasBias),
      cpu: await runConv(cpu, product, c, data, hasBias),
    });

    const fwd = await both('forward', { x, weight, bias }, true);
    expectAllClose(fwd.gpu.out!, fwd.cpu.out!, { ...TOL, label: 'y' });
    // The backward gates read the forward output of the twin, the same on both sides.
    const y = fwd.cpu.out as Float32Array;
    const dx = await both('gradInput', { dy, weight, y }, false);
    expectAllClose(dx.gpu.out!, dx.cpu.out!, { ...TOL, label: 'dx' });
    const dw = await both('gradWeight', { dy, x, y }, true);
    expectAllClose(dw.gpu.out!, dw.cpu.out!, { ...TOL, label: 'dweight' });
    expectAllClose(dw.gpu.bias_out!, dw.cpu.bias_out!, { ...TOL, label: 'dbias' });
  });

  it('weight gradient split over the batch and pixels: partial sums and their total', async () => {
    const c = CASES[1]!;
    const x = randomArray(c.batch * c.cIn * c.inH * c.inW);
    const dy = randomArray(c.batch * c.cOut * 7 * 7);
    const gpu = await gpuBackend();
    for (const [splits, hasBias] of [[3, true], [10, false]] as const) {
      const g = await runConv(gpu, 'gradWeight', c, { dy, x }, hasBias, splits);
      const t = await runConv(cpuBackend(), 'gradWeight', c, { dy, x }, hasBias, splits);
      expect(g.parts).toBe(splits);
      expectAllClose(g.partials!, t.partials!, { ...TOL, label: `partial dweight, ${splits} splits` });
      expectAllClose(g.out!, t.out!, { ...TOL, label: `dweight, ${splits} splits` });
      if (hasBias) {
        expectAllClose(g.biasPartials!, t.biasPartials!, { ...TOL, label: 'partial dbias' });
        expectAllClose(g.bias_out!, t.bias_out!, { ...TOL, label: 'dbias' });
      } else {
        expect(Array.from(g.bias_out!).every(Number.isNaN), 'bias_out keeps its poison').toBe(true);
      }
    }
  });

  it('without a bias: no bias added, bias_out left untouched', async () => {
    const c = CASES[1]!;
    const x = randomArray(c.batch * c.cIn * c.inH * c.inW);
    const weight = randomArray((c.cOut * c.cIn * c.kH * c.kW) / c.groups);
    const dy = randomArray(c.batch * c.cOut * 7 * 7);
    const gpu = await gpuBackend();
    const fwd = await runConv(gpu, 'forward', c, { x, weight, bias: randomArray(c.cOut, 5, 6) }, false);
    expectAllClose(fwd.out!, (await runConv(cpuBackend(), 'forward', c, { x, weight }, false)).out!, { ...TOL, label: 'y' });
    const dw = await runConv(gpu, 'gradWeight', c, { dy, x }, false);
    expectAllClose(dw.out!, (await runConv(cpuBackend(), 'gradWeight', c, { dy, x }, false)).out!, { ...TOL, label: 'dweight' });
    expect(Array.from(dw.bias_out!).every(Number.isNaN), 'bias_out keeps its poison').toBe(true);
  });
});

describe('conv2d op: WebGPU agrees with the CPU backend', () => {
  it('stride 2, padding 1, bias', async () => {
    const f = (x: Tensor, w: Tensor, b: Tensor) => conv2d(x, w, b, { stride: 2, padding: 1 });
    await expectBackendsAgree(await gpuBackend(), f, [{ shape: [3, 3, 13, 13] }, { shape: [5, 3, 3, 3] }, { shape: [5] }]);
  });

  it('groups 2, dilation 2, non-square kernel, no bias', async () => {
    const f = (x: Tensor, w: Tensor) => conv2d(x, w, null, { groups: 2, dilation: 2, padding: [2, 1] });
    await expectBackendsAgree(await gpuBackend(), f, [{ shape: [1, 4, 7, 9] }, { shape: [6, 2, 3, 2] }]);
  });

  it('a weight gradient long enough to be split in two', async () => {
    const f = (x: Tensor, w: Tensor, b: Tensor) => conv2d(x, w, b, { padding: 1 });
    await expectBackendsAgree(await gpuBackend(), f, [{ shape: [2, 1, 32, 32] }, { shape: [3, 1, 3, 3] }, { shape: [3] }]);
  });

  it('fused tanh epilogue', async () => {
    const attrs: Conv2dAttrs = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, hasBias: true, act: 'tanh', alpha: 0.01 };
    const f = (x: Tensor, w: Tensor, b: Tensor) => x.graph.apply(CONV2D, [x, w, b], attrs)[0]!;
    await expectBackendsAgree(await gpuBackend(), f, [{ shape: [3, 5, 7, 9] }, { shape: [3, 5, 3, 3] }, { shape: [3] }]);
  });
});
