/**
 * `npm run train`: trains an MLP or a CNN on the MNIST digits that ship with the project, from a
 * terminal, on WebGPU (Dawn; SwiftShader on a machine without a GPU) or on the CPU backend.
 *
 *   npm run train -- --model cnn --epochs 10
 *   npm run train -- --model mlp --epochs 15 --optimizer adam --lr 1e-3 --schedule onecycle --augment
 *
 * Shows a progress bar (steps/s, loss, ETA) in a terminal and plain lines elsewhere, and prints
 * the held-out accuracy after every epoch. `--help` lists every option.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Dataset } from '../src/data/dataset.js';
import { parseMnist } from '../src/data/mnist.js';
import { createDevice, type Device } from '../src/device.js';
import * as nn from '../src/nn/index.js';
import * as optim from '../src/optim/index.js';
import type { Scheduler } from '../src/train/trainer.js';
import { Trainer } from '../src/train/trainer.js';
import { mulberry32 } from '../src/data/random.js';
import * as io from '../src/io/index.js';

const HELP = `npm run train -- [options]

  --model mlp|cnn          mlp: 784-256-256-10 with Dropout(0.2); cnn: conv 16, conv 32, fc 128, Dropout(0.3) (default mlp)
  --epochs N               passes over the 8,000 training digits (default 10)
  --batch-size N           (default 128)
  --backend webgpu|cpu     (default webgpu)
  --optimizer NAME         sgd, adam, adamw (default adam)
  --lr X                   learning rate (default 1e-3)
  --weight-decay X         (default 0)
  --schedule NAME          none, onecycle, cosine, step (default none)
  --batch-norm             BatchNorm after every hidden layer
  --augment                shift each training digit by up to 2 pixels, anew every epoch
  --lr-find                run a learning-rate range test first, print it, and (without --schedule) train at its suggestion
  --layer-stats            print each layer's gradient norm, update ratio and output statistics after every epoch
  --save PATH              write a checkpoint (model, optimizer, schedule, step, data position) after every epoch
  --resume PATH            continue from a checkpoint written by --save, up to --epochs in total
  --export PATH            write the trained weights alone (torch names; loads with load_state_dict)
  --seed N                 initialisation, shuffles, dropout and shifts (default 0)
  --data PATH              the MNIST binary (default demo/dist/mnist.bin, built by npm start or scripts/build-data.mjs)
  --help`;

const { values: opts } = parseArgs({
  options: {
    model: { type: 'string', default: 'mlp' },
    epochs: { type: 'string', default: '10' },
    'batch-size': { type: 'string', default: '128' },
    backend: { type: 'string', default: 'webgpu' },
    optimizer: { type: 'string', default: 'adam' },
    lr: { type: 'string', default: '1e-3' },
    'weight-decay': { type: 'string', default: '0' },
    schedule: { type: 'string', default: 'none' },
    'batch-norm': { type: 'boolean', default: false },
    augment: { type: 'boolean', default: false },
    'lr-find': { type: 'boolean', default: false },
    'layer-stats': { type: 'boolean', default: false },
    save: { type: 'string' },
    resume: { type: 'string' },
    export: { type: 'string' },
    seed: { type: 'string', default: '0' },
    data: { type: 'string', default: 'demo/dist/mnist.bin' },
    help: { type: 'boolean', default: false },
  },
});

if (opts.help) {
  console.log(HELP);
  process.exit(0);
}

function number(name: string, value: string, check: (v: number) => boolean, what: string): number {
  const v = Number(value);
  if (!check(v)) {
    console.error(`npm run train: --${name} must be ${what}, got '${value}'\n\n${HELP}`);
    process.exit(2);
  }
  return v;
}
function choice<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    console.error(`npm run train: --${name} must be one of ${allowed.join(', ')}, got '${value}'\n\n${HELP}`);
    process.exit(2);
  }
  return value as T;
}

const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
const epochs = number('epochs', opts.epochs, positiveInt, 'a positive integer');
const batchSize = number('batch-size', opts['batch-size'], positiveInt, 'a positive integer');
const lr = number('lr', opts.lr, (v) => v > 0, 'a positive number');
const weightDecay = number('weight-decay', opts['weight-decay'], (v) => v >= 0, 'a number >= 0');
const seed = number('seed', opts.seed, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
const model = choice('model', opts.model, ['mlp', 'cnn'] as const);
const backend = choice('backend', opts.backend, ['webgpu', 'cpu'] as const);
const optimizerName = choice('optimizer', opts.optimizer, ['sgd', 'adam', 'adamw'] as const);
const scheduleName = choice('schedule', opts.schedule, ['none', 'onecycle', 'cosine', 'step'] as const);

let bytes: Uint8Array;
try {
  bytes = new Uint8Array(readFileSync(opts.data));
} catch (e) {
  console.error(`npm run train: cannot read ${opts.data} (${(e as Error).message}); build it with: node scripts/build-data.mjs`);
  process.exit(1);
}
const { train, test } = parseMnist(bytes);
const inputShape = model === 'cnn' ? [1, 28, 28] : [784];

/** Every digit moved by up to `max` pixels in each direction (zeros shifted in), drawn from `seed`. */
function shifted(data: Dataset, max: number, seed: number): Dataset {
  const next = mulberry32(seed);
  const x = new Float32Array(data.x.length);
  for (let s = 0; s < data.n; s++) {
    const dy = Math.floor(next() * (2 * max + 1)) - max;
    const dx = Math.floor(next() * (2 * max + 1)) - max;
    const src = data.x.subarray(s * 784, (s + 1) * 784);
    const dst = x.subarray(s * 784, (s + 1) * 784);
    for (let r = 0; r < 28; r++) {
      const sr = r - dy;
      if (sr < 0 || sr >= 28) continue;
      for (let c = 0; c < 28; c++) {
        const sc = c - dx;
        if (sc >= 0 && sc < 28) dst[r * 28 + c] = src[sr * 28 + sc]!;
      }
    }
  }
  return { ...data, x };
}

