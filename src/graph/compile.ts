import type { Backend } from '../backend/backend.js';
import { alignUp, type BufferView, type DeviceBuffer, type Launch, VIEW_ALIGN } from '../backend/kernel.js';
import { type Graph, type Node, shapeString, type Tensor } from './tensor.js';

export interface CompileRequest {
  readonly graph: Graph;
  /** Tensors whose storage is owned outside: inputs, parameters, gradients, kept outputs. */
  readonly bound: ReadonlyMap<Tensor, BufferView>;
  /** Tensors that must be computed; everything they do not need is dropped. */
  readonly outputs: readonly Tensor[];
  readonly label: string;
  /** Fill scratch buffers with NaN first, so a kernel that leaves part of its output unwritten shows. */
  readonly poison?: boolean;
}

/** The launches of a graph in order, over buffers planned by liveness. */
export interface CompiledGraph {
  readonly launches: Launch[];
  readonly views: ReadonlyMap<Tensor, BufferView>;
  /** Scratch buffers owned by this compilation (freed by `dispose`). */
  readonly buffers: readonly DeviceBuffer[];
  /** Bytes of scratch memory, and what they would be without reuse. */
  readonly scratchBytes: number;
  readonly unplannedBytes: number;
  dispose(): void;
}

/** Follows reshape-like aliases to the tensor that owns the storage. */
function storageOf(t: Tensor): Tensor {
  let cur = t;
  while (cur.node.op.aliases !== undefined) cur = cur.node.inputs[cur.node.op.aliases]!;
  return cur;
}

/**
 * Orders the needed nodes (creation order is topological), plans scratch buffers so that a
 * tensor's buffer is reused once its last reader has run, and lowers every node to launches.
 * Runs once per graph; a training step then replays the launches.
 */
export function compileGraph(backend: Backend, req: CompileRequest): CompiledGraph {
  const needed = new Set<Node>();
  const stack = [...req.outputs, ...req.graph.effects].map((t) => t.node);
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (needed.has(node)) continue;
    needed.add(node);
    for (const t of node.inputs) stack.push(t.node);
  }
  const order = req.graph.nodes.filter((n) => needed.has(n));

  const isBound = (t: Tensor): boolean => req.bound.has(storageOf(t)) || req.bound.has(t);
  for (const node of order) {
    if (node.op.name === 'input' || node.op.name === 'param' || node.op.name === 'buffer') {
      if (!isBound(node.outputs[0]!)) throw new Error(`${req.label}: ${node.op.name} '${node.label}' has no buffer`);
    }
  }

  // Last position at which each storage tensor is read (or written, for unread outputs).
  const lastUse = new Map<Tensor, number>();
  order.forEach((node, i) => {
    for (const t of [...node.inputs, ...node.outputs]) lastUse.set(storageOf(t), i);
  });
  for (const t of [...req.outputs, ...req.graph.effects]) lastUse.set(storageOf(t), Infinity);

  // Slots: symbolic buffers whose size is the largest tensor they ever hold.
  const slotSize: number[] = [];
  const free: number[] = [];
  const slotOf = new Map<Tensor, number>();
  /** What sized each slot: the tensor and the node that made it, for memory errors. */
  const slotWhat: string[] = [];
  let unplanned = 0;
  /** The smallest free slot that fits; else the largest free slot, grown; else a new slot. */
  const allocate = (size: number): number => {
    const bySize = free.slice().sort((a, b) => slotSize[a]! - slotSize[b]!);
    const pick = bySize.find((s) => slotSize[s]! >= size) ?? bySize[bySize.length - 1];
    if (pick === undefined) {
      slotSize.push(size);
      return slotSize.length - 1;
    }
    free.splice(free.indexOf(pick), 1);
    slotSize[pick] = Math.max(slotSize[pick]!, size);
    return pick;
  };
  order.forEach((node, i) => {
    // A view (reshape) shares its input's storage: nothing to allocate, but it may be the last reader.
    for (const t of node.op.aliases === undefined ? node.outputs : []) {
      if (isBound(t)) continue;
      const size = alignUp(Math.max(1, t.numel), VIEW_ALIGN);
      if (size * 4 > backend.maxBufferBytes) {
        throw new Error(
          `${req.label}: '${node.label}' (${node.op.name}) outputs ${shapeString(t.shape)}, ${t.numel * 4} bytes, more than ` +
            `this device's largest buffer (${backend.maxBufferBytes} bytes); use a smaller batch or layer`,
        );
      }
      unplanned += size * 4;
      const slot = allocate(size);
      if (slotSize[slot] === size) slotWhat[slot] = `'${node.label}' ${shapeString(t.shape)}`;
      slotOf.set(t, slot);
    }
    for (const t of new Set([...node.inputs, ...node.outputs].map(storageOf))) {
      const slot = slotOf.get(t);
      if (slot !== undefined && lastUse.get(t) === i) free.push(slot);
    }
  });

  // One buffer per slot: WebGPU forbids a dispatch to bind one buffer both read-only and
  // writable, so tensors that one kernel reads and writes cannot share a buffer. The dummies fill
  // bindings a kernel variant ignores, one for each access mode for the same reason.
  // All or nothing: a buffer that cannot be made frees the ones made before it.
  const made: DeviceBuffer[] = [];
  const make = (bytes: number, label: string): DeviceBuffer => {
    try {
      const b = backend.createBuffer(bytes, label);
      made.push(b);
      return b;
    } catch (e) {
      for (const b of made) backend.destroyBuffer(b);
      throw e;
    }
  };
  const buffers = slotSize.map((size, s) => make(size * 4, `${req.label}/scratch${s} for ${slotWhat[s] ?? 'intermediates'}`));
  const dummies = [make(VIEW_ALIGN * 4, `${req.label}/dummy`), make(VIEW_ALIGN * 4, `${req.label}/dummy-out`)];
  if (req.poison) for (const b of buffers) backend.write(b, new Float32Array(b.byteLength / 4).fill(NaN));
  const views = new Map<Tensor, BufferView>();
  const viewOf = (t: Tensor): BufferView => {
    const hit = views.get(t) ?? req.bound.get(t);
    if (hit) return hit;
    const root = storageOf(t);
    const bound = req.bound.get(root);
    const slot = slotOf.get(root);
    if (!bound && slot === undefined) throw new Error(`${req.label}: no storage for ${t}`);
    const base = bound ?? { buffer: buffers[slot!]!, offset: 0, length: root.numel };
    // A dense tensor starts its storage; a strided view is read through its own strides and
    // offset by ops that accept views, so it is given the whole storage.
    const v = { buffer: base.buffer, offset: base.offset, length: t.isDense ? t.numel : root.numel };
    views.set(t, v);
    return v;
  };
  const io = { view: viewOf, dummy: { buffer: dummies[0]!, offset: 0, length: VIEW_ALIGN }, dummyOut: { buffer: dummies[1]!, offset: 0, length: VIEW_ALIGN }, software: backend.software };
  const launches: Launch[] = [];
  for (const node of order) {
    try {
      launches.push(...node.op.lower(node, io));
    } catch (e) {
      for (const b of made) backend.destroyBuffer(b);
      throw new Error(`${req.label}: lowering ${node.op.name} '${node.label}': ${(e as Error).message}`);
    }
  }
  for (const t of req.outputs) viewOf(t);
  const all = [...buffers, ...dummies];
  return {
    launches,
    views,
    buffers: all,
    scratchBytes: slotSize.reduce((a, b) => a + b * 4, 0),
    unplannedBytes: unplanned,
    dispose: () => all.forEach((b) => backend.destroyBuffer(b)),
  };
}
