/**
 * Pooling on WebGPU against the CPU twins: each kernel at awkward sizes with poisoned outputs,
 * and each op through the compiled graph (values and gradients) with poisoned scratch memory.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { type BufferView, type DeviceBuffer, view } from '../../src/backend/kernel.js';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from '../../src/graph/ops/pool.js';
import { type Pool2dGeometry, pool2dGradLaunch, pool2dLaunch, type PoolMode } from '../../src/kernels/pool2d.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, rng, runKernel } from '../harness.js';
import { expectBackendsAgree } from '../op-check.js';

const fake = (n: number): BufferView => view({ id: 0, byteLength: Math.max(4, n * 4), label: 'fake' } as DeviceBuffer, 0, n);
const TOL = { rtol: 1e-5, atol: 1e-6 };

interface Case {
  readonly mode: PoolMode;
  readonly geom: Pool2dGeometry;
  readonly includePad?: boolean;
  /** Small integers, so that windows hold exact ties. */
  readonly ties?: boolean;
}

function geom(planes: number, h: number, w: number, oh: number, ow: number, k: number[] = [1, 1], s = k, p = [0, 0], d = [1, 1]): Pool2dGeometry {
  return { planes, h, w, oh, ow, kh: k[0]!, kw: k[1]!, sh: s[0]!, sw: s[1]!, ph: p[0]!, pw: p[1]!, dh: d[0]!, dw: d[1]! };
}

// Output sizes by torch's formula, worked out by hand for each line.
const CASES: [string, Case][] = [
  ['max 2x2, 1 plane 5x7', { mode: 'max', geom: geom(1, 5, 7, 2, 3, [2, 2]) }],
  ['max 3x3 stride 2 padding 1, 33 planes 13x9', { mode: 'max', geom: geom(33, 13, 9, 7, 5, [3, 3], [2, 2], [1, 1]) }],
  ['max 3x2 stride (1, 2) padding (1, 0), 7 planes', { mode: 'max', geom: geom(7, 9, 11, 9, 5, [3, 2], [1, 2], [1, 0]) }],
  ['max 3x3 dilation (2, 3), 7 planes 17x19', { mode: 'max', geom: geom(7, 17, 19, 8, 8, [3, 3], [2, 2], [1, 1], [2, 3]) }],
  ['max 3x3 stride 2 ceil, 7 planes 8x10', { mode: 'max', geom: geom(7, 8, 10, 4, 5, [3, 3], [2, 2]) }],
  ['max 3x3 stride 1 padding 1 ties, 33 planes', { mode: 'max', geom: geom(33, 7, 6, 7, 6, [3, 3], [1, 1], [1, 1]), ties: true }],
  ['max all-padding window', { mode: 'max', geom: geom(1, 2, 2, 1, 1, [2, 2], [1, 1], [1, 1], [3, 3]) }],
  ['avg 2x2, 33 planes 7x9', { mode: 'avg', geom: geom(33, 7, 9, 3, 4, [2, 2]) }],
  ['avg 3x3 stride 2 padding 1, 7 planes 13x9', { mode: 'avg', geom: geom(7, 13, 9, 7, 5, [3, 3], [2, 2], [1, 1]) }],
  ['avg 3x3 stride 2 padding 1 excluding pad', { mode: 'avg', geom: geom(7, 13, 9, 7, 5, [3, 3], [2, 2], [1, 1]), includePad: false }],
  ['avg 3x3 stride 2 padding 1 ceil 8x8', { mode: 'avg', geom: geom(7, 8, 8, 5, 5, [3, 3], [2, 2], [1, 1]) }],
  ['avg ceil 8x8 excluding pad', { mode: 'avg', geom: geom(7, 8, 8, 5, 5, [3, 3], [2, 2], [1, 1]), includePad: false }],
  ['avg 2x3 stride (1, 2) padding (1, 1), 1 plane', { mode: 'avg', geom: geom(1, 5, 7, 6, 4, [2, 3], [1, 2], [1, 1]) }],
  ['adaptive 7x7 to 3x3, 33 planes', { mode: 'adaptive', geom: geom(33, 7, 7, 3, 3) }],
  ['adaptive 13x10 to 5x4, 7 planes', { mode: 'adaptive', geom: geom(7, 13, 10, 5, 4) }],
  ['adaptive 3x5 to 4x7 (upsampling)', { mode: 'adaptive', geom: geom(7, 3, 5, 4, 7) }],
  ['adaptive global, 129 planes 5x3', { mode: 'adaptive', geom: geom(129, 5, 3, 1, 1) }],
];

