import { mseLaunch, softmaxXentLaunch } from '../../kernels/loss.js';
import { ONE, type OpDef } from '../op.js';
import { shapeString, type Tensor } from '../tensor.js';

/**
 * Fused softmax + cross-entropy with class-index targets (torch.nn.CrossEntropyLoss, mean).
 * Outputs: loss [1], d loss / d logits [batch, classes], correct [batch] (argmax == target).
 * The gradient comes out of the forward dispatch, so backward adds no work.
 */
export const SOFTMAX_CROSS_ENTROPY: OpDef<Record<string, never>> = {
  name: 'softmax_cross_entropy',
  infer([logits, targets], _attrs, label) {
    if (logits!.shape.length !== 2) {
      throw new Error(`${label}: CrossEntropyLoss expects logits [batch, classes], got ${shapeString(logits!.shape)}`);
    }
    if (targets!.dtype !== 'i32' || targets!.shape.length !== 1 || targets!.shape[0] !== logits!.shape[0]) {
      throw new Error(`${label}: CrossEntropyLoss expects int32 class indices [${logits!.shape[0]}], got ${targets!.dtype} ${shapeString(targets!.shape)}`);
    }
    return [
      { shape: [1], dtype: 'f32' },
      { shape: logits!.shape, dtype: 'f32' },
      { shape: [logits!.shape[0]!], dtype: 'f32' },
    ];
  },
  backward(_g, node, [gradOut], wants) {
    if (!gradOut || !wants[0]) return [null, null];
    if (gradOut !== ONE) throw new Error(`${node.label}: the loss must be the root of the gradient`);
    return [node.outputs[1]!, null];
  },
  lower(node, io) {
    const [logits, targets] = node.inputs as [Tensor, Tensor];
    const [loss, dlogits, correct] = node.outputs as [Tensor, Tensor, Tensor];
    return [
      softmaxXentLaunch(
        { logits: io.view(logits), labels: io.view(targets), loss: io.view(loss), dlogits: io.view(dlogits), correct: io.view(correct) },
        logits.shape[0]!,
        logits.shape[1]!,
        node.label,
      ),
    ];
  },
};

/** Mean squared error (torch.nn.MSELoss, mean). Outputs: loss [1], d loss / d pred. */
export const MSE: OpDef<Record<string, never>> = {
  name: 'mse',
  infer([pred, target], _attrs, label) {
    if (pred!.shape.join() !== target!.shape.join() || target!.dtype !== 'f32') {
      throw new Error(`${label}: MSELoss needs float targets shaped like the output ${shapeString(pred!.shape)}, got ${target!.dtype} ${shapeString(target!.shape)}`);
    }
    return [
      { shape: [1], dtype: 'f32' },
      { shape: pred!.shape, dtype: 'f32' },
    ];
  },
  backward(_g, node, [gradOut], wants) {
    if (!gradOut || !wants[0]) return [null, null];
    if (gradOut !== ONE) throw new Error(`${node.label}: the loss must be the root of the gradient`);
    return [node.outputs[1]!, null];
  },
  lower(node, io) {
    const [pred, target] = node.inputs as [Tensor, Tensor];
    const [loss, dpred] = node.outputs as [Tensor, Tensor];
    return [mseLaunch({ pred: io.view(pred), targets: io.view(target), loss: io.view(loss), dpred: io.view(dpred) }, pred.numel, node.label)];
  },
};
