/**
 * Shared test helpers: the backends under test, a kernel runner that poisons outputs first, and
 * an all-close comparison that names the worst element.
 */
import { expect } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import type { KernelSpec, TypedArray } from '../src/backend/kernel.js';
import { alignUp, VIEW_ALIGN, view } from '../src/backend/kernel.js';
import { WebGpuBackend } from '../src/backend/webgpu/webgpu-backend.js';
import { mulberry32 } from '../src/data/random.js';
import { createDevice } from '../src/device.js';

let gpuPromise: Promise<WebGpuBackend> | null = null;

const INSTALL_HINT =
  'The GPU tier needs WebGPU in Node: the npm package "webgpu" (a dev dependency) and a Vulkan driver. ' +
  'On a machine without a GPU install SwiftShader with `apt-get install -y chromium` and run the tier through ' +
  '`npm test` (it sets VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json and LD_LIBRARY_PATH=/usr/lib/chromium).';

/** The Dawn-backed WebGPU backend, opened once per test file. Fails (never skips) when absent. */
export function gpuBackend(): Promise<WebGpuBackend> {
  gpuPromise ??= (async () => {
    let gpu: GPU;
    try {
      const webgpu = await import('webgpu');
      Object.assign(globalThis, webgpu.globals);
      gpu = webgpu.create([]) as GPU;
    } catch (e) {
      throw new Error(`${INSTALL_HINT}\n(${(e as Error).message})`);
    }
    try {
      const device = await createDevice({ backend: 'webgpu', gpu });
      return device.backend as WebGpuBackend;
    } catch (e) {
      throw new Error(`${INSTALL_HINT}\n(${(e as Error).message})`);
    }
  })();
  return gpuPromise;
}

export function cpuBackend(): Backend {
  return new CpuBackend();
}

/** Deterministic pseudo-random numbers, so a failing case can be replayed. */
export function rng(seed: number): () => number {
  return mulberry32(seed >>> 0);
}

/** Uniform values in [lo, hi). A fresh seed per call unless one is given. */
export function randomArray(n: number, lo = -1, hi = 1, seed = (Math.random() * 2 ** 31) | 0): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

export interface KernelRun {
  /** Initial contents for bindings (inputs, and read_write buffers that start with data). */
  readonly inputs?: Record<string, TypedArray>;
  /** Lengths of bindings that start poisoned (NaN for f32, 0x7fffffff for ints). */
  readonly outputs?: Record<string, number>;
  readonly params?: Record<string, number>;
  readonly overrides?: Record<string, number>;
  readonly workgroups: readonly [number, number, number];
}

/**
 * Runs one kernel on a backend: every binding gets its own buffer, at a non-zero aligned offset
 * inside a larger buffer so that offset handling is exercised too. Returns the final contents of
 * every read_write binding.
 */
export async function runKernel(backend: Backend, kernel: KernelSpec, run: KernelRun): Promise<Record<string, TypedArray>> {
  const bindings: Record<string, ReturnType<typeof view>> = {};
  const buffers = [];
  for (const b of kernel.bindings) {
    const data = run.inputs?.[b.name];
    const length = data ? data.length : run.outputs?.[b.name];
    if (length === undefined) throw new Error(`runKernel: no input or output length for binding '${b.name}'`);
    const offset = VIEW_ALIGN;
    const buffer = backend.createBuffer((alignUp(offset + length, VIEW_ALIGN) + VIEW_ALIGN) * 4, `test/${b.name}`);
    buffers.push(buffer);
    const poison = b.type === 'f32' ? new Float32Array(buffer.byteLength / 4).fill(NaN) : new Int32Array(buffer.byteLength / 4).fill(0x7fffffff);
    backend.write(buffer, poison);
    if (data) backend.write(buffer, data, offset * 4);
    bindings[b.name] = view(buffer, offset, length);
  }
  const program = backend.compile(
    [{ kernel, bindings, params: run.params ?? {}, overrides: run.overrides ?? {}, workgroups: run.workgroups }],
    `test/${kernel.name}`,
  );
  backend.run(program);
  const out: Record<string, TypedArray> = {};
  for (const b of kernel.bindings) {
    if (b.access !== 'read_write') continue;
    const v = bindings[b.name]!;
    const bytes = await backend.read(v.buffer, v.offset * 4, v.length * 4);
    out[b.name] = b.type === 'f32' ? new Float32Array(bytes) : b.type === 'i32' ? new Int32Array(bytes) : new Uint32Array(bytes);
  }
  if (backend instanceof WebGpuBackend) await backend.health();
  program.dispose();
  for (const b of buffers) backend.destroyBuffer(b);
  return out;
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise; on failure, reports the
 * worst element with its index and both values. NaN anywhere in `actual` fails.
 */
export function expectAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-6, label = '' }: { rtol?: number; atol?: number; label?: string } = {},
): void {
  expect(actual.length, `${label} length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Number.isNaN(a) !== Number.isNaN(e) ? Infinity : Number.isNaN(a) ? 0 : Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `${label} not all-close (rtol ${rtol}, atol ${atol}): worst at [${worst}]: got ${actual[worst]}, expected ${expected[worst]}`,
    );
  }
}
