import { embeddingGradLaunch, embeddingLaunch, rowsPerBlock } from '../../kernels/embedding.js';
import { ONE, type OpDef } from '../op.js';
import { shapeString, type Tensor } from '../tensor.js';

export interface EmbeddingAttrs {
  /** The row whose gradient stays 0, in [0, num), or null. */
  readonly paddingIdx: number | null;
}

/**
 * out = weight[ids] for int32 ids of any shape and weight [num, dim]: out [...ids.shape, dim].
 * An id outside [0, num) gives a row of zeros (the trainer rejects such ids on the host first).
 * Only the weight has a gradient; ids are indices.
 */
export const EMBEDDING: OpDef<EmbeddingAttrs> = {
  name: 'embedding',
  infer([ids, weight], a, label) {
    if (ids!.dtype !== 'i32') throw new Error(`${label}: embedding ids must be int32, got ${ids!.dtype} ${shapeString(ids!.shape)}`);
    if (ids!.numel === 0) throw new Error(`${label}: embedding needs at least one id, got ids ${shapeString(ids!.shape)}`);
    if (weight!.dtype !== 'f32' || weight!.rank !== 2) {
      throw new Error(`${label}: embedding weight must be a float [num_embeddings, embedding_dim], got ${weight!.dtype} ${shapeString(weight!.shape)}`);
    }
    const [num, dim] = weight!.shape as [number, number];
    if (a.paddingIdx !== null && !(Number.isInteger(a.paddingIdx) && a.paddingIdx >= 0 && a.paddingIdx < num)) {
      throw new Error(`${label}: padding_idx ${a.paddingIdx} is outside [0, ${num}) for weight ${shapeString(weight!.shape)}`);
    }
    return [{ shape: [...ids!.shape, dim], dtype: 'f32' }];
  },
  backward(g, node, [gradOut], wants) {
    if (!wants[1] || !gradOut) return [null, null];
    if (gradOut === ONE) throw new Error(`${node.label}: an embedding output cannot be the loss`);
    const [ids, weight] = node.inputs as [Tensor, Tensor];
    const attrs = { paddingIdx: node.attrs.paddingIdx, num: weight.shape[0]! };
    return [null, g.apply(EMBEDDING_GRAD, [gradOut, ids], attrs, `${node.label}.grad_weight`)[0]!];
  },
  lower(node, io) {
    const [ids, weight] = node.inputs as [Tensor, Tensor];
    const [num, dim] = weight.shape as [number, number];
    const s = { tokens: ids.numel, num, dim, paddingIdx: node.attrs.paddingIdx };
    return [embeddingLaunch(s, { ids: io.view(ids), weight: io.view(weight), out: io.view(node.outputs[0]!) }, node.label)];
  },
};

/** dW [num, dim] from dy [...ids.shape, dim]: per-row sums over the tokens, padding row 0. */
export const EMBEDDING_GRAD: OpDef<EmbeddingAttrs & { readonly num: number }> = {
  name: 'embedding_grad',
  infer([dy, ids], a, label) {
    const dim = dy!.shape[dy!.rank - 1]!;
    if (dy!.shape.slice(0, -1).join() !== ids!.shape.join()) {
      throw new Error(`${label}: embedding gradient ${shapeString(dy!.shape)} does not match ids ${shapeString(ids!.shape)}`);
    }
    return [{ shape: [a.num, dim], dtype: 'f32' }];
  },
  lower(node, io) {
    const [dy, ids] = node.inputs as [Tensor, Tensor];
    const dw = node.outputs[0]!;
    const s = { tokens: ids.numel, num: node.attrs.num, dim: dw.shape[1]!, paddingIdx: node.attrs.paddingIdx };
    return [embeddingGradLaunch(s, { ids: io.view(ids), dy: io.view(dy), dw: io.view(dw) }, node.label, rowsPerBlock(s.num, s.dim, io.software))];
  },
};

export interface EmbeddingOptions {
  /** A row that gets no gradient (negative counts from the end, as torch). Default none. */
  readonly paddingIdx?: number | null;
}

/** `paddingIdx` in [0, num), negative counting from the end as torch; throws naming `who`. */
export function normalizePaddingIdx(paddingIdx: number | null | undefined, num: number, who: string): number | null {
  if (paddingIdx === null || paddingIdx === undefined) return null;
  if (!Number.isInteger(paddingIdx) || paddingIdx < -num || paddingIdx >= num) {
    throw new Error(`${who}: padding_idx must be an integer within num_embeddings (${-num}..${num - 1}), got ${paddingIdx}`);
  }
  return paddingIdx < 0 ? paddingIdx + num : paddingIdx;
}

/** torch.nn.functional.embedding: the rows of `weight` [num, dim] at int32 `ids` of any shape. */
export function embedding(ids: Tensor, weight: Tensor, { paddingIdx }: EmbeddingOptions = {}): Tensor {
  const num = weight.shape[0] ?? 0;
  const idx = normalizePaddingIdx(paddingIdx, num, `${ids.graph.currentLabel}: embedding`);
  return ids.graph.apply(EMBEDDING, [ids, weight], { paddingIdx: idx })[0]!;
}
