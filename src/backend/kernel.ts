/**
 * A kernel is one WGSL entry point plus its CPU twin. Both backends run the same `KernelSpec`:
 * the WebGPU backend compiles `wgsl`, the CPU backend calls `cpu` with typed-array views of the
 * same buffers. Binding conventions, shared by every shader in `shaders/`:
 *
 * - `var<uniform> params: Params` when `params` is non-empty, with the struct members in the
 *   order of `params` (4-byte scalars only: u32, i32, f32).
 * - one `var<storage, read|read_write> NAME: array<T>` per entry of `bindings`, all in
 *   `@group(0)`. Binding numbers are read from the WGSL by name (reflection checks names, element
 *   types and access against this declaration), so kernels of one family can share a file.
 * - workgroup sizes and compile-time variants are `override` constants, set per launch.
 * - 1-D kernels cover more than 65535 workgroups with `grid1d`, which splits over y: the linear
 *   index is `(wid.y * nwg.x + wid.x) * WG + lid.x`.
 */

export type ElemType = 'f32' | 'i32' | 'u32';

export type TypedArray = Float32Array | Int32Array | Uint32Array;

export interface ParamSpec {
  readonly name: string;
  readonly type: ElemType;
}

export interface BindingSpec {
  readonly name: string;
  readonly type: ElemType;
  readonly access: 'read' | 'read_write';
  /** 4 when the WGSL declares `array<vec4<type>>` (the CPU twin still sees scalars). */
  readonly lanes?: 1 | 4;
  /**
   * Set when the WGSL declares the binding as one struct of 4-byte scalars rather than an array:
   * its members in order, so that the host writes and the twin reads them by name. The CPU twin
   * sees the struct as an array of `type`.
   */
  readonly fields?: readonly ParamSpec[];
}

/** What the CPU twin receives: views of the bound buffer ranges, typed as declared. */
export interface CpuInvocation {
  readonly buffers: Record<string, TypedArray>;
  readonly params: Readonly<Record<string, number>>;
  readonly overrides: Readonly<Record<string, number>>;
  readonly workgroups: readonly [number, number, number];
}

export interface KernelSpec {
  /** Unique name; also the pipeline-cache key together with the override values. */
  readonly name: string;
  /** Complete WGSL source (shared helpers concatenated in front by `withCommon`). */
  readonly wgsl: string;
  readonly entry: string;
  readonly params: readonly ParamSpec[];
  readonly bindings: readonly BindingSpec[];
  /** Default values of the shader's `override` constants. */
  readonly overrides?: Readonly<Record<string, number>>;
  /** The TypeScript twin: the same math over whole buffers. */
  readonly cpu: (call: CpuInvocation) => void;
}

/** A range of a device buffer, in 4-byte elements. Offsets are multiples of 64 (256 bytes). */
export interface BufferView {
  readonly buffer: DeviceBuffer;
  readonly offset: number;
  readonly length: number;
}

export interface DeviceBuffer {
  readonly id: number;
  readonly byteLength: number;
  readonly label: string;
}

/** One dispatch: a kernel, its buffers and uniform values, and the workgroup grid. */
export interface Launch {
  readonly kernel: KernelSpec;
  readonly bindings: Readonly<Record<string, BufferView>>;
  readonly params?: Readonly<Record<string, number>>;
  readonly overrides?: Readonly<Record<string, number>>;
  readonly workgroups: readonly [number, number, number];
  /** Names the graph node that produced this launch, for error messages and profiles. */
  readonly label?: string;
}

/** Storage-binding offsets must be multiples of 256 bytes = 64 floats. */
export const VIEW_ALIGN = 64;

export function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export function view(buffer: DeviceBuffer, offset = 0, length = buffer.byteLength / 4 - offset): BufferView {
  return { buffer, offset, length };
}

/** Number of workgroups to cover `n` items with groups of `size`, split over y when x overflows. */
export function grid1d(n: number, size: number, maxPerDim = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / size));
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}
