import {
  attentionGroupSize,
  type AttentionShape,
  attentionDeltaLaunch,
  attentionForwardLaunch,
  attentionGradKvLaunch,
  attentionGradQLaunch,
  checkAttentionShape,
} from '../../kernels/attention.js';
import { ONE, type OpDef } from '../op.js';
import { numel, shapeString, type Tensor } from '../tensor.js';

export interface AttentionAttrs {
  readonly isCausal: boolean;
  readonly scale: number;
}

const SIGNATURE = 'scaledDotProductAttention expects q [..., L, E], k [..., S, E], v [..., S, Ev] with equal leading dims';

/** The kernels' view of an attention node: inputs [q, k, v] or [q, k, v, mask]. */
function attentionShape(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, attrs: AttentionAttrs): AttentionShape {
  const r = q.rank;
  return {
    bh: numel(q.shape.slice(0, r - 2)),
    l: q.shape[r - 2]!,
    s: k.shape[r - 2]!,
    e: q.shape[r - 1]!,
    ev: v.shape[r - 1]!,
    scale: attrs.scale,
    causal: attrs.isCausal,
    mask: !mask ? 'none' : mask.rank === 2 ? 'shared' : 'per-head',
  };
}

/**
 * softmax(q · kᵀ · scale + mask) · v over the last two dims, fused (kernels/attention.ts).
 * Inputs [q, k, v] or [q, k, v, attnMask]; outputs o [..., L, Ev] and the per-query
 * log-sum-exp [..., L], which backward reuses to recompute the probabilities.
 */
export const ATTENTION: OpDef<AttentionAttrs> = {
  name: 'attention',
  infer([q, k, v, mask], attrs, label) {
    const got = `got q ${shapeString(q!.shape)}, k ${shapeString(k!.shape)}, v ${shapeString(v!.shape)}`;
    const r = q!.rank;
    if (r < 2 || k!.rank !== r || v!.rank !== r) throw new Error(`${label}: ${SIGNATURE}, ${got}`);
    const lead = q!.shape.slice(0, r - 2).join();
    if (k!.shape.slice(0, r - 2).join() !== lead || v!.shape.slice(0, r - 2).join() !== lead) {
      throw new Error(`${label}: ${SIGNATURE} (no broadcasting), ${got}`);
    }
    if (k!.shape[r - 1] !== q!.shape[r - 1]) throw new Error(`${label}: ${SIGNATURE}: q and k differ in E, ${got}`);
    if (v!.shape[r - 2] !== k!.shape[r - 2]) throw new Error(`${label}: ${SIGNATURE}: k and v differ in S, ${got}`);
    for (const [name, t] of [['q', q], ['k', k], ['v', v], ['attnMask', mask]] as const) {
      if (t && t.dtype !== 'f32') throw new Error(`${label}: scaledDotProductAttention needs f32 ${name}, got ${t.dtype} ${shapeString(t.shape)}`);
    }
    const shape = attentionShape(q!, k!, v!, mask, attrs);
    if (mask) {
      if (attrs.isCausal) throw new Error(`${label}: scaledDotProductAttention takes attnMask or isCausal, not both`);
      const [l, s] = [shape.l, shape.s];
      const perHead = [...q!.shape.slice(0, r - 2), l, s];
      const ok = mask.shape.join() === `${l},${s}` || mask.shape.join() === perHead.join();
      if (!ok) {
        throw new Error(`${label}: scaledDotProductAttention expects attnMask [${l}, ${s}] or ${shapeString(perHead)} for ${got}, got attnMask ${shapeString(mask.shape)}`);
      }
    }
    checkAttentionShape(shape, label);
    return [
      { shape: [...q!.shape.slice(0, r - 1), shape.ev], dtype: 'f32' },
      { shape: q!.shape.slice(0, r - 1), dtype: 'f32' },
    ];
  },
  backward(g, node, [gradOut, gradLse], wants) {
    if (gradLse) throw new Error(`${node.label}: the log-sum-exp of attention has no gradient`);
    if (!gradOut) return node.inputs.map(() => null);
    if (gradOut === ONE) throw new Error(`${node.label}: an attention output cannot be the loss`);
    if (wants[3]) {
      throw new Error(`${node.label}: scaledDotProductAttention has no gradient for attnMask; build the mask from tensors that need no gradient`);
    }
    const [q, k, v, mask] = node.inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
    const [o, lse] = node.outputs as [Tensor, Tensor];
    const inputs = mask ? [q, k, v, o, lse, gradOut, mask] : [q, k, v, o, lse, gradOut];
    const [dq, dk, dv] = g.apply(ATTENTION_GRAD, inputs, node.attrs, `${node.label}.grad`);
    return [wants[0] ? dq! : null, wants[1] ? dk! : null, wants[2] ? dv! : null, null].slice(0, node.inputs.length);
  },
  lower(node, io) {
    const [q, k, v, mask] = node.inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
    const [o, lse] = node.outputs as [Tensor, Tensor];
    const shape = { ...attentionShape(q, k, v, mask, node.attrs), wg: attentionGroupSize(io.software) };
    const bindings = { q: io.view(q), k: io.view(k), v: io.view(v), attn_mask: mask ? io.view(mask) : io.dummy, o: io.view(o), lse: io.view(lse) };
    return [attentionForwardLaunch(shape, bindings, node.label)];
  },
};

