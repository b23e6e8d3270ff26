/**
 * The CPU backend's WebAssembly SIMD kernels against their TypeScript twins (the reference):
 * every matmul variant at awkward sizes and the Adam update with every option, on poisoned
 * outputs; torch's Adam trajectories; a whole MLP training step; heap growth between runs; the
 * fallback to the twins. The module is assembled from kernels.wat here, so the tests always run
 * the current source.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { WasmHeap } from '../../src/backend/cpu/wasm/heap.js';
import { loadWasmRuntime, type WasmRuntime } from '../../src/backend/cpu/wasm/runtime.js';
import { type Launch, view } from '../../src/backend/kernel.js';
import { createDevice, type Device } from '../../src/device.js';
import { type Activation } from '../../src/kernels/activations.js';
import { scaleLaunch } from '../../src/kernels/elementwise.js';
import { matmul, matmulLaunch, type MatmulOptions } from '../../src/kernels/matmul.js';
import * as nn from '../../src/nn/index.js';
import { Adam } from '../../src/optim/index.js';
import { adamUpdate } from '../../src/optim/adam.js';
import { sgdUpdate } from '../../src/optim/sgd.js';
import { Trainer } from '../../src/train/trainer.js';
import { assembleKernels, GENERATED_PATH } from '../../scripts/build-wasm.mjs';
import { cpuBackend, expectAllClose, randomArray, rng, runKernel } from '../harness.js';
import { driveCase, fixture } from '../optim-driver.js';

let bytes: Uint8Array<ArrayBuffer>;

async function runtime(): Promise<WasmRuntime> {
  const load = await loadWasmRuntime(bytes);
  if (!load.runtime) throw new Error(`no WebAssembly runtime: ${load.reason}`);
  return load.runtime;
}

async function wasmBackend(): Promise<CpuBackend> {
  return new CpuBackend({ wasm: await runtime() });
}

beforeAll(async () => {
  bytes = await assembleKernels();
});

/** True when `launch` runs in WebAssembly on `rt` rather than falling back to its twin. */
function handled(rt: WasmRuntime, launch: Launch): boolean {
  return rt.plan(launch, () => 64) !== null;
}

const MATMUL_SIZES: readonly [number, number, number][] = [
  [1, 1, 1],
  [7, 33, 5],
  [33, 7, 127],
  [127, 33, 7],
  [4, 8, 16],
  [12, 17, 1],
  [5, 1, 33],
];

interface MatmulCase {
  readonly name: string;
  readonly opts: Omit<MatmulOptions, 'm' | 'n' | 'k'>;
}

const MATMUL_CASES: readonly MatmulCase[] = [
  { name: 'plain', opts: {} },
  { name: 'bias + relu', opts: { hasBias: true, act: 'relu' } },
  { name: 'relu gate + row sums', opts: { gate: 'relu', onesCol: true } },
  { name: 'identity gate + bias', opts: { gate: 'identity', hasBias: true } },
  { name: 'leaky gate, leaky act', opts: { gate: 'leaky_relu', act: 'leaky_relu', alpha: 0.2 } },
  { name: 'sigmoid gate + row sums, sigmoid act', opts: { gate: 'sigmoid', onesCol: true, act: 'sigmoid', hasBias: true } },
  { name: 'tanh gate, tanh act', opts: { gate: 'tanh', act: 'tanh' } },
  { name: 'gelu act + bias', opts: { act: 'gelu', hasBias: true } },
];

