import { ModuleBuffer } from '../graph/parameter.js';
import { binaryCrossEntropyWithLogits, checkReduction, crossEntropyAttrs, crossEntropyWithCorrect, l1Loss, type Reduction } from '../graph/ops/losses.js';
import { MSE } from '../graph/ops/loss.js';
import type { Tensor } from '../graph/tensor.js';

/** What a loss adds to the graph: the scalar loss and, when known, per-sample correctness. */
export interface LossOutputs {
  readonly loss: Tensor;
  readonly correct: Tensor | null;
}

export interface Loss {
  readonly name: string;
  /** 'class' for int32 class indices, 'value' for float targets shaped like the output. */
  readonly targets: 'class' | 'value';
  apply(output: Tensor, target: Tensor): LossOutputs;
  /** For class targets: the index that marks a sample to leave out (a valid target besides [0, C)). */
  readonly ignoreIndex?: number;
  /**
   * Constant tensors the loss reads (BCEWithLogitsLoss's per-class positive weights): whoever
   * runs the graph binds them as it binds the model's buffers.
   */
  readonly buffers?: readonly ModuleBuffer[];
  /** How the per-target losses combine: 'mean' (default) or 'sum'. */
  readonly reduction?: Reduction;
}

export interface CrossEntropyLossOptions {
  /** ε in [0, 1] (torch's label_smoothing): the target puts 1 − ε on the class and ε / C on every class. Default 0. */
  readonly labelSmoothing?: number;
  /** Targets equal to this index add no loss and leave the mean's denominator (torch's ignore_index). Default −100. */
  readonly ignoreIndex?: number;
  /** 'mean' over the samples counted (default) or 'sum'. */
  readonly reduction?: Reduction;
}

/**
 * Softmax + cross-entropy over class indices (torch.nn.CrossEntropyLoss): output [N, C] (or
 * [N, C, d1, ...]) logits, targets [N] (or [N, d1, ...]) int32. Per sample
 * (1 − ε) · −log p_t + ε · mean_c(−log p_c), averaged over the samples whose target is not
 * `ignoreIndex`; when every target is ignored the mean is NaN, as in torch. `correct` is 1 where
 * the first argmax equals the target, 0 elsewhere and on ignored samples.
 */
export class CrossEntropyLoss implements Loss {
  readonly name = 'CrossEntropyLoss';
  readonly targets = 'class';
  readonly labelSmoothing: number;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;

  constructor(options: CrossEntropyLossOptions = {}) {
    ({ labelSmoothing: this.labelSmoothing, ignoreIndex: this.ignoreIndex, reduction: this.reduction } = crossEntropyAttrs(this.name, options));
  }

  apply(output: Tensor, target: Tensor): LossOutputs {
    const { labelSmoothing, ignoreIndex, reduction } = this;
    return crossEntropyWithCorrect(output, target, { labelSmoothing, ignoreIndex, reduction }, this.name);
  }
}

/** Mean squared error (torch.nn.MSELoss). */
export class MSELoss implements Loss {
  readonly name = 'MSELoss';
  readonly targets = 'value';
  apply(output: Tensor, target: Tensor): LossOutputs {
    const [loss] = output.graph.apply(MSE, [output, target], {}, this.name);
    return { loss: loss!, correct: null };
  }
}

export interface BCEWithLogitsLossOptions {
  /**
   * Weight of the positive term (torch's pos_weight): a number, or one value per class (the
   * output's last dimension). Values above 1 favour recall. Default 1.
   */
  readonly posWeight?: number | readonly number[] | Float32Array;
  readonly reduction?: Reduction;
}

/**
 * Sigmoid + binary cross-entropy on logits (torch.nn.BCEWithLogitsLoss): targets are floats in
 * [0, 1] shaped like the output. Per element (1 − y) x + (1 + (w − 1) y) · log(1 + e^−x), computed
 * without overflow for logits of any size.
 */
export class BCEWithLogitsLoss implements Loss {
  readonly name = 'BCEWithLogitsLoss';
  readonly targets = 'value';
  readonly reduction: Reduction;
  /** The scalar positive weight, or null when `buffers` holds one per class. */
  readonly posWeight: number | null;
  readonly buffers: readonly ModuleBuffer[];

  constructor({ posWeight = 1, reduction = 'mean' }: BCEWithLogitsLossOptions = {}) {
    this.reduction = checkReduction(this.name, reduction);
    if (typeof posWeight === 'number') {
      if (!Number.isFinite(posWeight)) throw new Error(`${this.name}: posWeight must be a finite number or an array of them, got ${posWeight}`);
      this.posWeight = posWeight;
      this.buffers = [];
      return;
    }
    const values = Float32Array.from(posWeight);
    if (values.length === 0 || !values.every(Number.isFinite)) {
      throw new Error(`${this.name}: posWeight must hold one finite number per class, got [${Array.from(posWeight).join(', ')}]`);
    }
    this.posWeight = null;
    this.buffers = [new ModuleBuffer(values, [values.length], 'pos_weight')];
  }

  apply(output: Tensor, target: Tensor): LossOutputs {
    const g = output.graph;
    const posWeight = this.posWeight ?? g.buffer(this.buffers[0]!);
    const loss = g.scope(this.name, () => binaryCrossEntropyWithLogits(output, target, { posWeight, reduction: this.reduction }));
    return { loss, correct: null };
  }
}

/** Mean absolute error (torch.nn.L1Loss); its gradient is sign(x − y) / n, 0 where x = y. */
export class L1Loss implements Loss {
  readonly name = 'L1Loss';
  readonly targets = 'value';
  readonly reduction: Reduction;

  constructor({ reduction = 'mean' }: { reduction?: Reduction } = {}) {
    this.reduction = checkReduction(this.name, reduction);
  }

  apply(output: Tensor, target: Tensor): LossOutputs {
    const loss = output.graph.scope(this.name, () => l1Loss(output, target, { reduction: this.reduction }));
    return { loss, correct: null };
  }
}
