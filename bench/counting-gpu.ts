/**
 * Counts the WebGPU work a library asks for: queue submits, compute dispatches, and the objects it
 * creates (buffers, bind groups, pipelines, command encoders). The counting happens by patching
 * methods on the very objects handed to the library, not by wrapping them in Proxies: Dawn's
 * native methods check that `this` and their arguments are genuine Dawn objects, so a Proxy
 * passed back into `setBindGroup` or `submit` would be rejected.
 *
 * ```ts
 * const { gpu, counter } = countingGpu(create([]));
 * const device = await createDevice({ backend: 'webgpu', gpu });
 * const before = counter.snapshot();
 * ... 100 steps ...
 * const per100 = counter.since(before);    // { submits, dispatches, bindGroups, buffers, ... }
 * ```
 */

export interface GpuCounts {
  /** `queue.submit` calls. */
  submits: number;
  /** `dispatchWorkgroups` and `dispatchWorkgroupsIndirect` calls. */
  dispatches: number;
  /** `device.createBindGroup` calls. */
  bindGroups: number;
  /** `device.createBuffer` calls (storage, uniform and staging buffers alike). */
  buffers: number;
  /** `device.createComputePipeline` and `createComputePipelineAsync` calls. */
  pipelines: number;
  /** `device.createCommandEncoder` calls. */
  encoders: number;
  /** `queue.writeBuffer` calls. */
  writes: number;
}

const ZERO: GpuCounts = { submits: 0, dispatches: 0, bindGroups: 0, buffers: 0, pipelines: 0, encoders: 0, writes: 0 };

/** Running totals for one or more devices. */
export class GpuCounter {
  private totals: GpuCounts = { ...ZERO };

  /** A copy of the totals so far. */
  snapshot(): GpuCounts {
    return { ...this.totals };
  }

  /** The counts accumulated after `before` was taken. */
  since(before: GpuCounts): GpuCounts {
    const now = this.totals;
    const out = { ...ZERO };
    for (const k of Object.keys(ZERO) as (keyof GpuCounts)[]) out[k] = now[k] - before[k];
    return out;
  }

  reset(): void {
    this.totals = { ...ZERO };
  }

  /** Increments one count; used by the patches below. */
  add(kind: keyof GpuCounts, n = 1): void {
    this.totals[kind] += n;
  }
}

/** Counts per step: `since(before)` divided by `steps`. */
export function perStep(counts: GpuCounts, steps: number): GpuCounts {
  const out = { ...counts };
  for (const k of Object.keys(out) as (keyof GpuCounts)[]) out[k] = counts[k] / steps;
  return out;
}

type AnyFn = (...args: never[]) => unknown;

/** Replaces `target[name]` by a function that runs `before`, the original (same `this`), then `after` on its result. */
function patch<T extends object>(target: T, name: keyof T & string, before: (...args: never[]) => void, after?: (result: never) => void): void {
  const original = target[name] as unknown as AnyFn;
  if (typeof original !== 'function') throw new Error(`counting-gpu: ${name} is not a method of ${String(target)}`);
  Object.defineProperty(target, name, {
    configurable: true,
    writable: true,
    value(this: T, ...args: never[]) {
      before(...args);
      const result = original.apply(this, args);
      after?.(result as never);
      return result;
    },
  });
}

function countPass(pass: GPUComputePassEncoder, counter: GpuCounter): void {
  patch(pass, 'dispatchWorkgroups', () => counter.add('dispatches'));
  patch(pass, 'dispatchWorkgroupsIndirect', () => counter.add('dispatches'));
}

/**
 * Makes `device` count into `counter` (a new one by default) and returns it. The device object
 * itself is patched, so every holder of it is counted from now on; patching twice counts twice.
 */
export function countDevice(device: GPUDevice, counter = new GpuCounter()): GpuCounter {
  patch(device, 'createBuffer', () => counter.add('buffers'));
  patch(device, 'createBindGroup', () => counter.add('bindGroups'));
  patch(device, 'createComputePipeline', () => counter.add('pipelines'));
  patch(device, 'createComputePipelineAsync', () => counter.add('pipelines'));
  patch(
    device,
    'createCommandEncoder',
    () => counter.add('encoders'),
    (encoder: GPUCommandEncoder) => patch(encoder, 'beginComputePass', () => {}, (pass: GPUComputePassEncoder) => countPass(pass, counter)),
  );
  // Dawn hands out the same queue object on every access, so patching it once covers all uses.
  const queue = device.queue;
  patch(queue, 'submit', () => counter.add('submits'));
  patch(queue, 'writeBuffer', () => counter.add('writes'));
  return counter;
}

/**
 * A `navigator.gpu`-like object whose adapters hand out devices that count into `counter`. The
 * original `gpu` is left untouched (other users of it are not counted) and stays referenced by
 * the wrapper, which keeps Dawn's instance alive for as long as the wrapper is.
 */
export function countingGpu(gpu: GPU, counter = new GpuCounter()): { gpu: GPU; counter: GpuCounter } {
  const wrapper = {
    async requestAdapter(options?: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
      const adapter = await gpu.requestAdapter(options);
      if (adapter) countAdapter(adapter, counter);
      return adapter;
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
    get wgslLanguageFeatures() {
      return gpu.wgslLanguageFeatures;
    },
    get [Symbol.toStringTag]() {
      return 'GPU';
    },
  };
  return { gpu: wrapper as unknown as GPU, counter };
}

/** Makes the devices that `adapter` creates count into `counter`. */
export function countAdapter(adapter: GPUAdapter, counter: GpuCounter): void {
  const original = adapter.requestDevice;
  Object.defineProperty(adapter, 'requestDevice', {
    configurable: true,
    writable: true,
    async value(this: GPUAdapter, descriptor?: GPUDeviceDescriptor) {
      const device = await original.call(this, descriptor);
      countDevice(device, counter);
      return device;
    },
  });
}
