import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { view } from '../../src/backend/kernel.js';
import type { Activation } from '../../src/kernels/activations.js';
import { matmul, matmulLaunch, type MatmulOptions } from '../../src/kernels/matmul.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray, runKernel } from '../harness.js';

// A stand-in long enough for any shape under test: only the launch's params and grid are used.
const FAKE = { buffer: { id: 0, byteLength: 4 << 20, label: 'fake' }, offset: 0, length: 1 << 20 };
const TOL = { rtol: 1e-4, atol: 1e-5 };

/** Runs the matmul as `matmulLaunch` sets it up, with unused buffers bound to a 1-element dummy. */
async function run(backend: Backend, o: MatmulOptions, inputs: Record<string, Float32Array>) {
  const launch = matmulLaunch(o, { a: FAKE, b: FAKE, c: FAKE, gate: FAKE, bias: FAKE, biasOut: FAKE }, FAKE);
  const tiny = new Float32Array(1);
  return runKernel(backend, matmul, {
    inputs: { gate: tiny, bias: tiny, ...inputs },
    outputs: { c: o.m * o.n, bias_out: o.onesCol ? o.m : 1 },
    params: launch.params!,
    overrides: launch.overrides!,
    workgroups: launch.workgroups,
  });
}

async function compare(o: MatmulOptions): Promise<void> {
  const { m, n, k } = o;
  const inputs: Record<string, Float32Array> = { a: randomArray(m * k), b: randomArray(k * n) };
  if (o.gate) inputs.gate = randomArray(m * k, -1.5, 1.5);
  if (o.hasBias) inputs.bias = randomArray(n);
  const gpu = await run(await gpuBackend(), o, inputs);
  const cpu = await run(cpuBackend(), o, inputs);
  const label = JSON.stringify(o);
  expectAllClose(gpu.c!, cpu.c!, { ...TOL, label: `${label} c` });
  if (o.onesCol) expectAllClose(gpu.bias_out!, cpu.bias_out!, { ...TOL, label: `${label} bias_out` });
}

const shapes: [number, number, number][] = [
  [1, 1, 1],
  [7, 33, 129],
  [129, 7, 33],
  [64, 64, 64],
  [65, 130, 67],
];
const transposes = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

describe('matmul (WGSL) against its CPU twin', () => {
  it.each(shapes)('plain product at M=%i N=%i K=%i, every transpose', async (m, n, k) => {
    for (const [transA, transB] of transposes) await compare({ m, n, k, transA, transB });
  });

  // Forward layers (bias + activation), backward data products (gate), and the weight gradient
  // (gate, transposed A, ones column), each at a shape that leaves partial tiles on every axis.
  const variants: [string, Partial<MatmulOptions>][] = [
    ['linear + relu', { transB: true, hasBias: true, act: 'relu' }],
    ['linear + gelu', { transB: true, hasBias: true, act: 'gelu' }],
    ['linear + sigmoid, no bias', { act: 'sigmoid' }],
    ['leaky_relu epilogue', { hasBias: true, act: 'leaky_relu', alpha: 0.2 }],
    ['tanh epilogue', { transA: true, act: 'tanh' }],
    ['relu-gated dx', { gate: 'relu' }],
    ['tanh-gated dx, transposed B', { gate: 'tanh', transB: true }],
    ['relu-gated dW with bias gradient', { transA: true, gate: 'relu', onesCol: true }],
    ['leaky-gated dW with bias gradient', { transA: true, gate: 'leaky_relu', alpha: 0.1, onesCol: true }],
    ['gelu-gated dW with bias gradient', { transA: true, gate: 'gelu' as Activation, onesCol: true }],
    ['sigmoid gate + ones column + bias + act', { gate: 'sigmoid', onesCol: true, hasBias: true, act: 'tanh', transB: true }],
  ];
  it.each(variants)('%s', async (_name, v) => {
    for (const [m, n, k] of [[1, 1, 1], [65, 70, 33], [130, 9, 67]] as const) await compare({ m, n, k, ...v });
  });
});

describe('matmul narrow tiles (a side of 32 or less) against the CPU twin', () => {
  // The step of a 10-class layer: forward, weight gradient with its bias, input gradient; and a
  // 32 x 32 tile with partial blocks on both axes.
  it.each([
    ['10-column forward', { m: 33, n: 10, k: 40, transB: true, hasBias: true, act: 'relu' }],
    ['10-row weight gradient', { m: 10, n: 70, k: 33, transA: true, gate: 'relu', onesCol: true }],
    ['10-deep input gradient', { m: 33, n: 70, k: 10, gate: 'relu' }],
    ['32 x 32 tile', { m: 17, n: 20, k: 5, onesCol: true }],
  ] as [string, MatmulOptions][])('%s', async (_name, o) => {
    await compare(o);
  });
});

describe('matmulLaunch on WebGPU', () => {
  // runKernel gives every binding its own buffer; this runs the bindings matmulLaunch chooses
  // (absent inputs aliasing `a`, an absent bias_out on the dummy), which WebGPU must accept.
  it.each([
    ['no optional buffers', {}],
    ['every optional buffer', { gate: 'relu', hasBias: true, onesCol: true, act: 'tanh' }],
  ] as [string, Partial<MatmulOptions>][])('%s: passes validation and matches the twin', async (_name, v) => {
    const backend = await gpuBackend();
    const o: MatmulOptions = { m: 33, n: 70, k: 20, ...v };
    const host = { a: randomArray(o.m * o.k), b: randomArray(o.k * o.n), gate: randomArray(o.m * o.k), bias: randomArray(o.n) };
    const upload = (data: Float32Array, name: string) => {
      const buf = backend.createBuffer(data.byteLength, `test/${name}`);
      backend.write(buf, data);
      return buf;
    };
    const a = upload(host.a, 'a');
    const b = upload(host.b, 'b');
    const gate = upload(host.gate, 'gate');
    const bias = upload(host.bias, 'bias');
    const c = backend.createBuffer(o.m * o.n * 4, 'test/c');
    const biasOut = backend.createBuffer(o.m * 4, 'test/biasOut');
    const dummy = backend.createBuffer(4, 'test/dummy');
    const bindings = {
      a: view(a),
      b: view(b),
      c: view(c),
      ...(o.gate ? { gate: view(gate) } : {}),
      ...(o.hasBias ? { bias: view(bias) } : {}),
      ...(o.onesCol ? { biasOut: view(biasOut) } : {}),
    };
    const program = backend.compile([matmulLaunch(o, bindings, view(dummy), 'test')], 'test/matmulLaunch');
    backend.device.pushErrorScope('validation');
    backend.run(program);
    const error = await backend.device.popErrorScope();
    expect(error?.message ?? null).toBeNull();
    await backend.health();
    const got = new Float32Array(await backend.read(c));
    const gotBiasOut = new Float32Array(await backend.read(biasOut));
    const cpu = await run(cpuBackend(), o, { a: host.a, b: host.b, gate: host.gate, bias: host.bias });
    expectAllClose(got, cpu.c!, { ...TOL, label: 'c' });
    if (o.onesCol) expectAllClose(gotBiasOut, cpu.bias_out!, { ...TOL, label: 'bias_out' });
    program.dispose();
    for (const buf of [a, b, gate, bias, c, biasOut, dummy]) backend.destroyBuffer(buf);
  });
});