/** Runs one matmul launch on a backend, every output poisoned first. */
async function runMatmul(backend: CpuBackend, opts: MatmulOptions, seed: number) {
  const { m, n, k } = opts;
  const batch = opts.batch ?? 1;
  const span = (stride: number | undefined, size: number) => (batch - 1) * (stride ?? size) + size;
  const aLen = span(opts.batchStrideA, m * k);
  const gateKind: Activation | null = opts.gate ?? null;
  // sigmoid and tanh gates hold activation outputs: keep them in their ranges
  const [lo, hi] = gateKind === 'sigmoid' ? [0, 1] : [-1, 1];
  const inputs = {
    a: randomArray(aLen, -1, 1, seed),
    b: randomArray(span(opts.batchStrideB, k * n), -1, 1, seed + 1),
    gate: randomArray(aLen, lo, hi, seed + 2),
    bias: randomArray(n, -1, 1, seed + 3),
  };
  const dummy = view(backend.createBuffer(4 * Math.max(aLen, inputs.b.length, span(opts.batchStrideC, m * n)), 'dummy'));
  const launch = matmulLaunch(opts, { a: dummy, b: dummy, c: dummy, gate: dummy, bias: dummy, biasOut: dummy }, dummy);
  backend.destroyBuffer(dummy.buffer);
  return runKernel(backend, matmul, {
    inputs,
    outputs: { c: span(opts.batchStrideC, m * n), bias_out: m },
    params: launch.params!,
    overrides: launch.overrides!,
    workgroups: launch.workgroups,
  });
}

describe('WebAssembly matmul matches its twin', () => {
  for (const c of MATMUL_CASES) {
    it(`${c.name}, every transpose, awkward sizes`, async () => {
      const wasm = await wasmBackend();
      const ts = cpuBackend() as CpuBackend;
      let seed = 11;
      for (const [m, n, k] of MATMUL_SIZES) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const opts: MatmulOptions = { m, n, k, transA, transB, ...c.opts };
            const label = `${c.name} ${m}x${n}x${k} transA=${transA} transB=${transB}`;
            seed += 7;
            const [got, want] = [await runMatmul(wasm, opts, seed), await runMatmul(ts, opts, seed)];
            expectAllClose(got.c!, want.c!, { rtol: 1e-5, atol: 2e-6 * Math.sqrt(k), label: `${label} c` });
            // the row sums are accumulated in f64 in the same order: identical
            expectAllClose(got.bias_out!, want.bias_out!, { rtol: 0, atol: 0, label: `${label} bias_out` });
          }
        }
      }
    });
  }

  it('batched, with strides and a broadcast operand', async () => {
    const wasm = await wasmBackend();
    const ts = cpuBackend() as CpuBackend;
    const cases: MatmulOptions[] = [
      { m: 7, n: 9, k: 5, batch: 3 },
      { m: 7, n: 9, k: 5, batch: 3, transA: true, transB: true, act: 'relu' },
      { m: 6, n: 10, k: 3, batch: 4, batchStrideA: 0 },
      { m: 6, n: 10, k: 3, batch: 2, batchStrideB: 0, transB: true, gate: 'relu' },
      { m: 5, n: 8, k: 4, batch: 2, batchStrideA: 21, batchStrideB: 35, batchStrideC: 41, act: 'tanh' },
    ];
    for (const [i, opts] of cases.entries()) {
      const [got, want] = [await runMatmul(wasm, opts, 100 + i), await runMatmul(ts, opts, 100 + i)];
      expectAllClose(got.c!, want.c!, { rtol: 1e-5, atol: 1e-5, label: `batch case ${i}` });
    }
  });

  it('runs in WebAssembly for every variant but a gelu gate, which falls back to the twin', async () => {
    const rt = await runtime();
    const dummy = view(new CpuBackend().createBuffer(4 << 20, 'dummy'));
    const b = { a: dummy, b: dummy, c: dummy, gate: dummy, bias: dummy, biasOut: dummy };
    for (const c of MATMUL_CASES) expect(handled(rt, matmulLaunch({ m: 3, n: 3, k: 3, ...c.opts }, b, dummy)), c.name).toBe(true);
    const gelu = matmulLaunch({ m: 3, n: 3, k: 3, gate: 'gelu' }, b, dummy);
    expect(handled(rt, gelu)).toBe(false);
    const wasm = await wasmBackend();
    const opts: MatmulOptions = { m: 9, n: 5, k: 7, gate: 'gelu', onesCol: true };
    const [got, want] = [await runMatmul(wasm, opts, 5), await runMatmul(cpuBackend() as CpuBackend, opts, 5)];
    expectAllClose(got.c!, want.c!, { rtol: 0, atol: 0 });
  });
});

