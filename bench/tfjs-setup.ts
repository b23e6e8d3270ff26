/**
 * TensorFlow.js in Node on the same Dawn instance that Descent uses. tfjs-backend-webgpu runs in
 * Node as long as it finds `navigator.gpu` when its backend is constructed; we build that backend
 * ourselves from a device of our own (a counting one) instead of letting the package request an
 * adapter, so both libraries are measured on the same adapter with the same instrumentation.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { countDevice, type GpuCounter } from './counting-gpu.js';

export { tf };

// Silences tfjs's advice to install tfjs-node (the native TensorFlow binding, not measured here).
tf.env().set('PROD', true);

/** The limits tfjs-backend-webgpu itself requests when it opens a device. */
const TFJS_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

export interface TfWebGpu {
  readonly device: GPUDevice;
  readonly backend: WebGPUBackend;
  /** Submits what tfjs has recorded but not yet submitted, then waits for the queue. */
  settle(): Promise<void>;
}

/**
 * Registers tfjs's 'webgpu' backend on a new device of `gpu` that counts into `counter`, and
 * makes it the active backend.
 */
export async function useTfWebGpu(gpu: GPU, counter: GpuCounter): Promise<TfWebGpu> {
  // Node 20 has no navigator; later versions have one without `gpu`.
  const nav = (globalThis as { navigator?: object }).navigator;
  if (!(nav as { gpu?: GPU } | undefined)?.gpu) {
    Object.defineProperty(globalThis, 'navigator', { value: { ...(nav ?? {}), gpu }, configurable: true, writable: true });
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('tfjs: requestAdapter() returned no adapter');
  const requiredLimits: Record<string, number> = {};
  for (const name of TFJS_LIMITS) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ requiredLimits, label: 'tfjs' });
  countDevice(device, counter);
  const backend = new WebGPUBackend(device, adapter.info);
  tf.registerBackend('webgpu', () => backend);
  if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs: setBackend('webgpu') failed");
  return {
    device,
    backend,
    async settle() {
      // The order tfjs's own read path uses: the open compute pass must end before the submit.
      backend.ensureCommandEncoderReady();
      backend.endComputePassEncoder();
      backend.submitQueue();
      await device.queue.onSubmittedWorkDone();
    },
  };
}

/** The TF.js backends the bench measures. */
export type TfBackendName = 'webgpu' | 'wasm' | 'cpu';

/** Switches tfjs to its pure-JavaScript 'cpu' backend. */
export async function useTfCpu(): Promise<void> {
  await useTfBackend('cpu');
}

/** Makes `name` the active tfjs backend (registered already: webgpu by useTfWebGpu, wasm by useTfWasm). */
export async function useTfBackend(name: TfBackendName): Promise<void> {
  if (tf.getBackend() === name) return;
  if (!(await tf.setBackend(name))) throw new Error(`tfjs: setBackend('${name}') failed`);
}

/**
 * Registers TensorFlow.js's 'wasm' backend (XNNPACK kernels, WebAssembly SIMD, one thread, the
 * configuration a page without cross-origin isolation gets) and makes it the active one. In Node
 * the package cannot locate its .wasm files by itself: they are given as paths into its dist/.
 */
export async function useTfWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(`${join(dirname(main), '..', 'dist')}/`);
  wasm.setThreadsCount(1);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  await useTfBackend('wasm');
}
