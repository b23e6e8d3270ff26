import type { Backend, BackendKind } from './backend/backend.js';
import { CpuBackend } from './backend/cpu/cpu-backend.js';
import { loadWasmRuntime } from './backend/cpu/wasm/runtime.js';
import { WebGpuBackend } from './backend/webgpu/webgpu-backend.js';

export interface DeviceOptions {
  /** 'auto' (default) uses WebGPU when an adapter is available, else the CPU. */
  backend?: 'auto' | BackendKind;
  /** A `navigator.gpu`-like object; in Node, `create([])` from the 'webgpu' package. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /**
   * CPU backend: run its WebAssembly SIMD kernels where the engine has WebAssembly SIMD (default
   * true); false runs every kernel's TypeScript twin (the reference the tests compare with).
   */
  wasm?: boolean;
}

/** A compute device: a backend, plus why it was chosen. */
export interface Device {
  readonly backend: Backend;
  readonly kind: BackendKind;
  /** Why 'auto' chose this backend (for example why WebGPU was unavailable). */
  readonly reason: string;
  dispose(): void;
}

/** The adapter limits worth raising above the WebGPU defaults for training. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

async function openWebGpu(gpu: GPU | undefined, powerPreference?: GPUPowerPreference): Promise<WebGpuBackend> {
  const source = gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!source) {
    throw new Error(
      'WebGPU is not available: navigator.gpu is undefined. In a browser, use one with WebGPU enabled; ' +
        "in Node, pass { gpu: create([]) } from the 'webgpu' package.",
    );
  }
  const adapter = await source.requestAdapter(powerPreference ? { powerPreference } : undefined);
  if (!adapter) throw new Error('WebGPU is present but requestAdapter() returned no adapter (no usable GPU or driver)');
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = adapter.limits[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  // GPU timestamps for profiling (Trainer.profileStep), where the adapter has them.
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'descent' });
  const info = adapter.info;
  const name = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unknown adapter';
  const fallback = (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true;
  return new WebGpuBackend(device, `WebGPU (${name})`, [source, adapter], fallback || undefined);
}

/**
 * Opens a compute device.
 *
 * ```ts
 * const device = await createDevice();                    // WebGPU if present, else CPU
 * const cpu = await createDevice({ backend: 'cpu' });
 * const gpu = await createDevice({ backend: 'webgpu', gpu: create([]) });  // Node + 'webgpu'
 * ```
 */
export async function createDevice(options: DeviceOptions = {}): Promise<Device> {
  const choice = options.backend ?? 'auto';
  if (choice !== 'auto' && choice !== 'webgpu' && choice !== 'cpu') {
    throw new Error(`createDevice: backend must be 'auto', 'webgpu' or 'cpu', got '${String(choice)}'`);
  }
  if (choice === 'cpu') {
    const cpu = await openCpu(options.wasm !== false);
    return wrap(cpu.backend, `requested (kernels: ${cpu.reason})`);
  }
  try {
    return wrap(await openWebGpu(options.gpu, options.powerPreference), choice === 'auto' ? 'WebGPU adapter found' : 'requested');
  } catch (e) {
    if (choice === 'webgpu') throw e;
    const cpu = await openCpu(options.wasm !== false);
    return wrap(cpu.backend, `fell back to the CPU: ${(e as Error).message} (kernels: ${cpu.reason})`);
  }
}

/** The CPU backend, on WebAssembly SIMD when asked and available, and which kernels it runs (why). */
async function openCpu(wasm: boolean): Promise<{ backend: CpuBackend; reason: string }> {
  if (!wasm) return { backend: new CpuBackend(), reason: 'TypeScript twins, wasm: false' };
  const load = await loadWasmRuntime();
  if (load.runtime) return { backend: new CpuBackend({ wasm: load.runtime }), reason: 'WebAssembly SIMD' };
  return { backend: new CpuBackend(), reason: `TypeScript twins, ${load.reason}` };
}

function wrap(backend: Backend, reason: string): Device {
  return { backend, kind: backend.kind, reason, dispose: () => backend.dispose() };
}