/** One launch of an update kernel over `n` elements with `overrides`, inputs from `seed`. */
async function runUpdate(kernel: typeof adamUpdate | typeof sgdUpdate, backend: CpuBackend, n: number, overrides: Record<string, number>, hyper: number[], seed: number, clipValue = 0) {
  const next = rng(seed);
  const state = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    state[i] = next() - 0.5;
    state[n + i] = next() * 0.01;
    state[2 * n + i] = next() * 0.02;
  }
  const weights = randomArray(n, -1, 1, seed + 1);
  weights[0] = 0;
  return runKernel(backend, kernel, {
    inputs: {
      weights,
      grads: randomArray(n, -1, 1, seed + 2),
      state,
      hyper: Float32Array.from(hyper),
      stats: Float32Array.from([2.5, 0.4, 0.7, 0]),
    },
    params: { n, stride: n, clip_value: clipValue },
    overrides: { ...overrides, elems: 1, wg: 64 },
    workgroups: [Math.ceil(n / 256), 1, 1],
  });
}

describe('WebAssembly Adam matches its twin', () => {
  // l1, l2, step_size, bc2_sqrt, beta1, 1 - beta1, beta2, 1 - beta2, eps, decay
  const HYPER = [0, 0, 1e-3 / 0.1, Math.sqrt(1 - 0.999), 0.9, 0.1, 0.999, 0.001, 1e-8, 0];
  const VARIANTS: [string, Record<string, number>, number[]][] = [
    ['plain', {}, HYPER],
    ['weight decay + amsgrad', { amsgrad: 1 }, HYPER.map((h, i) => (i === 9 ? 0.01 : h))],
    ['AdamW (decoupled)', { decoupled: 1 }, HYPER.map((h, i) => (i === 9 ? 1e-4 : h))],
    ['l1 + l2 + clip by norm + maximize', { clip_by_norm: 1, maximize: 1 }, HYPER.map((h, i) => (i === 0 ? 0.01 : i === 1 ? 0.02 : h))],
    ['clip by value + scaled lr', { clip_by_value: 1, scale_lr: 1 }, HYPER],
  ];
  it.each(VARIANTS)('%s', async (_name, overrides, hyper) => {
    const wasm = await wasmBackend();
    for (const n of [4, 64, 1028]) {
      const got = await runUpdate(adamUpdate, wasm, n, overrides, hyper, n, 0.3);
      const want = await runUpdate(adamUpdate, cpuBackend() as CpuBackend, n, overrides, hyper, n, 0.3);
      expectAllClose(got.weights!, want.weights!, { rtol: 1e-6, atol: 1e-7, label: `weights n=${n}` });
      // each fma rounds twice here, once in the twin: where its terms cancel, that is an
      // absolute error of an ulp of the terms
      expectAllClose(got.state!, want.state!, { rtol: 1e-6, atol: 1e-8, label: `state n=${n}` });
    }
  });

  it('leaves a group whose length is not a multiple of 4 to the twin', async () => {
    const rt = await runtime();
    const dummy = view(new CpuBackend().createBuffer(4096, 'dummy'));
    const launch = (n: number): Launch => ({
      kernel: adamUpdate,
      bindings: { weights: dummy, grads: dummy, state: dummy, hyper: dummy, stats: dummy },
      params: { n, stride: n, clip_value: 0 },
      workgroups: [1, 1, 1],
    });
    expect(handled(rt, launch(8))).toBe(true);
    expect(handled(rt, { ...launch(8), kernel: sgdUpdate })).toBe(true);
    expect(handled(rt, launch(7))).toBe(false);
    const got = await runUpdate(adamUpdate, await wasmBackend(), 7, {}, HYPER, 3);
    const want = await runUpdate(adamUpdate, cpuBackend() as CpuBackend, 7, {}, HYPER, 3);
    expectAllClose(got.weights!, want.weights!, { rtol: 0, atol: 0 });
  });

  const adamCases = fixture.cases.filter((c) => /^(adam|adamw|sgd)(_|$)/.test(c.name));
  it.each(adamCases.map((c) => [c.name, c] as const))('Adam and SGD reproduce torch 1.13: %s', async (_name, c) => {
    const run = await driveCase(await wasmBackend(), c);
    run.trajectory.forEach((values, s) => {
      expectAllClose(values, c.trajectory[s]!, { rtol: 1e-6, atol: 1e-7, label: `${c.name} step ${s + 1}` });
    });
    expect(run.paddingMax).toBe(0);
  });
});

