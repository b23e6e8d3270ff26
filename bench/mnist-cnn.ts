/**
 * Trains the CNN of the design notes on the MNIST digits that ship with the project and reports
 * held-out accuracy after every epoch:
 *
 *   conv 3×3 16 → ReLU → max-pool 2 → conv 3×3 32 → ReLU → max-pool 2 → fc 128 → ReLU →
 *   Dropout(0.3) → fc 10; Adam 1e-3, batch 128, cross-entropy.
 *
 * `node scripts/run-ts.mjs bench/mnist-cnn.ts [--epochs=10] [--backend=webgpu|cpu] [--batch-norm]`
 * (WebGPU is Dawn: on a machine without a GPU, SwiftShader).
 */
import { readFileSync } from 'node:fs';
import { createDevice } from '../src/device.js';
import { parseMnist } from '../src/data/mnist.js';
import * as nn from '../src/nn/index.js';
import * as optim from '../src/optim/index.js';
import { Trainer } from '../src/train/trainer.js';
import { loadWebgpu } from './node-webgpu.js';

const args = new Map<string, string | undefined>(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k!, v]; }));
const epochs = Number(args.get('epochs') ?? 10);
const backend = args.get('backend') ?? 'webgpu';
const batchNorm = args.has('batch-norm');

const { train, test } = parseMnist(new Uint8Array(readFileSync('demo/dist/mnist.bin')));
const image = { inputShape: [1, 28, 28] as const };
nn.manualSeed(0);
const model = new nn.Sequential(
  new nn.Conv2d(1, 16, 3, { padding: 1 }),
  ...(batchNorm ? [new nn.BatchNorm2d(16)] : []),
  new nn.ReLU(),
  new nn.MaxPool2d(2),
  new nn.Conv2d(16, 32, 3, { padding: 1 }),
  ...(batchNorm ? [new nn.BatchNorm2d(32)] : []),
  new nn.ReLU(),
  new nn.MaxPool2d(2),
  new nn.Flatten(),
  new nn.Linear(32 * 7 * 7, 128),
  new nn.ReLU(),
  new nn.Dropout(0.3),
  new nn.Linear(128, 10),
);
async function openDevice() {
  if (backend === 'cpu') return createDevice({ backend: 'cpu' });
  const webgpu = await loadWebgpu();
  Object.assign(globalThis, webgpu.globals);
  return createDevice({ backend: 'webgpu', gpu: webgpu.create([]) as GPU });
}
const device = await openDevice();
console.log(`MNIST CNN${batchNorm ? ' + BatchNorm2d' : ''} on ${device.backend.description}: ${train.n} training digits, ${test.n} held out, ${epochs} epochs`);
const trainer = new Trainer(device, model, {
  loss: new nn.CrossEntropyLoss(),
  optimizer: new optim.Adam(model.parameters(), { lr: 1e-3 }),
  inputShape: image.inputShape,
  seed: 1,
});
const start = performance.now();
let best = 0;
await trainer.fit({ ...train, ...image }, {
  epochs,
  batchSize: 128,
  validation: { ...test, ...image },
  onEpoch: (e) => {
    best = Math.max(best, e.validation!.accuracy);
    console.log(
      `epoch ${e.epoch + 1}: train loss ${e.loss.toFixed(4)}, held-out loss ${e.validation!.loss.toFixed(4)}, ` +
        `accuracy ${(100 * e.validation!.accuracy).toFixed(2)}% (${e.seconds.toFixed(1)} s)`,
    );
  },
});
const final = await trainer.evaluate({ ...test, ...image });
console.log(`held-out accuracy after ${epochs} epochs: ${(100 * final.accuracy).toFixed(2)}% (best epoch ${(100 * best).toFixed(2)}%), ${((performance.now() - start) / 1000).toFixed(0)} s`);
await trainer.dispose();
device.dispose();
