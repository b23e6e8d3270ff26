import { MSE, SOFTMAX_CROSS_ENTROPY } from '../graph/ops/loss.js';
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
}

/** Softmax + cross-entropy over class indices, averaged over the batch (torch.nn.CrossEntropyLoss). */
export class CrossEntropyLoss implements Loss {
  readonly name = 'CrossEntropyLoss';
  readonly targets = 'class';
  apply(output: Tensor, target: Tensor): LossOutputs {
    const [loss, , correct] = output.graph.apply(SOFTMAX_CROSS_ENTROPY, [output, target], {}, this.name);
    return { loss: loss!, correct: correct! };
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