describe('WebAssembly SGD matches its twin', () => {
  // l1, l2, lr, first_step, momentum, 1 - dampening, weight_decay
  const HYPER = [0, 0, 0.05, 0, 0.9, 0.8, 0];
  const VARIANTS: [string, Record<string, number>, number[]][] = [
    ['plain', {}, HYPER],
    ['momentum, first step', { has_momentum: 1 }, HYPER.map((h, i) => (i === 3 ? 1 : h))],
    ['momentum + weight decay', { has_momentum: 1 }, HYPER.map((h, i) => (i === 6 ? 0.01 : h))],
    ['nesterov + l1 + l2 + clip by norm + maximize', { has_momentum: 1, nesterov: 1, clip_by_norm: 1, maximize: 1 }, HYPER.map((h, i) => (i === 0 ? 0.01 : i === 1 ? 0.02 : h))],
    ['clip by value + scaled lr', { clip_by_value: 1, scale_lr: 1 }, HYPER],
  ];
  it.each(VARIANTS)('%s', async (_name, overrides, hyper) => {
    const wasm = await wasmBackend();
    for (const n of [4, 64, 1028]) {
      const got = await runUpdate(sgdUpdate, wasm, n, overrides, hyper, n, 0.3);
      const want = await runUpdate(sgdUpdate, cpuBackend() as CpuBackend, n, overrides, hyper, n, 0.3);
      // fma rounds twice here: where its terms (of order 1) cancel, an ulp of them, 6e-8
      expectAllClose(got.weights!, want.weights!, { rtol: 1e-6, atol: 1e-7, label: `weights n=${n}` });
      expectAllClose(got.state!, want.state!, { rtol: 1e-6, atol: 1e-7, label: `state n=${n}` });
    }
  });
});

function mlp(): nn.Sequential {
  nn.manualSeed(3);
  return new nn.Sequential(new nn.Linear(37, 33), new nn.ReLU(), new nn.Linear(33, 19), new nn.Tanh(), new nn.Linear(19, 7));
}

