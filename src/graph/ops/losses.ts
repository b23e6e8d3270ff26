import {
  bceTargetGradLaunch,
  crossEntropyLaunch,
  type PointwiseKind,
  pointwiseLossLaunch,
  type PositiveWeight,
  type Reduction,
  scaleGradLaunch,
} from '../../kernels/losses.js';
import { type GradIn, ONE, type OpDef } from '../op.js';
import { type Graph, numel, shapeString, type Tensor } from '../tensor.js';

export type { Reduction } from '../../kernels/losses.js';

/**
 * Losses as graph ops: each returns a scalar tensor of shape [1] that may be the root of backward
 * or be used further (added to another loss). The forward op also outputs its gradient for a unit
 * incoming gradient; backward hands that on as is when the loss is the root (`ONE`), and
 * otherwise multiplies it by the incoming [1] gradient in a `loss_grad_scale` node.
 */

const TORCH_NAMES = { mse: 'mse_loss', l1: 'l1_loss', bce: 'binary_cross_entropy_with_logits' } as const;

/** `reduction` if it is one this module implements; `who` names the caller in the error. */
export function checkReduction(who: string, reduction: unknown): Reduction {
  if (reduction === 'mean' || reduction === 'sum') return reduction;
  throw new Error(`${who}: reduction must be 'mean' or 'sum', got ${JSON.stringify(reduction)}`);
}

/** The incoming gradient of a loss output as a tensor, or null for a unit one. */
function incoming(node: { label: string }, gradOut: GradIn): Tensor | null {
  if (gradOut === null || gradOut === ONE) return null;
  if (gradOut.numel !== 1) throw new Error(`${node.label}: the gradient of a loss must have one element, got ${shapeString(gradOut.shape)}`);
  return gradOut;
}

/** Output 1 of a loss op, its unit gradient, has no gradient rule of its own (no second order). */
function noGradThroughUnit(node: { label: string }, gradOut: readonly GradIn[]): void {
  if (gradOut[1]) throw new Error(`${node.label}: the gradient output of a loss op cannot be differentiated`);
}

// --- cross-entropy ---------------------------------------------------------------------------

export interface CrossEntropyAttrs {
  readonly labelSmoothing: number;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
}

/**
 * torch.nn.functional.cross_entropy with class-index targets: inputs [logits [N, C, d...] f32,
 * target [N, d...] i32]. Outputs: loss [1], d loss / d logits for a unit incoming gradient, and
 * the per-sample correctness [N, d...] (1 where argmax == target, 0 elsewhere and on ignored
 * samples). Softmax and loss are one fused dispatch that writes the gradient too.
 */
export const CROSS_ENTROPY: OpDef<CrossEntropyAttrs> = {
  name: 'cross_entropy',
  infer([logits, target], _attrs, label) {
    const x = logits!;
    const t = target!;
    if (x.dtype !== 'f32' || x.rank < 2) {
      throw new Error(`${label}: cross_entropy expects f32 logits [N, C] or [N, C, d1, ...], got ${x.dtype} ${shapeString(x.shape)}`);
    }
    const want = [x.shape[0]!, ...x.shape.slice(2)];
    if (t.dtype !== 'i32' || t.shape.join() !== want.join()) {
      throw new Error(`${label}: cross_entropy expects int32 class indices ${shapeString(want)} for logits ${shapeString(x.shape)}, got ${t.dtype} ${shapeString(t.shape)}`);
    }
    if (x.numel === 0) throw new Error(`${label}: cross_entropy needs a non-empty input, got ${shapeString(x.shape)}`);
    return [
      { shape: [1], dtype: 'f32' },
      { shape: x.shape, dtype: 'f32' },
      { shape: t.shape, dtype: 'f32' },
    ];
  },
  // `correct` is piecewise constant: whatever flows into it contributes nothing.
  backward(g, node, gradOut, wants) {
    noGradThroughUnit(node, gradOut);
    if (!wants[0] || !gradOut[0]) return [null, null];
    return [scaleUnit(g, node.outputs[1]!, incoming(node, gradOut[0]), 1, node.label), null];
  },
  lower(node, io) {
    const [logits, target] = node.inputs as [Tensor, Tensor];
    const [loss, dlogits, correct] = node.outputs as [Tensor, Tensor, Tensor];
    const shape = { batch: logits.shape[0]!, classes: logits.shape[1]!, inner: numel(logits.shape.slice(2)) };
    return [
      crossEntropyLaunch(
        { logits: io.view(logits), labels: io.view(target), dlogits: io.view(dlogits), correct: io.view(correct), loss: io.view(loss) },
        shape,
        node.attrs,
        node.label,
      ),
    ];
  },
};

export interface CrossEntropyOptions {
  /** ε in [0, 1]: the target mixes (1 − ε) of the class with ε spread evenly over all classes. */
  readonly labelSmoothing?: number;
  /** Samples whose target is this index add nothing and leave the mean's denominator. */
  readonly ignoreIndex?: number;
  readonly reduction?: Reduction;
}

