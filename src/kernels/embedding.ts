import source from '../../shaders/embedding.wgsl';
import type { BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { withCommon } from './source.js';

/**
 * Embedding lookup and its weight gradient (shaders/embedding.wgsl). The gradient is a scatter
 * made deterministic by ownership: each element of dW has one writer that adds the tokens in
 * order, so there are no atomics and the result does not depend on scheduling.
 */

const wgsl = withCommon(source);
const WG = 256;
/**
 * Invocations the gradient aims for: enough to occupy a GPU, few enough that the id list, which
 * every invocation walks, is not reread far more often than needed (see the shader's header).
 */
const GRAD_INVOCATIONS = 4096;

const params: readonly ParamSpec[] = [
  { name: 'tokens', type: 'u32' },
  { name: 'num', type: 'u32' },
  { name: 'dim', type: 'u32' },
  { name: 'padding_idx', type: 'i32' },
  { name: 'rows_per_block', type: 'u32' },
];

function embeddingTwin({ buffers, params: p }: CpuInvocation): void {
  const ids = buffers.ids as Int32Array;
  const weight = buffers.weight as Float32Array;
  const out = buffers.out as Float32Array;
  const { tokens, num, dim } = p as Record<string, number>;
  for (let t = 0; t < tokens!; t++) {
    const id = ids[t]!;
    const inside = id >= 0 && id < num!;
    for (let j = 0; j < dim!; j++) out[t * dim! + j] = inside ? weight[id * dim! + j]! : 0;
  }
}

function embeddingGradTwin({ buffers, params: p }: CpuInvocation): void {
  const ids = buffers.ids as Int32Array;
  const dy = buffers.dy as Float32Array;
  const dw = buffers.dw as Float32Array;
  const { tokens, num, dim, padding_idx: paddingIdx } = p as Record<string, number>;
  // Row blocks only split the work on the GPU: every element still sums its tokens in order.
  dw.fill(0, 0, num! * dim!);
  for (let t = 0; t < tokens!; t++) {
    const id = ids[t]!;
    if (id < 0 || id >= num! || id === paddingIdx) continue;
    for (let j = 0; j < dim!; j++) dw[id * dim! + j] = dw[id * dim! + j]! + dy[t * dim! + j]!;
  }
}

/** out[t, j] = weight[ids[t], j], or 0 for an id outside [0, num). */
export const embedding: KernelSpec = {
  name: 'embedding',
  wgsl,
  entry: 'embedding',
  params,
  bindings: [
    { name: 'ids', type: 'i32', access: 'read' },
    { name: 'weight', type: 'f32', access: 'read' },
    { name: 'out', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: WG },
  cpu: embeddingTwin,
};

/** dw[r, j] = Σ dy[t, j] over tokens with ids[t] = r ≠ padding_idx, in token order; else 0. */
export const embeddingGrad: KernelSpec = {
  name: 'embedding_grad',
  wgsl,
  entry: 'embedding_grad',
  params,
  bindings: [
    { name: 'ids', type: 'i32', access: 'read' },
    { name: 'dy', type: 'f32', access: 'read' },
    { name: 'dw', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: WG },
  cpu: embeddingGradTwin,
};

export interface EmbeddingShape {
  readonly tokens: number;
  readonly num: number;
  readonly dim: number;
  /** A row in [0, num) whose gradient stays 0, or null. */
  readonly paddingIdx: number | null;
}

function paramsOf(s: EmbeddingShape, rowsPerBlock: number): Record<string, number> {
  return { tokens: s.tokens, num: s.num, dim: s.dim, padding_idx: s.paddingIdx ?? -1, rows_per_block: rowsPerBlock };
}

/**
 * Rows each gradient invocation owns: about GRAD_INVOCATIONS invocations, at least one row each.
 * On a software adapter (`software`) one block of all rows: the few cores gain nothing from more
 * invocations than `dim`, and each extra block rereads the whole id list.
 */
export function rowsPerBlock(num: number, dim: number, software = false): number {
  if (software) return num;
  const blocks = Math.min(num, Math.max(1, Math.ceil(GRAD_INVOCATIONS / dim)));
  return Math.ceil(num / blocks);
}

export function embeddingLaunch(s: EmbeddingShape, bindings: { ids: BufferView; weight: BufferView; out: BufferView }, label?: string): Launch {
  return launch(embedding, {
    bindings,
    params: paramsOf(s, 1),
    threads: s.tokens * s.dim,
    needs: { ids: s.tokens, weight: s.num * s.dim, out: s.tokens * s.dim },
    ...(label !== undefined ? { label } : {}),
  });
}

export function embeddingGradLaunch(
  s: EmbeddingShape,
  bindings: { ids: BufferView; dy: BufferView; dw: BufferView },
  label?: string,
  rows = rowsPerBlock(s.num, s.dim),
): Launch {
  return launch(embeddingGrad, {
    bindings,
    params: paramsOf(s, rows),
    threads: s.dim * Math.ceil(s.num / rows),
    needs: { ids: s.tokens, dy: s.tokens * s.dim, dw: s.num * s.dim },
    ...(label !== undefined ? { label } : {}),
  });
}
