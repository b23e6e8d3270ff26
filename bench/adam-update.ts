/**
 * Case 2: an Adam update of a 1M-parameter model (one Linear(1000, 1000): 1,001,000 values)
 * alone, gradients filled once. Descent runs only the optimizer's planned launches (`planUpdate`
 * over flat parameter and gradient buffers, as the Trainer appends them to a step); TF.js runs
 * `tf.train.adam().applyGradients` on the same number of parameters.
 */
import type { Backend } from '../src/backend/backend.js';
import * as nn from '../src/nn/index.js';
import * as optim from '../src/optim/index.js';
import { type GpuCounter, type GpuCounts, perStep } from './counting-gpu.js';
import { tf, type TfBackendName, useTfBackend } from './tfjs-setup.js';
import type { Prepared, Timing, WindowPlan } from './timing.js';

export const FEATURES = 1000;
export const PARAMETERS = FEATURES * FEATURES + FEATURES;
const ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export interface UpdateBench {
  readonly timing: Timing;
  /** Per update; absent off WebGPU. */
  readonly counts?: GpuCounts;
}

function filled(length: number, phase: number): Float32Array {
  const a = new Float32Array(length);
  for (let i = 0; i < length; i++) a[i] = Math.sin(i * 0.37 + phase) * 0.01;
  return a;
}

export function descentAdamUpdate(backend: Backend, counter: GpuCounter | undefined, plan: WindowPlan, label = 'Descent Adam update'): Prepared<UpdateBench> {
  nn.manualSeed(3);
  const model = new nn.Linear(FEATURES, FEATURES);
  const optimizer = new optim.Adam(model.parameters(), { lr: ADAM.lr, betas: [ADAM.beta1, ADAM.beta2], eps: ADAM.eps });
  const packed = optim.packParameters(optimizer);
  const params = backend.createBuffer(packed.length * 4, 'bench/adam/params');
  const grads = backend.createBuffer(packed.length * 4, 'bench/adam/grads');
  backend.write(params, filled(packed.length, 0));
  backend.write(grads, filled(packed.length, 1));
  const update = optim.planUpdate(backend, optimizer, { params, grads, groups: packed.groups });
  const program = backend.compile(update.launches, 'bench/adam');
  let before = counter?.snapshot();
  return {
    side: {
      label,
      plan,
      enqueue() {
        update.beforeStep();
        backend.run(program);
      },
      async settle() {
        await backend.idle();
        await backend.health();
      },
      onTimed: () => (before = counter?.snapshot()),
    },
    async finish(timing) {
      const counts = counter && before ? perStep(counter.since(before), timing.iterations) : undefined;
      program.dispose();
      update.dispose();
      await optimizer.detach();
      backend.destroyBuffer(params);
      backend.destroyBuffer(grads);
      return { timing, counts };
    },
  };
}

/** `settle` waits for the backend (tfjs-webgpu's queue; nothing on the synchronous CPU backends). */
export async function tfjsAdamUpdate(backend: TfBackendName, settle: () => Promise<void>, counter: GpuCounter | undefined, plan: WindowPlan): Promise<Prepared<UpdateBench>> {
  await useTfBackend(backend);
  const weight = tf.variable(tf.tensor2d(filled(FEATURES * FEATURES, 0), [FEATURES, FEATURES]), true, `bench/adam/${backend}/weight`);
  const bias = tf.variable(tf.tensor1d(filled(FEATURES, 2)), true, `bench/adam/${backend}/bias`);
  const gradients = [
    { name: weight.name, tensor: tf.tensor2d(filled(FEATURES * FEATURES, 1), [FEATURES, FEATURES]) },
    { name: bias.name, tensor: tf.tensor1d(filled(FEATURES, 3)) },
  ];
  const optimizer = tf.train.adam(ADAM.lr, ADAM.beta1, ADAM.beta2, ADAM.eps);
  let before = counter?.snapshot();
  return {
    side: {
      label: `TF.js ${backend} Adam update`,
      plan,
      enter: () => useTfBackend(backend),
      enqueue: () => optimizer.applyGradients(gradients),
      settle,
      onTimed: () => (before = counter?.snapshot()),
    },
    async finish(timing) {
      const counts = counter && before ? perStep(counter.since(before), timing.iterations) : undefined;
      await useTfBackend(backend);
      optimizer.dispose();
      for (const t of [weight, bias, ...gradients.map((g) => g.tensor)]) t.dispose();
      return { timing, counts };
    },
  };
}
