/**
 * Case 1: one train step (forward, backward, update) of an MLP 784-256-256-10 at batch 128 with
 * softmax cross-entropy, in Descent (Trainer on WebGPU) and in TensorFlow.js (same weights, same
 * batches, `optimizer.minimize` over `tf.fused.matMul` layers, the form tf.layers' Dense uses).
 * Both sides upload each step's batch from host arrays, as a training loop does.
 */
import type { Device } from '../src/device.js';
import * as nn from '../src/nn/index.js';
import * as optim from '../src/optim/index.js';
import { Trainer } from '../src/train/trainer.js';
import { type GpuCounter, type GpuCounts, perStep } from './counting-gpu.js';
import { tf } from './tfjs-setup.js';
import type { Prepared, Timing, WindowPlan } from './timing.js';

export type OptimizerKind = 'sgd' | 'adam';

export const BATCH = 128;
const LAYERS = [784, 256, 256, 10] as const;
const SGD_LR = 0.05;
const ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
/** Distinct batches cycled through, so no side can cache an input. */
const BATCHES = 4;

export interface MlpData {
  readonly x: Float32Array[];
  readonly y: Int32Array[];
  /** `y` one-hot, the target form tf.losses.softmaxCrossEntropy takes. */
  readonly yOneHot: Float32Array[];
}

export interface StepBench {
  readonly timing: Timing;
  /** Per step over the timed windows; absent for backends without a GPU device. */
  readonly counts?: GpuCounts;
  /** The loss of the very first step (same weights and batch on every side). */
  readonly firstLoss: number;
}

/** mulberry32: a tiny seeded generator, so every run trains on the same numbers. */
function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export function mlpData(seed = 7): MlpData {
  const rand = generator(seed);
  const classes = LAYERS[LAYERS.length - 1];
  const data: MlpData = { x: [], y: [], yOneHot: [] };
  for (let b = 0; b < BATCHES; b++) {
    data.x.push(Float32Array.from({ length: BATCH * LAYERS[0] }, rand));
    const y = Int32Array.from({ length: BATCH }, () => Math.floor(rand() * classes));
    const oneHot = new Float32Array(BATCH * classes);
    y.forEach((c, i) => (oneHot[i * classes + c] = 1));
    data.y.push(y);
    data.yOneHot.push(oneHot);
  }
  return data;
}

export function mlpModel(seed = 1): nn.Sequential {
  nn.manualSeed(seed);
  return new nn.Sequential(
    new nn.Linear(LAYERS[0], LAYERS[1]),
    new nn.ReLU(),
    new nn.Linear(LAYERS[1], LAYERS[2]),
    new nn.ReLU(),
    new nn.Linear(LAYERS[2], LAYERS[3]),
  );
}

/** Descent: `trainer.step` N times, then the last loss and an idle queue. */
export function descentStep(device: Device, counter: GpuCounter, kind: OptimizerKind, data: MlpData, plan: WindowPlan): Prepared<StepBench> {
  const model = mlpModel();
  const optimizer =
    kind === 'sgd'
      ? new optim.SGD(model.parameters(), { lr: SGD_LR })
      : new optim.Adam(model.parameters(), { lr: ADAM.lr, betas: [ADAM.beta1, ADAM.beta2], eps: ADAM.eps });
  const trainer = new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer, inputShape: [LAYERS[0]] });
  const losses: number[] = [];
  let last: Promise<number> = Promise.resolve(NaN);
  let before = counter.snapshot();
  return {
    side: {
      label: `Descent ${kind} step`,
      plan,
      enqueue(i) {
        last = trainer.step(data.x[i % BATCHES]!, data.y[i % BATCHES]!).loss;
      },
      async settle() {
        losses.push(await last);
        await trainer.idle();
      },
      onTimed: () => (before = counter.snapshot()),
    },
    async finish(timing) {
      const counts = perStep(counter.since(before), timing.iterations);
      await trainer.dispose();
      return { timing, counts, firstLoss: losses[0]! };
    },
  };
}

/** torch's Linear weight [out, in] as tfjs's kernel [in, out]. */
function transposed(w: Float32Array, out: number, inp: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = w[o * inp + i]!;
  return t;
}

/**
 * TF.js on whichever backend is active: `optimizer.minimize` N times, then the last loss read
 * back (which submits tfjs-webgpu's queue). `counter` counts its GPU work, if any.
 */
export async function tfjsStep(kind: OptimizerKind, data: MlpData, plan: WindowPlan, counter?: GpuCounter): Promise<Prepared<StepBench>> {
  const backend = tf.getBackend();
  const state = await mlpModel().stateDict();
  const weights: tf.Variable[] = [];
  const biases: tf.Variable[] = [];
  for (let l = 0; l < 3; l++) {
    const inp = LAYERS[l]!;
    const out = LAYERS[l + 1]!;
    // Descent's Sequential names the three Linear layers 0, 2 and 4.
    weights.push(tf.variable(tf.tensor2d(transposed(state[`${2 * l}.weight`]!, out, inp), [inp, out])));
    biases.push(tf.variable(tf.tensor1d(state[`${2 * l}.bias`]!)));
  }
  const optimizer = kind === 'sgd' ? tf.train.sgd(SGD_LR) : tf.train.adam(ADAM.lr, ADAM.beta1, ADAM.beta2, ADAM.eps);
  const classes = LAYERS[3];
  const losses: number[] = [];
  let last: tf.Scalar | null = null;
  let before = counter?.snapshot();
  const loss = (x: tf.Tensor2D, y: tf.Tensor2D) => () => {
    let h: tf.Tensor = x;
    for (let l = 0; l < 3; l++) {
      h = tf.fused.matMul({ a: h as tf.Tensor2D, b: weights[l] as tf.Tensor2D, bias: biases[l], activation: l < 2 ? 'relu' : 'linear' });
    }
    return tf.losses.softmaxCrossEntropy(y, h) as tf.Scalar;
  };
  return {
    side: {
      label: `TF.js ${backend} ${kind} step`,
      plan,
      enqueue(i) {
        if (tf.getBackend() !== backend) throw new Error(`the active tfjs backend is ${tf.getBackend()}, not ${backend}`);
        const x = tf.tensor2d(data.x[i % BATCHES]!, [BATCH, LAYERS[0]]);
        const y = tf.tensor2d(data.yOneHot[i % BATCHES]!, [BATCH, classes]);
        const cost = optimizer.minimize(loss(x, y), true);
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
      last?.dispose();
      optimizer.dispose();
      for (const v of [...weights, ...biases]) v.dispose();
      return { timing, counts, firstLoss: losses[0]! };
    },
  };
}