function device(backend: CpuBackend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

describe('a training step on WebAssembly', () => {
  it('matches the TypeScript twins: loss, gradients and Adam-updated weights', async () => {
    const batch = 13;
    const x = randomArray(batch * 37, -1, 1, 21);
    const y = Int32Array.from({ length: batch }, (_, i) => (i * 5) % 7);
    const results = [];
    for (const backend of [await wasmBackend(), cpuBackend() as CpuBackend]) {
      const model = mlp();
      const trainer = new Trainer(device(backend), model, {
        loss: new nn.CrossEntropyLoss(),
        optimizer: new Adam(model.parameters(), { lr: 1e-3 }),
        inputShape: [37],
      });
      const loss = await trainer.step(x, y).loss;
      const gradients = await trainer.gradients();
      const weights = await model.stateDict();
      await trainer.dispose();
      results.push({ loss, gradients, weights });
    }
    const [got, want] = results as [(typeof results)[0], (typeof results)[0]];
    expect(got.loss).toBeCloseTo(want.loss, 5);
    for (const name of Object.keys(want.gradients)) {
      expectAllClose(got.gradients[name]!, want.gradients[name]!, { rtol: 1e-5, atol: 1e-7, label: `grad ${name}` });
    }
    // Adam's first step moves each weight by about lr * sign(g): a gradient that differs only
    // in its last bits moves it the same
    for (const name of Object.keys(want.weights)) {
      expectAllClose(got.weights[name]!, want.weights[name]!, { rtol: 1e-5, atol: 1e-6, label: `weight ${name}` });
    }
  });
});

describe('the WebAssembly heap', () => {
  it('keeps right answers when it grows between runs', async () => {
    const m = 9;
    const n = 11;
    const k = 13;
    const a = randomArray(m * k, -1, 1, 1);
    const b = randomArray(k * n, -1, 1, 2);
    // A matmul (WebAssembly) then a scale (a twin, reading views of the heap): after a growth
    // both must see the moved memory.
    const setup = (backend: CpuBackend) => {
      const bufA = backend.createBuffer(a.byteLength, 'a');
      const bufB = backend.createBuffer(b.byteLength, 'b');
      const bufC = backend.createBuffer(m * n * 4, 'c');
      const bufD = backend.createBuffer(m * n * 4, 'd');
      const dummy = view(backend.createBuffer(256, 'dummy'));
      backend.write(bufA, a);
      backend.write(bufB, b);
      const program = backend.compile(
        [matmulLaunch({ m, n, k }, { a: view(bufA), b: view(bufB), c: view(bufC) }, dummy), scaleLaunch({ x: view(bufC), out: view(bufD) }, m * n, 2)],
        'grow',
      );
      return { program, bufC, bufD };
    };
    const ts = cpuBackend() as CpuBackend;
    const reference = setup(ts);
    ts.run(reference.program);
    const want = new Float32Array(await ts.read(reference.bufD));

    const backend = await wasmBackend();
    const heap = (backend as unknown as { wasm: WasmRuntime }).wasm.heap;
    const { program, bufC, bufD } = setup(backend);
    backend.run(program);
    expectAllClose(new Float32Array(await backend.read(bufD)), want, { label: 'before growth' });
    const generation = heap.generation;
    const big = backend.createBuffer(64 * 2 ** 20, 'big');
    expect(heap.generation).toBeGreaterThan(generation);
    backend.write(bufC, new Float32Array(m * n).fill(NaN));
    backend.write(bufD, new Float32Array(m * n).fill(NaN));
    backend.run(program);
    expectAllClose(new Float32Array(await backend.read(bufD)), want, { label: 'after growth' });
    backend.destroyBuffer(big);
  });

  it('reuses released ranges, zero-filled, and merges neighbours', () => {
    const heap = new WasmHeap(65536);
    const a = heap.allocate(100, 'a');
    const b = heap.allocate(200, 'b');
    const c = heap.allocate(64, 'c');
    expect(a % 64).toBe(0);
    expect(b).toBe(a + 128);
    new Uint8Array(heap.bytes, b, 200).fill(7);
    heap.release(a);
    heap.release(b);
    // a and b merged: 384 bytes fit where they were
    const d = heap.allocate(384, 'd');
    expect(d).toBe(a);
    expect(new Uint8Array(heap.bytes, d, 384).every((x) => x === 0)).toBe(true);
    heap.release(c);
    heap.release(c);
    heap.release(d);
    expect(heap.usage.live).toBe(0);
    expect(heap.usage.top).toBe(64);
    const generation = heap.generation;
    heap.allocate(3 * 65536, 'grows');
    expect(heap.generation).toBe(generation + 1);
  });
});

describe('choosing the CPU kernels', () => {
  it("createDevice({ backend: 'cpu' }) runs WebAssembly SIMD and says so", async () => {
    const device = await createDevice({ backend: 'cpu' });
    expect(device.backend.description).toBe('CPU (WebAssembly SIMD)');
    expect(device.reason).toBe('requested (kernels: WebAssembly SIMD)');
    const auto = await createDevice({ gpu: undefined });
    expect(auto.reason).toMatch(/^fell back to the CPU: WebGPU is not available.*\(kernels: WebAssembly SIMD\)$/);
  });

  it('wasm: false gives the TypeScript twins', async () => {
    const device = await createDevice({ backend: 'cpu', wasm: false });
    expect(device.backend.description).toBe('CPU (TypeScript kernels)');
    expect(device.reason).toBe('requested (kernels: TypeScript twins, wasm: false)');
  });

  it('falls back, with a reason, when the module does not validate', async () => {
    // a module using an opcode this engine rejects stands for an engine without SIMD
    const load = await loadWasmRuntime(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff]));
    expect(load.runtime).toBeNull();
    expect(load.reason).toMatch(/lacks SIMD/);
  });

  it('the built module is the current kernels.wat (run `npm run build` after editing it)', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(GENERATED_PATH, 'utf8');
    expect(text).toContain(`'${Buffer.from(bytes).toString('base64')}'`);
  });
});
