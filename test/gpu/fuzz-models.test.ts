/**
 * Fuzzing the compiler and the kernels with fast-check: random small architectures built from the
 * public layers (Conv2d, pools, BatchNorm, LayerNorm, Dropout, activations, Residual, Flatten,
 * Linear) and a module of tensor ops, on random inputs. One training step through the Trainer on
 * each backend (same seed, so the same dropout masks): the loss, every parameter's gradient, the
 * parameters and buffers after the update, and the eval-mode output agree between WebGPU and the
 * CPU twins.
 *
 * The runs are seeded (FUZZ_SEED overrides the seed); a failure prints the seed, the path that
 * replays the shrunk case, and the architecture.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { Device } from '../../src/device.js';
import type { Tensor } from '../../src/graph/tensor.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, gpuBackend, randomArray } from '../harness.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20251201);
const RUNS = 16;
let ran = 0;
afterAll(() => {
  console.log(`fuzz-models (seed ${SEED}): ${ran} architectures compared`);
});

const ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'gelu', 'silu', 'leakyRelu', 'softplus'] as const;
type Activation = (typeof ACTIVATIONS)[number];

function activation(name: Activation): nn.Module {
  switch (name) {
    case 'relu': return new nn.ReLU();
    case 'tanh': return new nn.Tanh();
    case 'sigmoid': return new nn.Sigmoid();
    case 'gelu': return new nn.GELU();
    case 'silu': return new nn.SiLU();
    case 'leakyRelu': return new nn.LeakyReLU(0.1);
    case 'softplus': return new nn.Softplus();
  }
}

/** Tensor ops on [batch, features] that keep the shape, through the Tensor methods. */
const OPS: readonly ((x: Tensor) => Tensor)[] = [
  (x) => x.mul(x.sigmoid()).add(x),
  (x) => x.sub(x.mean(-1, true)).div(x.var(-1, { unbiased: false, keepdim: true }).add(1e-2).sqrt()),
  (x) => x.softmax(-1).mul(x).sub(x.mul(0.5)),
  (x) => x.tanh().matmul(x.t()).matmul(x).mul(0.1),
  (x) => x.abs().add(1).log().sub(x.clamp(-0.5, 0.5)),
  (x) => x.max(-1, true).add(x.min(-1, true)).add(x.pow(2).mul(0.3)),
];

class TensorOps extends nn.Module {
  constructor(readonly variant: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.graph.scope(`TensorOps(${this.variant})`, () => OPS[this.variant]!(x));
  }
}

type ImageLayer =
  | { kind: 'conv'; out: number; k: number; stride: number; padding: number }
  | { kind: 'maxpool' | 'avgpool' | 'batchnorm2d' }
  | { kind: 'act'; act: Activation }
  | { kind: 'dropout'; p: number };
type VectorLayer =
  | { kind: 'linear'; out: number }
  | { kind: 'layernorm' | 'batchnorm1d' }
  | { kind: 'act'; act: Activation }
  | { kind: 'dropout'; p: number }
  | { kind: 'residual'; act: Activation }
  | { kind: 'ops'; variant: number };

interface Architecture {
  batch: number;
  input: { features: number } | { image: [number, number, number] };
  image: ImageLayer[];
  vector: VectorLayer[];
  outputs: number;
  loss: 'mse' | 'ce';
  seed: number;
}

const act = fc.constantFrom(...ACTIVATIONS);
const imageLayer: fc.Arbitrary<ImageLayer> = fc.oneof(
  fc.record({ kind: fc.constant('conv' as const), out: fc.integer({ min: 1, max: 4 }), k: fc.integer({ min: 1, max: 3 }), stride: fc.integer({ min: 1, max: 2 }), padding: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constantFrom('maxpool' as const, 'avgpool' as const, 'batchnorm2d' as const) }),
  fc.record({ kind: fc.constant('act' as const), act }),
  fc.record({ kind: fc.constant('dropout' as const), p: fc.constantFrom(0.2, 0.5) }),
);
const vectorLayer: fc.Arbitrary<VectorLayer> = fc.oneof(
  fc.record({ kind: fc.constant('linear' as const), out: fc.integer({ min: 1, max: 9 }) }),
  fc.record({ kind: fc.constantFrom('layernorm' as const, 'batchnorm1d' as const) }),
  fc.record({ kind: fc.constant('act' as const), act }),
  fc.record({ kind: fc.constant('dropout' as const), p: fc.constantFrom(0.2, 0.5) }),
  fc.record({ kind: fc.constant('residual' as const), act }),
  fc.record({ kind: fc.constant('ops' as const), variant: fc.integer({ min: 0, max: OPS.length - 1 }) }),
);
const architecture: fc.Arbitrary<Architecture> = fc.record({
  // At least 2 samples: BatchNorm's batch statistics need them.
  batch: fc.integer({ min: 2, max: 5 }),
  input: fc.oneof(
    fc.record({ features: fc.integer({ min: 1, max: 9 }) }),
    fc.record({ image: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 3, max: 7 }), fc.integer({ min: 3, max: 7 })) }),
  ),
  image: fc.array(imageLayer, { maxLength: 4 }),
  vector: fc.array(vectorLayer, { maxLength: 5 }),
  outputs: fc.integer({ min: 1, max: 5 }),
  loss: fc.constantFrom('mse' as const, 'ce' as const),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

