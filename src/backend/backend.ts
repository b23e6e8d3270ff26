import type { DeviceBuffer, Launch } from './kernel.js';

export type BackendKind = 'webgpu' | 'cpu';

/**
 * A compiled list of launches: pipelines and bind groups (WebGPU) or resolved views (CPU) are
 * made once by `compile`, so that `run` does no allocation.
 */
export interface Program {
  readonly label: string;
  readonly launchCount: number;
  dispose(): void;
}

/** A host-readable copy of a device buffer, filled at the end of a `run` and read later. */
export interface Staging {
  readonly byteLength: number;
  /** True from the `run` that fills it until its `read()` has resolved. */
  readonly busy: boolean;
  /** The bytes copied by the last `run` that named this staging buffer. */
  read(): Promise<ArrayBuffer>;
  dispose(): void;
}

/**
 * A buffer-to-buffer copy encoded after a program's launches. Offsets may change from run to run
 * without creating anything, which is how per-step records land at their slot of a ring.
 */
export interface Copy {
  readonly src: DeviceBuffer;
  readonly srcByteOffset?: number;
  readonly dst: DeviceBuffer | Staging;
  readonly dstByteOffset?: number;
  /** A multiple of 4. */
  readonly byteLength: number;
  /** Encode this copy before the program's launches (it sees the buffers as the last run left them). */
  readonly before?: boolean;
}

/**
 * The whole contract between the graph runtime and a device. A new backend is a folder that
 * implements this and nothing else.
 */
export interface Backend {
  readonly kind: BackendKind;
  /** Adapter or runtime description, for logs and for the reason behind an 'auto' choice. */
  readonly description: string;
  /** Largest buffer this device accepts, in bytes. */
  readonly maxBufferBytes: number;
  /**
   * True when kernels run on a few CPU cores (the CPU backend, or a software WebGPU adapter such
   * as SwiftShader): there, fewer and longer invocations win; a GPU wants many short ones.
   */
  readonly software: boolean;

  /** A zero-filled buffer. Throws a clear error when the device is out of memory. */
  createBuffer(byteLength: number, label: string): DeviceBuffer;
  destroyBuffer(buffer: DeviceBuffer): void;
  write(buffer: DeviceBuffer, data: ArrayBufferView, byteOffset?: number): void;
  /** Reads after all work submitted so far. Slow path: tests, checkpoints, state dicts. */
  read(buffer: DeviceBuffer, byteOffset?: number, byteLength?: number): Promise<ArrayBuffer>;

  createStaging(byteLength: number, label: string): Staging;
  compile(launches: readonly Launch[], label: string): Program;
  /**
   * Encodes the copies marked `before`, every launch of `program` in order, then the other
   * copies, as one submit. Never waits.
   */
  run(program: Program, copies?: readonly Copy[]): void;
  /** Resolves when all submitted work has finished. */
  idle(): Promise<void>;
  /**
   * Runs `program` as `run` does, each launch in a pass of its own with GPU timestamps around
   * it, and resolves to each launch's time on the device in milliseconds. Present only where the
   * device has timestamps (WebGPU with 'timestamp-query').
   */
  timeRun?(program: Program, copies?: readonly Copy[]): Promise<number[]>;
  /** Rejects with the validation or out-of-memory errors raised so far (WebGPU reports them late). */
  health(): Promise<void>;
  /**
   * Resolves with the reason when the device is lost (a driver reset, `device.destroy()`); a
   * backend that cannot lose its device (the CPU) leaves it out.
   */
  readonly whenLost?: Promise<string>;

  dispose(): void;
}
