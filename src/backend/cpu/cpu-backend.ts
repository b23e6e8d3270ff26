import type { Backend, Copy, Program, Staging } from '../backend.js';
import type { BufferView, CpuInvocation, DeviceBuffer, ElemType, Launch, TypedArray } from '../kernel.js';

interface CpuBuffer extends DeviceBuffer {
  readonly data: ArrayBuffer;
}

interface CpuStep {
  readonly launch: Launch;
  readonly call: CpuInvocation;
}

class CpuProgram implements Program {
  constructor(readonly label: string, readonly steps: readonly CpuStep[]) {}
  get launchCount(): number {
    return this.steps.length;
  }
  dispose(): void {}
}

class CpuStaging implements Staging {
  private data: ArrayBuffer;
  busy = false;
  constructor(readonly byteLength: number) {
    this.data = new ArrayBuffer(byteLength);
  }
  fill(src: ArrayBuffer, srcByteOffset: number, dstByteOffset: number, byteLength: number): void {
    new Uint8Array(this.data, dstByteOffset, byteLength).set(new Uint8Array(src, srcByteOffset, byteLength));
    this.busy = true;
  }
  async read(): Promise<ArrayBuffer> {
    this.busy = false;
    return this.data.slice(0);
  }
  dispose(): void {}
}

function typedView(buffer: CpuBuffer, v: BufferView, type: ElemType): TypedArray {
  const ctor = type === 'f32' ? Float32Array : type === 'i32' ? Int32Array : Uint32Array;
  return new ctor(buffer.data, v.offset * 4, v.length);
}

/** Runs every kernel's TypeScript twin, synchronously, on host memory. */
export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;
  readonly description = 'CPU (TypeScript kernels)';
  readonly maxBufferBytes = 2 ** 31 - 1;
  readonly software = true;
  private nextId = 1;

  createBuffer(byteLength: number, label: string): DeviceBuffer {
    if (byteLength > this.maxBufferBytes) {
      throw new Error(`buffer '${label}' of ${byteLength} bytes exceeds the CPU backend's limit of ${this.maxBufferBytes}`);
    }
    const buffer: CpuBuffer = { id: this.nextId++, byteLength, label, data: new ArrayBuffer(byteLength) };
    return buffer;
  }

  destroyBuffer(_buffer: DeviceBuffer): void {}

  write(buffer: DeviceBuffer, data: ArrayBufferView, byteOffset = 0): void {
    const dst = new Uint8Array((buffer as CpuBuffer).data, byteOffset, data.byteLength);
    dst.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  async read(buffer: DeviceBuffer, byteOffset = 0, byteLength = buffer.byteLength - byteOffset): Promise<ArrayBuffer> {
    return (buffer as CpuBuffer).data.slice(byteOffset, byteOffset + byteLength);
  }

  createStaging(byteLength: number): Staging {
    return new CpuStaging(byteLength);
  }

  compile(launches: readonly Launch[], label: string): Program {
    const steps = launches.map((launch) => {
      const buffers: Record<string, TypedArray> = {};
      for (const b of launch.kernel.bindings) {
        const v = launch.bindings[b.name];
        if (!v) throw new Error(`${label}: launch '${launch.label ?? launch.kernel.name}' has no buffer for binding '${b.name}'`);
        buffers[b.name] = typedView(v.buffer as CpuBuffer, v, b.type);
      }
      const call: CpuInvocation = {
        buffers,
        params: launch.params ?? {},
        overrides: { ...launch.kernel.overrides, ...launch.overrides },
        workgroups: launch.workgroups,
      };
      return { launch, call };
    });
    return new CpuProgram(label, steps);
  }

  run(program: Program, copies: readonly Copy[] = []): void {
    for (const { call, launch } of (program as CpuProgram).steps) launch.kernel.cpu(call);
    for (const c of copies) {
      const src = (c.src as CpuBuffer).data;
      const srcOffset = c.srcByteOffset ?? 0;
      const dstOffset = c.dstByteOffset ?? 0;
      if (c.dst instanceof CpuStaging) c.dst.fill(src, srcOffset, dstOffset, c.byteLength);
      else new Uint8Array((c.dst as CpuBuffer).data, dstOffset, c.byteLength).set(new Uint8Array(src, srcOffset, c.byteLength));
    }
  }

  async idle(): Promise<void> {}

  async health(): Promise<void> {}

  dispose(): void {}
}