/** The model an architecture describes, skipping image layers that do not fit the current size. */
function build(a: Architecture): { model: nn.Module; inputShape: number[] } {
  nn.manualSeed(a.seed);
  const layers: nn.Module[] = [];
  let features: number;
  let inputShape: number[];
  if ('features' in a.input) {
    features = a.input.features;
    inputShape = [features];
  } else {
    let [c, h, w] = a.input.image;
    inputShape = [c, h, w];
    for (const l of a.image) {
      if (l.kind === 'conv') {
        const oh = Math.floor((h + 2 * l.padding - l.k) / l.stride) + 1;
        const ow = Math.floor((w + 2 * l.padding - l.k) / l.stride) + 1;
        if (oh < 1 || ow < 1) continue;
        layers.push(new nn.Conv2d(c, l.out, l.k, { stride: l.stride, padding: l.padding }));
        [c, h, w] = [l.out, oh, ow];
      } else if (l.kind === 'maxpool' || l.kind === 'avgpool') {
        if (h < 2 || w < 2) continue;
        layers.push(l.kind === 'maxpool' ? new nn.MaxPool2d(2) : new nn.AvgPool2d(2));
        [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
      } else if (l.kind === 'batchnorm2d') {
        layers.push(new nn.BatchNorm2d(c));
      } else if (l.kind === 'act') {
        layers.push(activation(l.act));
      } else if (l.kind === 'dropout') {
        layers.push(new nn.Dropout(l.p));
      }
    }
    layers.push(new nn.Flatten());
    features = c * h * w;
  }
  for (const l of a.vector) {
    if (l.kind === 'linear') {
      layers.push(new nn.Linear(features, l.out));
      features = l.out;
    } else if (l.kind === 'layernorm') {
      layers.push(new nn.LayerNorm(features));
    } else if (l.kind === 'batchnorm1d') {
      layers.push(new nn.BatchNorm1d(features));
    } else if (l.kind === 'act') {
      layers.push(activation(l.act));
    } else if (l.kind === 'dropout') {
      layers.push(new nn.Dropout(l.p));
    } else if (l.kind === 'residual') {
      layers.push(new nn.Residual(new nn.Sequential(new nn.Linear(features, features), activation(l.act))));
    } else if (l.kind === 'ops') {
      layers.push(new TensorOps(l.variant));
    }
  }
  layers.push(new nn.Linear(features, a.outputs));
  return { model: new nn.Sequential(...layers), inputShape };
}

function device(backend: Backend): Device {
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

/** One SGD step of the architecture on a backend: loss, gradients, state after the update, eval output. */
async function oneStep(backend: Backend, a: Architecture, x: Float32Array, y: Float32Array | Int32Array) {
  const { model, inputShape } = build(a);
  const trainer = new Trainer(device(backend), model, {
    loss: a.loss === 'ce' ? new nn.CrossEntropyLoss() : new nn.MSELoss(),
    optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }),
    inputShape,
    seed: a.seed,
  });
  try {
    const loss = await trainer.step(x, y).loss;
    const grads = await trainer.gradients();
    const state = await model.stateDict();
    const output = await trainer.predict(x);
    return { loss, grads, state, output, where: `${model.describe()} on input [${a.batch}, ${inputShape.join(', ')}]` };
  } finally {
    await trainer.dispose();
  }
}

describe('random architectures: WebGPU forward and backward equal the CPU twins', () => {
  it(`${RUNS} seeded architectures (seed ${SEED})`, async () => {
    const gpu = await gpuBackend();
    const property = fc.asyncProperty(architecture, async (a) => {
      const { inputShape } = build(a);
      const x = randomArray(a.batch * inputShape.reduce((p, q) => p * q, 1), -1, 1, a.seed);
      const y = a.loss === 'ce'
        ? Int32Array.from({ length: a.batch }, (_, i) => (a.seed + 7 * i) % a.outputs)
        : randomArray(a.batch * a.outputs, -1, 1, a.seed + 1);
      const onGpu = await oneStep(gpu, a, x, y);
      const onCpu = await oneStep(cpuBackend(), a, x, y);
      const { where } = onCpu;
      expect(Number.isFinite(onCpu.loss), `${where}: finite loss`).toBe(true);
      // Normalisations divide by a batch or row deviation that may be small: looser bounds.
      expectAllClose([onGpu.loss], [onCpu.loss], { rtol: 1e-3, atol: 1e-4, label: `${where}: loss` });
      for (const name of Object.keys(onCpu.grads)) {
        expectAllClose(onGpu.grads[name]!, onCpu.grads[name]!, { rtol: 2e-3, atol: 2e-4, label: `${where}: gradient of ${name}` });
      }
      for (const name of Object.keys(onCpu.state)) {
        expectAllClose(onGpu.state[name]!, onCpu.state[name]!, { rtol: 2e-3, atol: 2e-4, label: `${where}: ${name} after the step` });
      }
      expectAllClose(onGpu.output, onCpu.output, { rtol: 2e-3, atol: 2e-4, label: `${where}: eval output` });
      ran++;
    });
    await fc.assert(property, { seed: SEED, numRuns: RUNS, timeout: 60_000 });
  }, 300_000);
});
