import type { Backend } from '../backend/backend.js';
import { alignUp, type BufferView, type DeviceBuffer, VIEW_ALIGN } from '../backend/kernel.js';
import type { ModuleBuffer, Parameter } from '../graph/parameter.js';
import type { Optimizer } from '../optim/optimizer.js';
import { type FlatLayout, packParameters } from '../optim/update-plan.js';

/**
 * Every parameter of a model in one device buffer, and every gradient in a second one with the
 * same offsets, so that one dispatch can update a whole parameter group. Tensors start at
 * 256-byte boundaries (storage-binding alignment); padding stays zero. Groups come first, in
 * optimizer order, each a contiguous range (`packParameters`); parameters no group trains follow.
 */
export class FlatParameters {
  readonly order: Parameter[];
  readonly trained: Set<Parameter>;
  readonly layout: FlatLayout;
  private readonly offsets = new Map<Parameter, number>();

  constructor(
    private readonly backend: Backend,
    all: readonly Parameter[],
    optimizer: Optimizer,
  ) {
    const held = all.find((p) => p.store !== null);
    if (held) {
      throw new Error(`Trainer: parameter '${held.name}' is held by another Trainer that is still alive; await its dispose() first (a model trains under one Trainer at a time)`);
    }
    const packed = packParameters(optimizer);
    this.trained = new Set();
    optimizer.paramGroups.forEach((group, g) =>
      group.params.forEach((p, j) => {
        if (this.trained.has(p)) throw new Error(`parameter '${p.name}' appears in two parameter groups`);
        this.trained.add(p);
        this.offsets.set(p, packed.offsets[g]![j]!);
      }),
    );
    let at = packed.length;
    for (const p of all) {
      if (this.offsets.has(p)) continue;
      this.offsets.set(p, at);
      at = alignUp(at + p.numel, VIEW_ALIGN);
    }
    this.order = [...this.offsets.keys()];
    const total = Math.max(at, VIEW_ALIGN);
    const params = backend.createBuffer(total * 4, 'parameters');
    const grads = backend.createBuffer(total * 4, 'gradients');
    this.layout = { params, grads, groups: packed.groups };
    for (const p of this.order) {
      backend.write(params, p.data, this.offsets.get(p)! * 4);
      p.store = {
        read: async () => new Float32Array(await backend.read(params, this.offsets.get(p)! * 4, p.numel * 4)),
        write: (values) => backend.write(params, values, this.offsets.get(p)! * 4),
      };
    }
  }

  paramView(p: Parameter): BufferView {
    return this.viewIn(this.layout.params, p);
  }

  gradView(p: Parameter): BufferView {
    return this.viewIn(this.layout.grads, p);
  }

  private viewIn(buffer: DeviceBuffer, p: Parameter): BufferView {
    const offset = this.offsets.get(p);
    if (offset === undefined) throw new Error(`parameter '${p.name}' is not held by this trainer`);
    return { buffer, offset, length: p.numel };
  }

  async readGradients(): Promise<Record<string, Float32Array>> {
    const all = new Float32Array(await this.backend.read(this.layout.grads));
    const out: Record<string, Float32Array> = {};
    for (const p of this.order) {
      const o = this.offsets.get(p)!;
      out[p.name] = all.slice(o, o + p.numel);
    }
    return out;
  }

  /**
   * Copies the live values back into each parameter's host data and releases them. When the
   * device is already gone, the parameters keep the host values they had and are released all
   * the same; the returned flag says whether the live values came back.
   */
  async detach(): Promise<boolean> {
    let all: Float32Array | null = null;
    try {
      all = new Float32Array(await this.backend.read(this.layout.params));
    } catch {
      all = null;
    }
    for (const p of this.order) {
      const o = this.offsets.get(p)!;
      if (all) p.data = all.slice(o, o + p.numel);
      p.store = null;
    }
    return all !== null;
  }

  /**
   * Gives each parameter its values in `all` (a copy of the parameter buffer) as host data, or
   * keeps its host data when `all` is null, and releases it without reading the device: for a
   * device that was lost, or state that could not be made.
   */
  restore(all: Float32Array | null): void {
    for (const p of this.order) {
      const o = this.offsets.get(p)!;
      if (all) p.data = all.slice(o, o + p.numel);
      p.store = null;
    }
  }

  dispose(): void {
    this.backend.destroyBuffer(this.layout.params);
    this.backend.destroyBuffer(this.layout.grads);
  }
}

/**
 * The module buffers of a model (running statistics) in one device buffer of their own: kernels
 * update them in place during a step, which they could not do inside the parameter buffer that
 * the same dispatch reads (WebGPU forbids binding one buffer both ways).
 */
export class FlatBuffers {
  private readonly offsets = new Map<ModuleBuffer, number>();
  readonly buffer: DeviceBuffer;

  constructor(
    private readonly backend: Backend,
    readonly order: readonly ModuleBuffer[],
  ) {
    let at = 0;
    for (const b of order) {
      this.offsets.set(b, at);
      at = alignUp(at + b.numel, VIEW_ALIGN);
    }
    this.buffer = backend.createBuffer(Math.max(at, VIEW_ALIGN) * 4, 'module-buffers');
    for (const b of order) {
      const o = this.offsets.get(b)! * 4;
      backend.write(this.buffer, b.data, o);
      b.store = {
        read: async () => new Float32Array(await backend.read(this.buffer, o, b.numel * 4)),
        write: (values) => backend.write(this.buffer, values, o),
      };
    }
  }

  view(b: ModuleBuffer): BufferView {
    const offset = this.offsets.get(b);
    if (offset === undefined) throw new Error(`buffer '${b.name}' is not held by this trainer`);
    return { buffer: this.buffer, offset, length: b.numel };
  }

  /** Copies the live values back into each buffer's host data and releases them. */
  async detach(): Promise<void> {
    let all: Float32Array | null = null;
    try {
      all = new Float32Array(await this.backend.read(this.buffer));
    } catch {
      all = null;
    }
    for (const b of this.order) {
      const o = this.offsets.get(b)!;
      if (all) b.data = all.slice(o, o + b.numel);
      b.store = null;
    }
  }

  /** As `FlatParameters.restore`, for the module buffers. */
  restore(all: Float32Array | null): void {
    for (const b of this.order) {
      const o = this.offsets.get(b)!;
      if (all) b.data = all.slice(o, o + b.numel);
      b.store = null;
    }
  }

  dispose(): void {
    this.backend.destroyBuffer(this.buffer);
  }
}
