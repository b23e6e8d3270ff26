import type { Backend, Copy, Program, Staging } from '../backend.js';
import type { DeviceBuffer, Launch } from '../kernel.js';
import { PipelineCache } from './pipelines.js';

interface GpuBuffer extends DeviceBuffer {
  readonly gpu: GPUBuffer;
}

interface Recorded {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

class GpuProgram implements Program {
  constructor(
    readonly label: string,
    readonly recorded: readonly Recorded[],
    private readonly uniforms: GPUBuffer | null,
  ) {}
  get launchCount(): number {
    return this.recorded.length;
  }
  dispose(): void {
    this.uniforms?.destroy();
  }
}

class GpuStaging implements Staging {
  busy = false;
  private pending: Promise<ArrayBuffer> | null = null;
  constructor(readonly buffer: GPUBuffer, readonly byteLength: number) {}

  /** Called by `run` right after the submit that copies into this buffer. */
  filled(): void {
    this.busy = true;
    this.pending = this.buffer.mapAsync(GPUMapMode.READ).then(() => {
      const bytes = this.buffer.getMappedRange().slice(0);
      this.buffer.unmap();
      this.busy = false;
      return bytes;
    });
  }

  read(): Promise<ArrayBuffer> {
    if (!this.pending) return Promise.reject(new Error('staging buffer read before any run filled it'));
    return this.pending;
  }

  dispose(): void {
    this.buffer.destroy();
  }
}

const UNIFORM_ALIGN = 256;

/** The WebGPU backend: one device, one queue, pipelines cached by kernel and override values. */
export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu' as const;
  readonly maxBufferBytes: number;
  private readonly pipelines: PipelineCache;
  private nextId = 1;
  private lostReason: string | null = null;
  readonly whenLost: Promise<string>;
  readonly timeRun?: (program: Program, copies?: readonly Copy[]) => Promise<number[]>;
  private readonly scopeErrors: Promise<string | null>[] = [];

  /**
   * `owners` are the GPU and adapter objects the device came from. They are kept referenced for
   * the backend's lifetime: in Node, Dawn tears the device down when its instance is collected.
   */
  constructor(
    readonly device: GPUDevice,
    readonly description: string,
    private readonly owners: readonly object[] = [],
    readonly software = /swiftshader|llvmpipe|lavapipe|warp|basic render/i.test(description),
  ) {
    this.maxBufferBytes = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
    this.pipelines = new PipelineCache(device);
    if (device.features.has('timestamp-query')) this.timeRun = (program, copies) => this.timed(program, copies ?? []);
    this.whenLost = device.lost.then((info) => {
      this.lostReason = `${info.reason ?? 'unknown'}: ${info.message}`;
      return this.lostReason;
    });
    // Errors outside any scope (encoding, submit) would otherwise only reach the console.
    device.addEventListener('uncapturederror', (event) => {
      const message = (event as GPUUncapturedErrorEvent).error.message;
      this.scopeErrors.push(Promise.resolve(`WebGPU error: ${message}`));
    });
  }

  private checkAlive(): void {
    if (this.lostReason !== null) throw new Error(`the WebGPU device was lost (${this.lostReason}); create a new device`);
  }

  /** Collects the asynchronous validation and out-of-memory errors of everything created so far. */
  async health(): Promise<void> {
    const messages = (await Promise.all(this.scopeErrors.splice(0))).filter((m) => m !== null);
    if (messages.length > 0) throw new Error(messages.join('\n'));
    this.checkAlive();
  }

  /** Runs `make` inside validation and out-of-memory error scopes; their verdicts come later. */
  private scoped<T>(what: string, make: () => T): T {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    try {
      return make();
    } finally {
      const validation = this.device.popErrorScope();
      const memory = this.device.popErrorScope();
      this.scopeErrors.push(
        Promise.all([validation, memory]).then(([v, m]) => {
          if (m) return `${what}: out of GPU memory (${m.message})`;
          if (v) return `${what}: ${v.message}`;
          return null;
        }),
      );
    }
  }

