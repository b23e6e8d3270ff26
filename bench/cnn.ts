/**
 * The CNN of the design notes (../shared/DESIGN.md), one Adam train step at batch 64:
 *
 *   Conv2d(1, 8, 3, padding 1) → ReLU → MaxPool2d(2) → Flatten → Linear(8·14·14, 10), inputs [1, 28, 28]
 *
 * Descent: the Trainer. TF.js: the same weights and batches in its channels-last layout, with
 * `optimizer.minimize` over `tf.fused.conv2d` (bias + ReLU fused) → `tf.maxPool` →
 * `tf.fused.matMul`. tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, so a conv2d
 * cannot be trained on it; there the convolution is written as `tf.conv3d` over a depth of 1
 * (whose filter gradient, Conv3DBackpropFilterV2, it has) followed by the bias add and ReLU: the
 * same arithmetic, through the only trainable convolution tfjs-wasm offers.
 */
import type { Device } from '../src/device.js';
import * as nn from '../src/nn/index.js';
import * as optim from '../src/optim/index.js';
import { Trainer } from '../src/train/trainer.js';
import { type GpuCounter, perStep } from './counting-gpu.js';
import { generator, type StepBench, trainerSide } from './mlp.js';
import { tf, type TfBackendName, useTfBackend } from './tfjs-setup.js';
import type { Prepared, WindowPlan } from './timing.js';

export const CNN_BATCH = 64;
const CHANNELS = 8;
const SIDE = 28;
const POOLED = SIDE / 2;
const CLASSES = 10;
const FEATURES = CHANNELS * POOLED * POOLED;
const ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const BATCHES = 4;

export const CNN_TITLE = `Conv2d(1, ${CHANNELS}, 3, padding 1) → ReLU → MaxPool2d(2) → Flatten → Linear(${FEATURES}, ${CLASSES}), input [1, ${SIDE}, ${SIDE}], Adam`;

export interface CnnData {
  readonly x: Float32Array[];
  readonly y: Int32Array[];
  readonly yOneHot: Float32Array[];
}

export function cnnData(seed = 11): CnnData {
  const rand = generator(seed);
  const data: CnnData = { x: [], y: [], yOneHot: [] };
  for (let b = 0; b < BATCHES; b++) {
    data.x.push(Float32Array.from({ length: CNN_BATCH * SIDE * SIDE }, rand));
    const y = Int32Array.from({ length: CNN_BATCH }, () => Math.floor(rand() * CLASSES));
    const oneHot = new Float32Array(CNN_BATCH * CLASSES);
    y.forEach((c, i) => (oneHot[i * CLASSES + c] = 1));
    data.y.push(y);
    data.yOneHot.push(oneHot);
  }
  return data;
}

export function cnnModel(seed = 2): nn.Sequential {
  nn.manualSeed(seed);
  return new nn.Sequential(
    new nn.Conv2d(1, CHANNELS, 3, { stride: 1, padding: 1 }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(FEATURES, CLASSES),
  );
}

export function descentCnnStep(device: Device, counter: GpuCounter | undefined, plan: WindowPlan, label: string): Prepared<StepBench> {
  const model = cnnModel();
  const optimizer = new optim.Adam(model.parameters(), { lr: ADAM.lr, betas: [ADAM.beta1, ADAM.beta2], eps: ADAM.eps });
  const trainer = new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer, inputShape: [1, SIDE, SIDE] });
  const data = cnnData();
  return trainerSide(trainer, counter, plan, label, (i) => [data.x[i % BATCHES]!, data.y[i % BATCHES]!]);
}

/** torch's conv weight [out, in=1, kh, kw] as tfjs's filter [kh, kw, in=1, out]. */
function filterOf(w: Float32Array): Float32Array {
  const f = new Float32Array(w.length);
  for (let o = 0; o < CHANNELS; o++) for (let k = 0; k < 9; k++) f[k * CHANNELS + o] = w[o * 9 + k]!;
  return f;
}

/**
 * The Linear weight [10, c·196 + h·14 + w] (Descent flattens channels-first) as tfjs's kernel
 * [(h·14 + w)·8 + c, 10] (tfjs flattens channels-last), so both compute the same logits.
 */
function kernelOf(w: Float32Array): Float32Array {
  const k = new Float32Array(w.length);
  for (let o = 0; o < CLASSES; o++) {
    for (let c = 0; c < CHANNELS; c++) {
      for (let p = 0; p < POOLED * POOLED; p++) k[(p * CHANNELS + c) * CLASSES + o] = w[o * FEATURES + c * POOLED * POOLED + p]!;
    }
  }
  return k;
}

export async function tfjsCnnStep(backend: TfBackendName, plan: WindowPlan, counter?: GpuCounter): Promise<Prepared<StepBench>> {
  await useTfBackend(backend);
  const state = await cnnModel().stateDict();
  const conv3d = backend === 'wasm';
  const filterData = filterOf(state['0.weight']!);
  const filter = tf.variable(conv3d ? tf.tensor5d(filterData, [1, 3, 3, 1, CHANNELS]) : tf.tensor4d(filterData, [3, 3, 1, CHANNELS]));
  const convBias = tf.variable(tf.tensor1d(state['0.bias']!));
  const kernel = tf.variable(tf.tensor2d(kernelOf(state['4.weight']!), [FEATURES, CLASSES]));
  const bias = tf.variable(tf.tensor1d(state['4.bias']!));
  const variables = [filter, convBias, kernel, bias];
  const optimizer = tf.train.adam(ADAM.lr, ADAM.beta1, ADAM.beta2, ADAM.eps);
  const data = cnnData();
  const losses: number[] = [];
  let last: tf.Scalar | null = null;
  let before = counter?.snapshot();
  const loss = (x: tf.Tensor, y: tf.Tensor2D) => () => {
    const h = conv3d
      ? tf.relu(tf.add(tf.conv3d(x as tf.Tensor5D, filter as tf.Tensor5D, 1, 'same').reshape([CNN_BATCH, SIDE, SIDE, CHANNELS]), convBias))
      : tf.fused.conv2d({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, strides: 1, pad: 'same', bias: convBias, activation: 'relu' });
    const pooled = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid').reshape([CNN_BATCH, FEATURES]) as tf.Tensor2D;
    const logits = tf.fused.matMul({ a: pooled, b: kernel as tf.Tensor2D, bias });
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  };
  return {
    side: {
      label: `TF.js ${backend} CNN step`,
      plan,
      enter: () => useTfBackend(backend),
      enqueue(i) {
        const pixels = data.x[i % BATCHES]!;
        const x = conv3d ? tf.tensor5d(pixels, [CNN_BATCH, 1, SIDE, SIDE, 1]) : tf.tensor4d(pixels, [CNN_BATCH, SIDE, SIDE, 1]);
        const y = tf.tensor2d(data.yOneHot[i % BATCHES]!, [CNN_BATCH, CLASSES]);
        const cost = optimizer.minimize(loss(x, y), true)!;
        x.dispose();
        y.dispose();
        last?.dispose();
        last = cost;
      },
      async settle() {
        losses.push((await last!.data())[0]!);
      },
      onTimed: () => (before = counter?.snapshot()),
    },
    async finish(timing) {
      const counts = counter && before ? perStep(counter.since(before), timing.iterations) : undefined;
      await useTfBackend(backend);
      last?.dispose();
      optimizer.dispose();
      for (const v of variables) v.dispose();
      return { timing, counts, firstLoss: losses[0]! };
    },
  };
}