/** Validated cross-entropy attributes; `who` names the caller in errors. */
export function crossEntropyAttrs(who: string, { labelSmoothing = 0, ignoreIndex = -100, reduction = 'mean' }: CrossEntropyOptions = {}): CrossEntropyAttrs {
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new Error(`${who}: labelSmoothing must be a number in [0, 1], got ${labelSmoothing}`);
  }
  if (!Number.isInteger(ignoreIndex) || ignoreIndex < -(2 ** 31) || ignoreIndex >= 2 ** 31) {
    throw new Error(`${who}: ignoreIndex must be a 32-bit integer, got ${ignoreIndex}`);
  }
  return { labelSmoothing, ignoreIndex, reduction: checkReduction(who, reduction) };
}

/** The loss [1] and the per-sample correctness (argmax == target; 0 for ignored samples). */
export function crossEntropyWithCorrect(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}, label?: string): { loss: Tensor; correct: Tensor } {
  const attrs = crossEntropyAttrs(label ?? 'crossEntropy', options);
  const [loss, , correct] = input.graph.apply(CROSS_ENTROPY, [input, target], attrs, label);
  return { loss: loss!, correct: correct! };
}

/**
 * torch.nn.functional.cross_entropy(input, target, ignore_index, reduction, label_smoothing)
 * with class indices: per sample (1 − ε) · −log p_t + ε · mean_c(−log p_c), averaged over the
 * samples whose target is not `ignoreIndex` (NaN when there is none, as in torch) or summed.
 * input [N, C] or [N, C, d1, ...] logits; target [N] or [N, d1, ...] int32. Returns [1].
 */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  return crossEntropyWithCorrect(input, target, options).loss;
}

// --- pointwise losses ------------------------------------------------------------------------

export interface PointwiseLossAttrs {
  readonly kind: PointwiseKind;
  readonly reduction: Reduction;
  /** BCE's scalar positive weight; ignored when a third input gives one per class. */
  readonly posWeight: number;
}

function positiveWeight(node: { inputs: readonly Tensor[]; attrs: PointwiseLossAttrs }): PositiveWeight {
  const w = node.inputs[2];
  return w ? { period: w.numel } : { scalar: node.attrs.posWeight };
}

/**
 * MSE, L1 or binary cross-entropy on logits: inputs [x, y] (BCE may add pos_weight [C] or [1],
 * C the last dimension of x). Outputs: loss [1] and d loss / d x for a unit incoming gradient.
 */
export const POINTWISE_LOSS: OpDef<PointwiseLossAttrs> = {
  name: 'pointwise_loss',
  infer([x, y, w], attrs, label) {
    const who = `${label}: ${TORCH_NAMES[attrs.kind]}`;
    if (x!.dtype !== 'f32' || y!.dtype !== 'f32' || x!.shape.join() !== y!.shape.join()) {
      throw new Error(`${who} expects f32 input and target of one shape, got ${x!.dtype} ${shapeString(x!.shape)} and ${y!.dtype} ${shapeString(y!.shape)}`);
    }
    if (x!.numel === 0) throw new Error(`${who} needs a non-empty input, got ${shapeString(x!.shape)}`);
    if (w) {
      const last = x!.shape[x!.rank - 1] ?? 1;
      if (attrs.kind !== 'bce' || w.dtype !== 'f32' || w.rank !== 1 || (w.shape[0] !== last && w.shape[0] !== 1)) {
        throw new Error(`${who} expects pos_weight f32 [${last}] or [1] for input ${shapeString(x!.shape)}, got ${w.dtype} ${shapeString(w.shape)}`);
      }
    }
    return [
      { shape: [1], dtype: 'f32' },
      { shape: x!.shape, dtype: 'f32' },
    ];
  },
  backward(g, node, gradOut, wants) {
    noGradThroughUnit(node, gradOut);
    if (wants[2]) throw new Error(`${node.label}: no gradient with respect to pos_weight; pass a tensor that does not depend on parameters`);
    const grads: (Tensor | null)[] = node.inputs.map(() => null);
    if (!gradOut[0]) return grads;
    const gout = incoming(node, gradOut[0]);
    const [x, , w] = node.inputs as [Tensor, Tensor, Tensor | undefined];
    if (wants[0]) grads[0] = scaleUnit(g, node.outputs[1]!, gout, 1, node.label);
    if (wants[1]) {
      grads[1] =
        node.attrs.kind === 'bce'
          ? g.apply(BCE_TARGET_GRAD, [x, ...(w ? [w] : []), ...(gout ? [gout] : [])], { ...node.attrs, hasGout: gout !== null, hasWeights: !!w }, `${node.label}.target_grad`)[0]!
          : scaleUnit(g, node.outputs[1]!, gout, -1, `${node.label}.target`);
    }
    return grads;
  },
  lower(node, io) {
    const [x, y, w] = node.inputs as [Tensor, Tensor, Tensor | undefined];
    const [loss, dx] = node.outputs as [Tensor, Tensor];
    return [
      pointwiseLossLaunch(
        { x: io.view(x), y: io.view(y), pos_weights: w ? io.view(w) : io.dummy, dx: io.view(dx), loss: io.view(loss) },
        x.numel,
        node.attrs.kind,
        node.attrs.reduction,
        positiveWeight(node),
        node.label,
      ),
    ];
  },
};