function build(): nn.Module {
  nn.manualSeed(seed);
  const bn = opts['batch-norm'];
  if (model === 'mlp') {
    return new nn.Sequential(
      new nn.Linear(784, 256), ...(bn ? [new nn.BatchNorm1d(256)] : []), new nn.ReLU(), new nn.Dropout(0.2),
      new nn.Linear(256, 256), ...(bn ? [new nn.BatchNorm1d(256)] : []), new nn.ReLU(), new nn.Dropout(0.2),
      new nn.Linear(256, 10));
  }
  return new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }), ...(bn ? [new nn.BatchNorm2d(16)] : []), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }), ...(bn ? [new nn.BatchNorm2d(32)] : []), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(32 * 7 * 7, 128), new nn.ReLU(), new nn.Dropout(0.3), new nn.Linear(128, 10));
}

async function openDevice(): Promise<Device> {
  if (backend === 'cpu') return createDevice({ backend: 'cpu' });
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  return createDevice({ backend: 'webgpu', gpu: webgpu.create([]) as GPU });
}

/** One line redrawn in place in a terminal; nothing between epochs elsewhere. */
class Progress {
  private readonly tty = Boolean(process.stdout.isTTY);
  private started = performance.now();
  private lastDraw = 0;
  constructor(private readonly total: number) {}
  start(): void {
    this.started = performance.now();
  }
  update(done: number, loss: number, label: string): void {
    if (!this.tty) return;
    const now = performance.now();
    if (now - this.lastDraw < 100 && done < this.total) return;
    this.lastDraw = now;
    const seconds = (now - this.started) / 1000;
    const rate = done / Math.max(seconds, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const width = 28;
    const filled = Math.round((width * done) / this.total);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    process.stdout.write(`\r${label} ${bar} ${done}/${this.total} · ${rate.toFixed(1)} steps/s · loss ${loss.toFixed(4)} · ETA ${formatTime(eta)}   `);
  }
  clear(): void {
    if (this.tty) process.stdout.write('\r\x1b[2K');
  }
}

function formatTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.round(s % 60)).padStart(2, '0')}`;
}

const net = build();
const device = await openDevice();
const params = net.parameters();
const optimizer =
  optimizerName === 'sgd'
    ? new optim.SGD(params, { lr, momentum: 0.9, weightDecay })
    : optimizerName === 'adamw'
      ? new optim.AdamW(params, { lr, weightDecay })
      : new optim.Adam(params, { lr, weightDecay });
const stepsPerEpoch = Math.ceil(train.n / batchSize);
const totalSteps = stepsPerEpoch * epochs;
const scheduler: Scheduler | undefined =
  scheduleName === 'onecycle'
    ? new optim.lr.OneCycleLR(optimizer, { maxLr: lr, totalSteps })
    : scheduleName === 'cosine'
      ? new optim.lr.CosineAnnealingLR(optimizer, { tMax: totalSteps })
      : scheduleName === 'step'
        ? new optim.lr.StepLR(optimizer, { stepSize: stepsPerEpoch * Math.max(1, Math.floor(epochs / 3)), gamma: 0.3 })
        : undefined;
const trainer = new Trainer(device, net, {
  loss: new nn.CrossEntropyLoss(),
  optimizer,
  scheduler,
  inputShape,
  seed,
  ...(opts['layer-stats'] ? { layerStats: { every: 20, activations: true } } : {}),
});

if (opts.resume) {
  try {
    await io.loadCheckpoint(trainer, await io.readFile(opts.resume));
  } catch (e) {
    console.error(`npm run train: cannot resume from ${opts.resume}: ${(e as Error).message}`);
    process.exit(1);
  }
  console.log(`resumed from ${opts.resume} at epoch ${trainer.dataPosition.epoch + 1}, step ${trainer.stepCount}`);
}

if (opts['lr-find']) {
  const found = await trainer.findLr(train, { startLr: 1e-6, endLr: 10, steps: 100, batchSize });
  const rows = found.lrs.map((r, i) => `${r.toExponential(2)} ${found.smoothed[i]!.toFixed(4)}`);
  console.log(`learning-rate range test (lr, smoothed loss), every 10th of ${rows.length}:\n  ${rows.filter((_, i) => i % 10 === 0).join('\n  ')}`);
  if (found.suggestion === null) {
    console.log('the loss never fell: keeping --lr');
  } else if (scheduler) {
    console.log(`suggested learning rate: ${found.suggestion.toExponential(2)} (the schedule keeps --lr ${lr}; pass the suggestion as --lr to use it)`);
  } else {
    console.log(`suggested learning rate: ${found.suggestion.toExponential(2)}, used from here on`);
    for (const group of optimizer.paramGroups) group.lr = found.suggestion;
  }
}

console.log(
  `${model.toUpperCase()}${opts['batch-norm'] ? ' + BatchNorm' : ''} on ${device.backend.description}: ${train.n} training digits, ` +
    `${test.n} held out; ${optimizerName} lr ${lr}, schedule ${scheduleName}${opts.augment ? ', shifted digits' : ''}, batch ${batchSize}, ${epochs} epochs`,
);
const progress = new Progress(stepsPerEpoch);
const begun = performance.now();
let last = { accuracy: 0, loss: NaN };
for (let epoch = trainer.dataPosition.epoch; epoch < epochs; epoch++) {
  const data = opts.augment ? shifted(train, 2, seed * 1000 + epoch) : train;
  let done = 0;
  let runningLoss = NaN;
  progress.start();
  const [summary] = await trainer.fit(data, {
    epochs: 1,
    batchSize,
    seed: seed * 1000 + epoch,
    onStep: (r) => {
      done++;
      runningLoss = Number.isNaN(runningLoss) ? r.loss : 0.95 * runningLoss + 0.05 * r.loss;
      progress.update(done, runningLoss, `epoch ${epoch + 1}/${epochs}`);
    },
  });
  progress.clear();
  last = await trainer.evaluate(test);
  if (opts['layer-stats']) {
    const tracked = trainer.history.filter((r) => r.layerStats).at(-1)?.layerStats;
    for (const [name, st] of Object.entries(tracked ?? {})) {
      console.log(`  ${name.padEnd(10)} grad norm ${st.gradNorm.toExponential(2)}  weight norm ${st.weightNorm.toExponential(2)}  update/weight ${st.updateRatio.toExponential(2)}`);
    }
    const acts = trainer.history.filter((r) => r.activationStats).at(-1)?.activationStats;
    for (const [path, a] of Object.entries(acts ?? {})) {
      console.log(`  output ${path.padEnd(3)} mean ${a.mean.toFixed(4)}  std ${a.std.toFixed(4)}  zeros ${(100 * a.zeroFraction).toFixed(1)}%`);
    }
  }
  console.log(
    `epoch ${epoch + 1}/${epochs}: train loss ${summary!.loss.toFixed(4)}, held-out loss ${last.loss.toFixed(4)}, ` +
      `accuracy ${(100 * last.accuracy).toFixed(2)}% (${summary!.seconds.toFixed(1)} s)`,
  );
  if (opts.save) await io.saveFile(opts.save, await io.saveCheckpoint(trainer));
}
if (Number.isNaN(last.loss)) last = await trainer.evaluate(test);
console.log(`held-out accuracy: ${(100 * last.accuracy).toFixed(2)}% after ${epochs} epochs in ${((performance.now() - begun) / 1000).toFixed(0)} s`);
if (opts.save) console.log(`checkpoint: ${opts.save}`);
if (opts.export) {
  await io.saveFile(opts.export, await io.saveSafetensors(net, { metadata: { model, epochs: String(epochs) } }));
  console.log(`weights: ${opts.export}`);
}
await trainer.dispose();
device.dispose();
