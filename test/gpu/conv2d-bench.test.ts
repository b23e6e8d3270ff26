import { it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { view } from '../../src/backend/kernel.js';
import { type Conv2dGeometry, conv2dGradInputLaunch, conv2dGradWeightLaunch, conv2dLaunch, convOutputSize } from '../../src/kernels/conv2d.js';
import { matmulLaunch } from '../../src/kernels/matmul.js';
import { cpuBackend, gpuBackend } from '../harness.js';

async function bench(backend: Backend, name: string, c: Conv2dGeometry, reps: number) {
  const oH = convOutputSize(c.inH, c.kH, c.stride[0], c.padding[0], c.dilation[0]);
  const oW = convOutputSize(c.inW, c.kW, c.stride[1], c.padding[1], c.dilation[1]);
  const mk = (n: number) => view(backend.createBuffer(Math.max(256, n * 4), 'b'));
  const x = mk(c.batch * c.cIn * c.inH * c.inW), w = mk(c.cOut * c.cIn / c.groups * c.kH * c.kW), b = mk(c.cOut);
  const y = mk(c.batch * c.cOut * oH * oW), dy = mk(c.batch * c.cOut * oH * oW), dx = mk(c.batch * c.cIn * c.inH * c.inW);
  const dw = mk(c.cOut * c.cIn / c.groups * c.kH * c.kW), db = mk(c.cOut), d = mk(64);
  const flops = 2 * c.batch * c.cOut * oH * oW * (c.cIn / c.groups) * c.kH * c.kW;
  const launches = {
    forward: conv2dLaunch(c, { x, weight: w, bias: b, y }, { hasBias: true }, d),
    gradInput: conv2dGradInputLaunch(c, { dy, weight: w, dx }, {}, d),
    gradWeight: conv2dGradWeightLaunch(c, { dy, x, dweight: dw, dbias: db }, { hasBias: true }, d),
  };
  for (const [k, l] of Object.entries(launches)) {
    const p = backend.compile([l], k);
    backend.run(p); await backend.idle();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) backend.run(p);
    await backend.idle();
    const ms = (performance.now() - t0) / reps;
    console.log(`${backend.kind} ${name} ${k}: ${ms.toFixed(2)} ms, ${(flops / ms / 1e6).toFixed(2)} GFLOP/s wg=${JSON.stringify(l.workgroups)} ${JSON.stringify(l.overrides)}`);
  }
}
const g = (o: Partial<Conv2dGeometry> & Pick<Conv2dGeometry, 'batch' | 'cIn' | 'inH' | 'inW' | 'cOut' | 'kH' | 'kW'>): Conv2dGeometry => ({ stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, ...o });
it('bench', async () => {
  const gpu = await gpuBackend();
  const c1 = g({ batch: 32, cIn: 1, inH: 28, inW: 28, cOut: 16, kH: 3, kW: 3 });
  const c2 = g({ batch: 32, cIn: 16, inH: 14, inW: 14, cOut: 32, kH: 3, kW: 3 });
  for (const be of [gpu, cpuBackend()]) {
    await bench(be, 'conv1', c1, 3);
    await bench(be, 'conv2', c2, 3);
  }
  // matmul reference at similar flops: M=6272 N=32 K=144
  const mk = (n: number) => view(gpu.createBuffer(Math.max(256, n * 4), 'b'));
  const l = matmulLaunch({ m: 32, n: 6272, k: 144 }, { a: mk(32 * 144), b: mk(144 * 6272), c: mk(32 * 6272) }, mk(64));
  const p = gpu.compile([l], 'mm'); gpu.run(p); await gpu.idle();
  const t0 = performance.now(); for (let i = 0; i < 3; i++) gpu.run(p); await gpu.idle();
  const ms = (performance.now() - t0) / 3;
  console.log(`matmul 32x6272x144: ${ms.toFixed(2)} ms ${(2 * 32 * 6272 * 144 / ms / 1e6).toFixed(2)} GFLOP/s`);
}, 600_000);