/**
 * Gradients of q, k and v. Inputs [q, k, v, o, lse, dO] or the same plus the mask; outputs dq,
 * dk, dv and scratch stats [..., L, 2] = (lse, rowsum(dO ⊙ O)). Three dispatches: the stats,
 * then dK/dV over key blocks, then dQ over query blocks (deterministic, no atomics).
 */
export const ATTENTION_GRAD: OpDef<AttentionAttrs> = {
  name: 'attention_grad',
  infer([q, k, v]) {
    const lead = q!.shape.slice(0, -1);
    return [
      { shape: q!.shape, dtype: 'f32' },
      { shape: k!.shape, dtype: 'f32' },
      { shape: v!.shape, dtype: 'f32' },
      { shape: [...lead, 2], dtype: 'f32' },
    ];
  },
  lower(node, io) {
    const [q, k, v, o, lse, gradOut, mask] = node.inputs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | undefined];
    const [dq, dk, dv, stats] = node.outputs as [Tensor, Tensor, Tensor, Tensor];
    const shape = { ...attentionShape(q, k, v, mask, node.attrs), wg: attentionGroupSize(io.software) };
    const common = { q: io.view(q), k: io.view(k), v: io.view(v), attn_mask: mask ? io.view(mask) : io.dummy, d_o: io.view(gradOut), row_stats: io.view(stats) };
    return [
      attentionDeltaLaunch(shape, { o_fwd: io.view(o), lse_fwd: io.view(lse), d_o: io.view(gradOut), stats: io.view(stats) }, node.label),
      attentionGradKvLaunch(shape, { ...common, dk: io.view(dk), dv: io.view(dv) }, node.label),
      attentionGradQLaunch(shape, { ...common, dq: io.view(dq) }, node.label),
    ];
  },
};

export interface AttentionOptions {
  /**
   * A float mask ADDED to the scaled scores, [L, S] (shared by every batch and head) or
   * [..., L, S] with q's leading dims. Tensors here have no bool dtype: where torch takes a bool
   * mask (true = the position takes part), pass 0 where it is true and -Infinity where it is
   * false. No gradient flows to the mask (backward throws if it depends on a parameter).
   */
  readonly attnMask?: Tensor | null;
  /** Query i attends to keys j <= i (top-left aligned lower triangle, as torch's is_causal). */
  readonly isCausal?: boolean;
  /** Multiplies q · kᵀ; default 1 / √E. */
  readonly scale?: number | null;
}

/**
 * torch.nn.functional.scaled_dot_product_attention (torch 2.x, without dropout):
 * `softmax(q · kᵀ · scale + attnMask) · v` over the last two dims, with q [..., L, E],
 * k [..., S, E], v [..., S, Ev] and the same leading (batch, heads) dims; returns [..., L, Ev].
 * One fused WGSL kernel forward and three backward; no L × S matrix is stored. Head dims up to
 * 128, batch × heads up to 65535. `attnMask` and `isCausal` together are an error, as in torch.
 *
 * Masked positions are those whose score is -Infinity or the lowest float32
 * (torch.finfo(torch.float32).min). A query whose every key is masked gets output 0 and
 * gradient 0, where torch gives NaN (and, for a row of lowest-float masks, the mean of v).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const { attnMask = null, isCausal = false, scale = null } = opts;
  const label = q.graph.currentLabel;
  if (attnMask && isCausal) throw new Error(`${label}: scaledDotProductAttention takes attnMask or isCausal, not both`);
  if (scale !== null && !Number.isFinite(scale)) throw new Error(`${label}: scaledDotProductAttention scale must be finite, got ${scale}`);
  const inputs = attnMask ? [q, k, v, attnMask] : [q, k, v];
  return q.graph.apply(ATTENTION, inputs, { isCausal, scale: scale ?? 1 / Math.sqrt(q.shape[q.rank - 1]!) })[0]!;
}
