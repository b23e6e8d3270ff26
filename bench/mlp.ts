/**
 * Case 1: one train step (forward, backward, update) of an MLP 784-256-256-10 with softmax
 * cross-entropy, in Descent (Trainer on WebGPU or on the CPU) and in TensorFlow.js (same weights,
 * same batches, `optimizer.minimize` over `tf.fused.matMul` layers, the form tf.layers' Dense
 * uses, on whichever tfjs backend the side names). Both sides upload each step's batch from host
 * arrays, as a training loop does. Three variants: SGD, Adam, and Adam with Dropout(0.2) after
 * each hidden ReLU and the gradients clipped to a global norm of 1 (torch's clip_grad_norm_).
 */
import type { Device } from '../src/device.js';
import * as nn from '../src/nn/index.js';
import * as optim from '../src/optim/index.js';
import { Trainer } from '../src/train/trainer.js';
import { type GpuCounter, type GpuCounts, perStep } from './counting-gpu.js';
import { tf, type TfBackendName, useTfBackend } from './tfjs-setup.js';
import type { Prepared, Timing, WindowPlan } from './timing.js';

export type OptimizerKind = 'sgd' | 'adam' | 'adam-dropout-clip';

export const BATCH = 128;
export const LAYERS = [784, 256, 256, 10] as const;
const SGD_LR = 0.05;
const ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const DROPOUT = 0.2;
const CLIP_NORM = 1;
/** Distinct batches cycled through, so no side can cache an input. */
const BATCHES = 4;