  createBuffer(byteLength: number, label: string): DeviceBuffer {
    this.checkAlive();
    if (byteLength > this.maxBufferBytes) {
      throw new Error(`buffer '${label}' needs ${byteLength} bytes, more than this device's limit of ${this.maxBufferBytes}`);
    }
    const size = Math.max(16, Math.ceil(byteLength / 16) * 16);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const gpu = this.scoped(`allocating '${label}' (${byteLength} bytes)`, () =>
      this.device.createBuffer({ size, usage, label }),
    );
    const buffer: GpuBuffer = { id: this.nextId++, byteLength, label, gpu };
    return buffer;
  }

  destroyBuffer(buffer: DeviceBuffer): void {
    (buffer as GpuBuffer).gpu.destroy();
  }

  write(buffer: DeviceBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.checkAlive();
    if (byteOffset + data.byteLength > buffer.byteLength) {
      throw new Error(`write of ${data.byteLength} bytes at ${byteOffset} overflows '${buffer.label}' (${buffer.byteLength} bytes)`);
    }
    this.device.queue.writeBuffer((buffer as GpuBuffer).gpu, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  async read(buffer: DeviceBuffer, byteOffset = 0, byteLength = buffer.byteLength - byteOffset): Promise<ArrayBuffer> {
    this.checkAlive();
    const padded = Math.ceil(byteLength / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(4, padded), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer((buffer as GpuBuffer).gpu, byteOffset, staging, 0, padded);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const bytes = staging.getMappedRange().slice(0, byteLength);
    staging.destroy();
    return bytes;
  }

  createStaging(byteLength: number, label: string): Staging {
    const buffer = this.device.createBuffer({
      size: Math.max(16, Math.ceil(byteLength / 16) * 16),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label,
    });
    return new GpuStaging(buffer, byteLength);
  }

  compile(launches: readonly Launch[], label: string): Program {
    this.checkAlive();
    const withParams = launches.filter((l) => l.kernel.params.length > 0).length;
    const uniforms =
      withParams === 0
        ? null
        : this.scoped(`${label}: uniform buffer`, () =>
            this.device.createBuffer({
              size: withParams * UNIFORM_ALIGN,
              usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
              label: `${label}/params`,
            }),
          );
    const staged = new ArrayBuffer(withParams * UNIFORM_ALIGN);
    let slot = 0;
    const recorded = launches.map((launch) => {
      const name = launch.label ?? launch.kernel.name;
      const { pipeline, layout, bindings } = this.scoped(`${label}: pipeline for '${name}'`, () =>
        this.pipelines.get(launch.kernel, launch.overrides ?? {}),
      );
      const entries: GPUBindGroupEntry[] = [];
      if (launch.kernel.params.length > 0) {
        writeParams(staged, slot * UNIFORM_ALIGN, launch);
        entries.push({ binding: bindings.params, resource: { buffer: uniforms!, offset: slot * UNIFORM_ALIGN, size: Math.ceil(launch.kernel.params.length / 4) * 16 } });
        slot++;
      }
      launch.kernel.bindings.forEach((b, i) => {
        const v = launch.bindings[b.name];
        if (!v) throw new Error(`${label}: launch '${name}' has no buffer for binding '${b.name}'`);
        if (v.offset + v.length > v.buffer.byteLength / 4) {
          throw new Error(`${label}: launch '${name}' binds '${b.name}' past the end of '${v.buffer.label}'`);
        }
        entries.push({
          binding: bindings.storage[i]!,
          resource: { buffer: (v.buffer as GpuBuffer).gpu, offset: v.offset * 4, size: Math.max(4, v.length * 4) },
        });
      });
      const bindGroup = this.scoped(`${label}: bind group for '${name}'`, () =>
        this.device.createBindGroup({ layout, entries, label: name }),
      );
      return { pipeline, bindGroup, workgroups: launch.workgroups };
    });
    if (uniforms) this.device.queue.writeBuffer(uniforms, 0, staged);
    return new GpuProgram(label, recorded, uniforms);
  }

  /** `run` with a pass per launch and a timestamp at each end of it: profiling, so it allocates. */
  private async timed(program: Program, copies: readonly Copy[]): Promise<number[]> {
    this.checkAlive();
    const { recorded } = program as GpuProgram;
    const count = Math.max(2, 2 * recorded.length);
    const querySet = this.device.createQuerySet({ type: 'timestamp', count });
    const resolved = this.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = this.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = this.device.createCommandEncoder();
      const copy = (c: Copy) => {
        const dst = c.dst instanceof GpuStaging ? c.dst.buffer : (c.dst as GpuBuffer).gpu;
        encoder.copyBufferToBuffer((c.src as GpuBuffer).gpu, c.srcByteOffset ?? 0, dst, c.dstByteOffset ?? 0, c.byteLength);
      };
      for (const c of copies) if (c.before) copy(c);
      recorded.forEach((r, i) => {
        const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        pass.setPipeline(r.pipeline);
        pass.setBindGroup(0, r.bindGroup);
        pass.dispatchWorkgroups(r.workgroups[0], r.workgroups[1], r.workgroups[2]);
        pass.end();
      });
      for (const c of copies) if (!c.before) copy(c);
      encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, readback, 0, count * 8);
      this.device.queue.submit([encoder.finish()]);
      for (const staging of new Set(copies.map((c) => c.dst).filter((d) => d instanceof GpuStaging))) staging.filled();
      await readback.mapAsync(GPUMapMode.READ);
      const ticks = new BigUint64Array(readback.getMappedRange().slice(0));
      readback.unmap();
      return recorded.map((_, i) => Number(ticks[2 * i + 1]! - ticks[2 * i]!) / 1e6);
    } finally {
      querySet.destroy();
      resolved.destroy();
      readback.destroy();
    }
  }

  run(program: Program, copies: readonly Copy[] = []): void {
    this.checkAlive();
    const encoder = this.device.createCommandEncoder();
    const { recorded } = program as GpuProgram;
    const copy = (c: Copy) => {
      const dst = c.dst instanceof GpuStaging ? c.dst.buffer : (c.dst as GpuBuffer).gpu;
      encoder.copyBufferToBuffer((c.src as GpuBuffer).gpu, c.srcByteOffset ?? 0, dst, c.dstByteOffset ?? 0, c.byteLength);
    };
    for (const c of copies) if (c.before) copy(c);
    if (recorded.length > 0) {
      const pass = encoder.beginComputePass();
      for (const r of recorded) {
        pass.setPipeline(r.pipeline);
        pass.setBindGroup(0, r.bindGroup);
        pass.dispatchWorkgroups(r.workgroups[0], r.workgroups[1], r.workgroups[2]);
      }
      pass.end();
    }
    for (const c of copies) if (!c.before) copy(c);
    this.device.queue.submit([encoder.finish()]);
    const filled = new Set(copies.map((c) => c.dst).filter((d) => d instanceof GpuStaging));
    for (const staging of filled) staging.filled();
  }

  idle(): Promise<void> {
    return this.device.queue.onSubmittedWorkDone();
  }

  dispose(): void {
    this.device.destroy();
  }
}

function writeParams(target: ArrayBuffer, byteOffset: number, launch: Launch): void {
  const dv = new DataView(target, byteOffset);
  launch.kernel.params.forEach((p, i) => {
    const value = launch.params?.[p.name];
    if (value === undefined) throw new Error(`launch '${launch.label ?? launch.kernel.name}' lacks param '${p.name}'`);
    if (p.type === 'f32') dv.setFloat32(i * 4, value, true);
    else if (p.type === 'i32') dv.setInt32(i * 4, value, true);
    else dv.setUint32(i * 4, value, true);
  });
}
