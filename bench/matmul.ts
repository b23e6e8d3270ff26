/**
 * Square matmul throughput on a backend: C = A · B at each size, warm-up runs first, then the
 * median of timed runs, each awaited with `backend.idle()`. Run on WebGPU (Dawn) with
 *
 *   npx esbuild bench/matmul.ts --bundle --platform=node --format=esm --loader:.wgsl=text \
 *     --external:webgpu --outfile=/tmp/mm.mjs && \
 *   LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node /tmp/mm.mjs
 */
import type { Backend } from '../src/backend/backend.js';
import { view } from '../src/backend/kernel.js';
import { createDevice } from '../src/device.js';
import { matmulLaunch } from '../src/kernels/matmul.js';
import { loadWebgpu } from './node-webgpu.js';
import type { Prepared, WindowPlan } from './timing.js';

export interface MatmulBenchRow {
  readonly size: number;
  readonly runs: number;
  readonly medianMs: number;
  readonly gflops: number;
  /** Timed windows (of `runs / windows` runs each), where the runs were timed in windows. */
  readonly windows?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Times one size; the run count shrinks with the size so that large sizes stay affordable. */
async function benchSize(backend: Backend, size: number): Promise<MatmulBenchRow> {
  const bytes = size * size * 4;
  const a = backend.createBuffer(bytes, 'bench/a');
  const b = backend.createBuffer(bytes, 'bench/b');
  const c = backend.createBuffer(bytes, 'bench/c');
  const dummy = backend.createBuffer(4, 'bench/dummy');
  const fill = new Float32Array(size * size);
  for (let i = 0; i < fill.length; i++) fill[i] = Math.sin(i) * 0.5;
  backend.write(a, fill);
  backend.write(b, fill);
  const launch = matmulLaunch({ m: size, n: size, k: size }, { a: view(a), b: view(b), c: view(c) }, view(dummy), 'bench');
  const program = backend.compile([launch], `bench/matmul${size}`);
  const runs = size <= 256 ? 15 : size <= 512 ? 7 : 5;
  for (let i = 0; i < 2; i++) {
    backend.run(program);
    await backend.idle();
  }
  // Surfaces pipeline and bind-group errors, which would otherwise pass as impossibly fast runs.
  await (backend as { health?: () => Promise<void> }).health?.();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    backend.run(program);
    await backend.idle();
    times.push(performance.now() - t0);
  }
  program.dispose();
  for (const buf of [a, b, c, dummy]) backend.destroyBuffer(buf);
  const medianMs = median(times);
  return { size, runs, medianMs, gflops: (2 * size ** 3) / (medianMs * 1e6) };
}

/** The matrices both libraries multiply: the same values everywhere. */
export function matmulFill(size: number): Float32Array {
  const fill = new Float32Array(size * size);
  for (let i = 0; i < fill.length; i++) fill[i] = Math.sin(i) * 0.5;
  return fill;
}

/**
 * One size as a side that takes turns with others (bench/main.ts): each iteration runs the
 * one-launch program, a window waits for the backend once. GFLOP/s = 2·n³ / median time.
 */
export function descentMatmulSide(backend: Backend, size: number, plan: WindowPlan, label: string): Prepared<MatmulBenchRow> {
  const bytes = size * size * 4;
  const a = backend.createBuffer(bytes, 'bench/a');
  const b = backend.createBuffer(bytes, 'bench/b');
  const c = backend.createBuffer(bytes, 'bench/c');
  const dummy = backend.createBuffer(4, 'bench/dummy');
  const fill = matmulFill(size);
  backend.write(a, fill);
  backend.write(b, fill);
  const launch = matmulLaunch({ m: size, n: size, k: size }, { a: view(a), b: view(b), c: view(c) }, view(dummy), 'bench');
  const program = backend.compile([launch], `bench/matmul${size}`);
  return {
    side: {
      label,
      plan,
      enqueue: () => backend.run(program),
      async settle() {
        await backend.idle();
        // Surfaces pipeline and bind-group errors, which would otherwise pass as impossibly fast runs.
        await (backend as { health?: () => Promise<void> }).health?.();
      },
    },
    async finish(timing) {
      program.dispose();
      for (const buf of [a, b, c, dummy]) backend.destroyBuffer(buf);
      return { size, runs: timing.iterations, windows: timing.windowsMs.length, medianMs: timing.medianMs, gflops: (2 * size ** 3) / (timing.medianMs * 1e6) };
    },
  };
}

/** One row per size, measured in order. */
export async function benchMatmul(backend: Backend, sizes: readonly number[] = [256, 512, 1024]): Promise<MatmulBenchRow[]> {
  const rows: MatmulBenchRow[] = [];
  for (const size of sizes) rows.push(await benchSize(backend, size));
  return rows;
}

export function matmulTable(rows: readonly MatmulBenchRow[]): string {
  const lines = ['| size | runs | median ms | GFLOP/s |', '|---:|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.size} | ${r.runs} | ${r.medianMs.toFixed(1)} | ${r.gflops.toFixed(2)} |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { create, globals } = await loadWebgpu();
  Object.assign(globalThis, globals);
  // Dawn tears the device down when its instance is collected, so `gpu` stays referenced here.
  const gpu = create([]) as GPU;
  const device = await createDevice({ backend: 'webgpu', gpu });
  console.log(`matmul on ${device.backend.description}\n`);
  console.log(matmulTable(await benchMatmul(device.backend)));
  device.dispose();
  void gpu;
}

// Runs only as its own script (bundled as mm.mjs or run as matmul.*), not when a bench runner
// bundles it in: there import.meta.url would name the runner's file too.
if (/(^|\/)(mm|matmul)\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) await main();
