import type { Backend, Copy, Program, Staging } from '../backend.js';
import type { BufferView, CpuInvocation, DeviceBuffer, ElemType, Launch, TypedArray } from '../kernel.js';
import type { WasmRunner, WasmRuntime } from './wasm/runtime.js';

interface CpuBuffer extends DeviceBuffer {
  /** The buffer's own memory, or null when it lives in the WebAssembly heap at `byteOffset`. */
  readonly own: ArrayBuffer | null;
  readonly byteOffset: number;
}

interface CpuStep {
  readonly launch: Launch;
  /** The twin's views, rebuilt when the heap grows (which detaches them). */
  readonly call: CpuInvocation & { readonly buffers: Record<string, TypedArray> };
  /** The WebAssembly implementation, when there is one for this launch. */
  readonly fast: WasmRunner | null;
}

class CpuProgram implements Program {
  /** The heap generation the views of `steps` were made for. */
  generation = -1;
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

const VIEW_TYPES = { f32: Float32Array, i32: Int32Array, u32: Uint32Array } as const;

export interface CpuBackendOptions {
  /**
   * Run the kernels that have one on WebAssembly SIMD (see `loadWasmRuntime`), with every buffer
   * in its heap; the others still run their TypeScript twins, on views of the same memory.
   */
  readonly wasm?: WasmRuntime;
}

/**
 * Runs every kernel synchronously on host memory: its TypeScript twin, or with a WebAssembly
 * runtime, its WebAssembly SIMD implementation where one exists.
 */
export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;
  readonly description: string;
  readonly maxBufferBytes = 2 ** 31 - 1;
  readonly software = true;
  private nextId = 1;
  private readonly wasm: WasmRuntime | null;

  constructor(options: CpuBackendOptions = {}) {
    this.wasm = options.wasm ?? null;
    this.description = this.wasm ? 'CPU (WebAssembly SIMD)' : 'CPU (TypeScript kernels)';
  }

  /** The memory holding `buffer`'s bytes now. */
  private bytes(buffer: DeviceBuffer): ArrayBuffer {
    return (buffer as CpuBuffer).own ?? this.wasm!.heap.bytes;
  }

  private address(buffer: DeviceBuffer, byteOffset: number): number {
    return (buffer as CpuBuffer).byteOffset + byteOffset;
  }

  createBuffer(byteLength: number, label: string): DeviceBuffer {
    if (byteLength > this.maxBufferBytes) {
      throw new Error(`buffer '${label}' of ${byteLength} bytes exceeds the CPU backend's limit of ${this.maxBufferBytes}`);
    }
    const id = this.nextId++;
    const buffer: CpuBuffer = this.wasm
      ? { id, byteLength, label, own: null, byteOffset: this.wasm.heap.allocate(byteLength, label) }
      : { id, byteLength, label, own: hostBytes(byteLength, label), byteOffset: 0 };
    return buffer;
  }

  destroyBuffer(buffer: DeviceBuffer): void {
    if (this.wasm && (buffer as CpuBuffer).own === null) this.wasm.heap.release((buffer as CpuBuffer).byteOffset);
  }

  write(buffer: DeviceBuffer, data: ArrayBufferView, byteOffset = 0): void {
    const dst = new Uint8Array(this.bytes(buffer), this.address(buffer, byteOffset), data.byteLength);
    dst.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  async read(buffer: DeviceBuffer, byteOffset = 0, byteLength = buffer.byteLength - byteOffset): Promise<ArrayBuffer> {
    const start = this.address(buffer, byteOffset);
    return this.bytes(buffer).slice(start, start + byteLength);
  }

  createStaging(byteLength: number): Staging {
    return new CpuStaging(byteLength);
  }

  compile(launches: readonly Launch[], label: string): Program {
    const address = (v: BufferView) => this.address(v.buffer, v.offset * 4);
    const steps = launches.map((launch): CpuStep => {
      for (const b of launch.kernel.bindings) {
        if (!launch.bindings[b.name]) throw new Error(`${label}: launch '${launch.label ?? launch.kernel.name}' has no buffer for binding '${b.name}'`);
      }
      const call = {
        buffers: {},
        params: launch.params ?? {},
        overrides: { ...launch.kernel.overrides, ...launch.overrides },
        workgroups: launch.workgroups,
      };
      return { launch, call, fast: this.wasm?.plan(launch, address) ?? null };
    });
    const program = new CpuProgram(label, steps);
    this.bindViews(program);
    return program;
  }

  /** (Re)makes the twins' typed views, over the current heap when buffers live in one. */
  private bindViews(program: CpuProgram): void {
    for (const { launch, call } of program.steps) {
      for (const b of launch.kernel.bindings) {
        const v = launch.bindings[b.name]!;
        call.buffers[b.name] = new VIEW_TYPES[b.type](this.bytes(v.buffer), this.address(v.buffer, v.offset * 4), v.length);
      }
    }
    program.generation = this.generation;
  }

  private get generation(): number {
    return this.wasm?.heap.generation ?? 0;
  }

  run(program: Program, copies: readonly Copy[] = []): void {
    const p = program as CpuProgram;
    if (p.generation !== this.generation) this.bindViews(p);
    for (const c of copies) if (c.before) this.copy(c);
    for (const step of p.steps) {
      if (step.fast) step.fast(step.call);
      else step.launch.kernel.cpu(step.call);
    }
    for (const c of copies) if (!c.before) this.copy(c);
  }

  private copy(c: Copy): void {
    const src = this.bytes(c.src);
    const srcOffset = this.address(c.src, c.srcByteOffset ?? 0);
    const dstOffset = c.dstByteOffset ?? 0;
    if (c.dst instanceof CpuStaging) c.dst.fill(src, srcOffset, dstOffset, c.byteLength);
    else {
      const dst = c.dst as DeviceBuffer;
      new Uint8Array(this.bytes(dst), this.address(dst, dstOffset), c.byteLength).set(new Uint8Array(src, srcOffset, c.byteLength));
    }
  }

  async idle(): Promise<void> {}

  async health(): Promise<void> {}

  dispose(): void {}
}

/** A zeroed ArrayBuffer, or an error naming the buffer and its size when the host is out of memory. */
function hostBytes(byteLength: number, label: string): ArrayBuffer {
  try {
    return new ArrayBuffer(byteLength);
  } catch (e) {
    throw new Error(`buffer '${label}' of ${byteLength} bytes: out of memory (${(e as Error).message})`);
  }
}