export interface MlpData {
  readonly batch: number;
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
export function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export function mlpData(seed = 7, batch = BATCH): MlpData {
  const rand = generator(seed);
  const classes = LAYERS[LAYERS.length - 1];
  const data: MlpData = { batch, x: [], y: [], yOneHot: [] };
  for (let b = 0; b < BATCHES; b++) {
    data.x.push(Float32Array.from({ length: batch * LAYERS[0] }, rand));
    const y = Int32Array.from({ length: batch }, () => Math.floor(rand() * classes));
    const oneHot = new Float32Array(batch * classes);
    y.forEach((c, i) => (oneHot[i * classes + c] = 1));
    data.y.push(y);
    data.yOneHot.push(oneHot);
  }
  return data;
}

/** The MLP; with `dropout`, a Dropout after each hidden ReLU (the same weights either way). */
export function mlpModel(seed = 1, dropout = 0): nn.Sequential {
  nn.manualSeed(seed);
  const hidden = (inp: number, out: number) => [new nn.Linear(inp, out), new nn.ReLU(), ...(dropout > 0 ? [new nn.Dropout(dropout)] : [])];
  return new nn.Sequential(...hidden(LAYERS[0], LAYERS[1]), ...hidden(LAYERS[1], LAYERS[2]), new nn.Linear(LAYERS[2], LAYERS[3]));
}

/** The Linear layers' weights and biases in order, whatever indices the Sequential gave them. */
async function linearState(model: nn.Sequential): Promise<{ weight: Float32Array; bias: Float32Array }[]> {
  const state = await model.stateDict();
  const indices = Object.keys(state)
    .filter((k) => k.endsWith('.weight'))
    .map((k) => Number(k.split('.')[0]))
    .sort((a, b) => a - b);
  return indices.map((i) => ({ weight: state[`${i}.weight`]!, bias: state[`${i}.bias`]! }));
}

export const KIND_TITLE: Record<OptimizerKind, string> = {
  sgd: 'SGD (lr 0.05)',
  adam: 'Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8)',
  'adam-dropout-clip': `Adam + Dropout(${DROPOUT}) after each hidden ReLU + clipGradNorm(${CLIP_NORM})`,
};

/** Descent: `trainer.step` N times, then the last loss and an idle queue. `counter`: its GPU calls, if on WebGPU. */
export function descentStep(device: Device, counter: GpuCounter | undefined, kind: OptimizerKind, data: MlpData, plan: WindowPlan, label = `Descent ${kind} step`): Prepared<StepBench> {
  const model = mlpModel(1, kind === 'adam-dropout-clip' ? DROPOUT : 0);
  const optimizer =
    kind === 'sgd'
      ? new optim.SGD(model.parameters(), { lr: SGD_LR })
      : new optim.Adam(model.parameters(), { lr: ADAM.lr, betas: [ADAM.beta1, ADAM.beta2], eps: ADAM.eps });
  const trainer = new Trainer(device, model, {
    loss: new nn.CrossEntropyLoss(),
    optimizer,
    inputShape: [LAYERS[0]],
    seed: 5,
    ...(kind === 'adam-dropout-clip' ? { clipGradNorm: CLIP_NORM } : {}),
  });
  return trainerSide(trainer, counter, plan, label, (i) => [data.x[i % BATCHES]!, data.y[i % BATCHES]!]);
}

/**
 * A timed side that enqueues `trainer.step` on `batch(i)`, settles on the last loss and an idle
 * queue, and reports the first loss and (on WebGPU, with `counter`) the GPU calls per timed step.
 */
export function trainerSide(
  trainer: Trainer,
  counter: GpuCounter | undefined,
  plan: WindowPlan,
  label: string,
  batch: (i: number) => [Float32Array | Int32Array, Int32Array | Float32Array],
): Prepared<StepBench> {
  const losses: number[] = [];
  let last: Promise<number> = Promise.resolve(NaN);
  let before = counter?.snapshot();
  return {
    side: {
      label,
      plan,
      enqueue(i) {
        last = trainer.step(...batch(i)).loss;
      },
      async settle() {
        losses.push(await last);
        await trainer.idle();
      },
      onTimed: () => (before = counter?.snapshot()),
    },
    async finish(timing) {
      const counts = counter && before ? perStep(counter.since(before), timing.iterations) : undefined;
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
 * TF.js on `backend` (made active before each window, so that sides on different tfjs backends
 * can take turns): `optimizer.minimize` N times, then the last loss read back (which submits
 * tfjs-webgpu's queue). `counter` counts its GPU work, if any. For 'adam-dropout-clip' the
 * gradients come from `tf.variableGrads`, are scaled by min(1, maxNorm / (norm + 1e-6)) as
 * torch's clip_grad_norm_ does, and are applied with `applyGradients`, all without a read-back.
 */
export async function tfjsStep(backend: TfBackendName, kind: OptimizerKind, data: MlpData, plan: WindowPlan, counter?: GpuCounter): Promise<Prepared<StepBench>> {
  await useTfBackend(backend);
  const batch = data.batch;
  const layers = await linearState(mlpModel());
  const weights: tf.Variable[] = [];
  const biases: tf.Variable[] = [];
  for (const [l, { weight, bias }] of layers.entries()) {
    const inp = LAYERS[l]!;
    const out = LAYERS[l + 1]!;
    weights.push(tf.variable(tf.tensor2d(transposed(weight, out, inp), [inp, out])));
    biases.push(tf.variable(tf.tensor1d(bias)));
  }
  const variables = [...weights, ...biases];
  const optimizer = kind === 'sgd' ? tf.train.sgd(SGD_LR) : tf.train.adam(ADAM.lr, ADAM.beta1, ADAM.beta2, ADAM.eps);
  const dropout = kind === 'adam-dropout-clip';
  const classes = LAYERS[3];
  const losses: number[] = [];
  let last: tf.Scalar | null = null;
  let before = counter?.snapshot();
  const loss = (x: tf.Tensor2D, y: tf.Tensor2D) => () => {
    let h: tf.Tensor = x;
    for (let l = 0; l < 3; l++) {
      h = tf.fused.matMul({ a: h as tf.Tensor2D, b: weights[l] as tf.Tensor2D, bias: biases[l], activation: l < 2 ? 'relu' : 'linear' });
      if (dropout && l < 2) h = tf.dropout(h, DROPOUT);
    }
    return tf.losses.softmaxCrossEntropy(y, h) as tf.Scalar;
  };
  const clippedStep = (f: () => tf.Scalar): tf.Scalar =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(f, variables);
      const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
      const scale = tf.minimum(1, tf.div(CLIP_NORM, tf.add(norm, 1e-6)));
      optimizer.applyGradients(Object.entries(grads).map(([name, g]) => ({ name, tensor: tf.mul(g, scale) })));
      return value;
    });
  return {
    side: {
      label: `TF.js ${backend} ${kind} step`,
      plan,
      enter: () => useTfBackend(backend),
      enqueue(i) {
        if (tf.getBackend() !== backend) throw new Error(`the active tfjs backend is ${tf.getBackend()}, not ${backend}`);
        const x = tf.tensor2d(data.x[i % BATCHES]!, [batch, LAYERS[0]]);
        const y = tf.tensor2d(data.yOneHot[i % BATCHES]!, [batch, classes]);
        const cost = dropout ? clippedStep(loss(x, y)) : optimizer.minimize(loss(x, y), true)!;
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