interface BceTargetGradAttrs extends PointwiseLossAttrs {
  readonly hasWeights: boolean;
  readonly hasGout: boolean;
}

/** d bce / d target, which does not depend on the target: inputs [x, pos_weight?, gout?]. */
const BCE_TARGET_GRAD: OpDef<BceTargetGradAttrs> = {
  name: 'bce_target_grad',
  infer([x]) {
    return [{ shape: x!.shape, dtype: 'f32' }];
  },
  lower(node, io) {
    const [x] = node.inputs as [Tensor];
    const w = node.attrs.hasWeights ? node.inputs[1]! : null;
    const gout = node.attrs.hasGout ? node.inputs[node.inputs.length - 1]! : null;
    return [
      bceTargetGradLaunch(
        { x: io.view(x), pos_weights: w ? io.view(w) : io.dummy, gout: gout ? io.view(gout) : null, dummy: io.dummy, grad: io.view(node.outputs[0]!) },
        x.numel,
        node.attrs.reduction,
        w ? { period: w.numel } : { scalar: node.attrs.posWeight },
        node.label,
      ),
    ];
  },
};

/** factor · gout · unit: inputs [unit] (a unit incoming gradient) or [unit, gout [1]]. */
export const LOSS_GRAD_SCALE: OpDef<{ readonly factor: number }> = {
  name: 'loss_grad_scale',
  infer([unit, gout], _attrs, label) {
    if (gout && gout.numel !== 1) throw new Error(`${label}: the incoming gradient of a loss must have one element, got ${shapeString(gout.shape)}`);
    return [{ shape: unit!.shape, dtype: 'f32' }];
  },
  lower(node, io) {
    const [unit, gout] = node.inputs as [Tensor, Tensor | undefined];
    return [
      scaleGradLaunch(
        { gout: gout ? io.view(gout) : null, dummy: io.dummy, unit: io.view(unit), grad: io.view(node.outputs[0]!) },
        unit.numel,
        node.attrs.factor,
        node.label,
      ),
    ];
  },
};

/** The unit gradient as is when it needs no scaling, else factor · gout · unit. */
function scaleUnit(g: Graph, unit: Tensor, gout: Tensor | null, factor: number, label: string): Tensor {
  if (!gout && factor === 1) return unit;
  return g.apply(LOSS_GRAD_SCALE, gout ? [unit, gout] : [unit], { factor }, `${label}.grad`)[0]!;
}

export interface BceOptions {
  /**
   * Weight of the positive term: a number, or an f32 tensor [C] (C the last dimension of the
   * input) or [1], as torch's pos_weight. Default 1.
   */
  readonly posWeight?: number | Tensor;
  readonly reduction?: Reduction;
}

/**
 * torch.nn.functional.binary_cross_entropy_with_logits: per element
 * (1 − y) x + (1 + (w − 1) y) · log(1 + e^−x), computed as max(−x, 0) + log(1 + e^−|x|) so that
 * no exp() overflows. target: floats shaped like the input. Returns [1].
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, { posWeight = 1, reduction = 'mean' }: BceOptions = {}): Tensor {
  const who = 'binaryCrossEntropyWithLogits';
  const attrs: PointwiseLossAttrs = { kind: 'bce', reduction: checkReduction(who, reduction), posWeight: 1 };
  if (typeof posWeight === 'number') {
    if (!Number.isFinite(posWeight)) throw new Error(`${who}: posWeight must be a finite number or a tensor, got ${posWeight}`);
    return input.graph.apply(POINTWISE_LOSS, [input, target], { ...attrs, posWeight })[0]!;
  }
  return input.graph.apply(POINTWISE_LOSS, [input, target, posWeight], attrs)[0]!;
}

/** torch.nn.functional.mse_loss: the mean (or sum) of (x − y)². Returns [1]. */
export function mseLoss(input: Tensor, target: Tensor, { reduction = 'mean' }: { reduction?: Reduction } = {}): Tensor {
  return input.graph.apply(POINTWISE_LOSS, [input, target], { kind: 'mse', reduction: checkReduction('mseLoss', reduction), posWeight: 1 })[0]!;
}

/** torch.nn.functional.l1_loss: the mean (or sum) of |x − y|; gradient sign(x − y), 0 where x = y. Returns [1]. */
export function l1Loss(input: Tensor, target: Tensor, { reduction = 'mean' }: { reduction?: Reduction } = {}): Tensor {
  return input.graph.apply(POINTWISE_LOSS, [input, target], { kind: 'l1', reduction: checkReduction('l1Loss', reduction), posWeight: 1 })[0]!;
}