async function runBoth(backend: Backend, c: Case, x: Float32Array, dy: Float32Array) {
  const opts = { countIncludePad: c.includePad !== false };
  const fwd = pool2dLaunch(c.mode, c.geom, { x: fake(x.length), y: fake(dy.length) }, opts);
  const bwd = pool2dGradLaunch(c.mode, c.geom, { x: fake(x.length), dy: fake(dy.length), dx: fake(x.length) }, opts);
  const at = (l: typeof fwd) => ({ params: l.params!, overrides: l.overrides ?? {}, workgroups: l.workgroups });
  const y = (await runKernel(backend, fwd.kernel, { inputs: { x }, outputs: { y: dy.length }, ...at(fwd) })).y!;
  const inputs: Record<string, Float32Array> = c.mode === 'max' ? { x, dy } : { dy };
  const dx = (await runKernel(backend, bwd.kernel, { inputs, outputs: { dx: x.length }, ...at(bwd) })).dx!;
  return { y, dx };
}

describe('pooling kernels on WebGPU equal the CPU twins', () => {
  it.each(CASES)('%s', async (_name, c) => {
    const { planes, h, w, oh, ow } = c.geom;
    const next = rng(21);
    const x = c.ties ? Float32Array.from({ length: planes * h * w }, () => Math.floor(next() * 3)) : randomArray(planes * h * w, -2, 2, 21);
    const dy = randomArray(planes * oh * ow, -1, 1, 22);
    const gpu = await runBoth(await gpuBackend(), c, x, dy);
    const cpu = await runBoth(cpuBackend(), c, x, dy);
    expectAllClose(gpu.y, cpu.y, { ...TOL, label: 'y' });
    expectAllClose(gpu.dx, cpu.dx, { ...TOL, label: 'dx' });
  });

  it('writes -inf for a window made only of padding', async () => {
    const c = CASES.find(([n]) => n === 'max all-padding window')![1];
    const got = await runBoth(await gpuBackend(), c, new Float32Array([1, 2, 3, 4]), new Float32Array([1]));
    expect([...got.y]).toEqual([-Infinity]);
    expect([...got.dx]).toEqual([0, 0, 0, 0]);
  });
});

describe('pooling ops on WebGPU agree with the CPU backend', () => {
  it.each<[string, number[]]>([
    ['[1, 1, 5, 7]', [1, 1, 5, 7]],
    ['[3, 11, 9, 13]', [3, 11, 9, 13]],
  ])('maxPool2d, avgPool2d and adaptiveAvgPool2d on %s', async (_name, shape) => {
    const gpu = await gpuBackend();
    const x = [{ shape }];
    await expectBackendsAgree(gpu, (t) => maxPool2d(t, 2), x);
    await expectBackendsAgree(gpu, (t) => maxPool2d(t, 3, { stride: 2, padding: 1, dilation: [1, 2], ceilMode: true }), x);
    await expectBackendsAgree(gpu, (t) => avgPool2d(t, 3, { stride: 2, padding: 1 }), x);
    await expectBackendsAgree(gpu, (t) => avgPool2d(t, [2, 3], { stride: 1, padding: [1, 1], countIncludePad: false, ceilMode: true }), x);
    await expectBackendsAgree(gpu, (t) => adaptiveAvgPool2d(t, [3, 4]), x);
    await expectBackendsAgree(gpu, (t) => adaptiveAvgPool2d(t, 1), x);
  });

  it('unbatched [C, H, W] input', async () => {
    await expectBackendsAgree(await gpuBackend(), (t) => maxPool2d(t, 2, { stride: 1 }), [{ shape: [7, 6, 5] }]);
  });
});
