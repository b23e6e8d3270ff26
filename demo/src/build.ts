/** Settings to the library's objects: data, model, optimizer and schedule (run in the worker). */
import { data, nn, optim, type Scheduler } from '../../src/index.js';
import { type CsvData, splitCsv } from './csv.js';
import type { Settings } from './settings.js';

export interface Split {
  readonly train: data.Dataset;
  readonly test: data.Dataset;
}

let mnist: Promise<Split> | null = null;

/** The shipped digits sit next to the worker's bundle (demo/dist/mnist.bin). */
async function fetchMnist(): Promise<Split> {
  const response = await fetch(new URL('./mnist.bin', import.meta.url));
  if (!response.ok) throw new Error(`could not load dist/mnist.bin (HTTP ${response.status}); build it with 'npm start'`);
  return data.parseMnist(await response.arrayBuffer());
}

let csv: CsvData | null = null;

/** The data of a loaded CSV file, which the `csv` dataset trains on. */
export function setCsv(d: CsvData): void {
  csv = d;
}

/**
 * A 2-D set: `trainSize` training points and 400 held-out ones from another seed; the shipped
 * digits; or the loaded CSV file, split by the seed (standardised features, a fifth held out).
 */
export async function loadSplit(s: Settings): Promise<Split> {
  if (s.dataset === 'csv') {
    if (!csv) throw new Error("the dataset is 'csv' but no CSV file is loaded: press \"Load CSV\" and choose one");
    const parts = splitCsv(csv, s.seed);
    const shape = [csv.features];
    const classes = csv.classes.length;
    return { train: { ...parts.train, inputShape: shape, classes }, test: { ...parts.test, inputShape: shape, classes } };
  }
  if (s.dataset === 'mnist') {
    mnist ??= fetchMnist().catch((e: unknown) => {
      mnist = null;
      throw e;
    });
    return mnist;
  }
  const noise = s.noise > 0 ? { noise: s.noise } : {};
  const name = s.dataset;
  return {
    train: data.synthetic(name, { n: s.trainSize, seed: s.seed, ...noise }),
    test: data.synthetic(name, { n: 400, seed: s.seed + 1000, ...noise }),
  };
}

function activation(name: Settings['activation']): nn.Module {
  switch (name) {
    case 'relu': return new nn.ReLU();
    case 'leaky_relu': return new nn.LeakyReLU(0.01);
    case 'tanh': return new nn.Tanh();
    case 'sigmoid': return new nn.Sigmoid();
    case 'gelu': return new nn.GELU();
  }
}

function initialise(layer: nn.Linear, s: Settings): void {
  if (s.init === 'xavier') nn.init.xavierUniform_(layer.weight, nn.init.calculateGain(s.activation === 'sigmoid' ? 'sigmoid' : s.activation === 'tanh' ? 'tanh' : 'relu'));
  if (s.init === 'he') nn.init.kaimingNormal_(layer.weight, { nonlinearity: 'relu' });
  if (s.init !== 'default' && layer.bias) nn.init.zeros_(layer.bias);
}

/**
 * An MLP of `depth` hidden layers `width` wide: Linear (→ norm) → activation (→ dropout); with
 * `residual`, every hidden layer after the first is x + f(x). Returns the model and its Linear
 * layers in order (the layer statistics' rows).
 */
export function buildModel(s: Settings, inputs: number, classes: number): { model: nn.Sequential; linears: nn.Linear[] } {
  nn.manualSeed(s.seed);
  const layers: nn.Module[] = [];
  const linears: nn.Linear[] = [];
  let width = inputs;
  for (let i = 0; i < s.depth; i++) {
    const linear = new nn.Linear(width, s.width);
    initialise(linear, s);
    linears.push(linear);
    const parts: nn.Module[] = [linear];
    if (s.norm === 'batch') parts.push(new nn.BatchNorm1d(s.width));
    if (s.norm === 'layer') parts.push(new nn.LayerNorm([s.width]));
    parts.push(activation(s.activation));
    if (s.dropout > 0) parts.push(new nn.Dropout(s.dropout));
    const block = new nn.Sequential(...parts);
    layers.push(s.residual && width === s.width ? new nn.Residual(block) : block);
    width = s.width;
  }
  // A residual stack adds up its blocks' outputs (for sigmoid, each around 0.5): a final norm, as
  // pre-norm networks have, keeps the output layer's inputs at unit scale.
  if (s.residual && s.norm === 'batch') layers.push(new nn.BatchNorm1d(width));
  if (s.residual && s.norm === 'layer') layers.push(new nn.LayerNorm([width]));
  const last = new nn.Linear(width, classes);
  initialise(last, s);
  linears.push(last);
  layers.push(last);
  return { model: new nn.Sequential(...layers), linears };
}

export function buildOptimizer(s: Settings, params: nn.Parameter[]): optim.Optimizer {
  const { lr, weightDecay } = s;
  switch (s.optimizer) {
    case 'SGD': return new optim.SGD(params, { lr, weightDecay });
    case 'Momentum': return new optim.SGD(params, { lr, momentum: 0.9, weightDecay });
    case 'Nesterov': return new optim.SGD(params, { lr, momentum: 0.9, nesterov: true, weightDecay });
    case 'Adagrad': return new optim.Adagrad(params, { lr, weightDecay });
    case 'RMSprop': return new optim.RMSprop(params, { lr, weightDecay });
    case 'Adam': return new optim.Adam(params, { lr, weightDecay });
    case 'AdamW': return new optim.AdamW(params, { lr, weightDecay });
    case 'Lion': return new optim.Lion(params, { lr, weightDecay });
  }
}

export type Schedule = optim.lr.LRScheduler & Scheduler;

/** The schedule over `total` steps; undefined for a constant rate. */
export function buildSchedule(s: Settings, optimizer: optim.Optimizer, total: number): Schedule | undefined {
  return makeSchedule(s, optimizer, total) as Schedule | undefined;
}

function makeSchedule(s: Settings, optimizer: optim.Optimizer, total: number): optim.lr.LRScheduler | undefined {
  const { lr } = optim;
  const quarter = Math.max(1, Math.round(total / 4));
  switch (s.schedule) {
    case 'constant': return undefined;
    case 'step': return new lr.StepLR(optimizer, { stepSize: quarter, gamma: 0.5 });
    case 'exponential': return new lr.ExponentialLR(optimizer, { gamma: 0.05 ** (1 / total) });
    case 'inverse-time': return new lr.InverseTimeLR(optimizer, { k: 10 / total });
    case 'polynomial': return new lr.PolynomialLR(optimizer, { totalIters: total, power: 2 });
    case 'cosine': return new lr.CosineAnnealingLR(optimizer, { tMax: total });
    case 'warmup-cosine': {
      const warm = Math.max(1, Math.round(total / 10));
      const warmup = new lr.LinearLR(optimizer, { startFactor: 0.1, endFactor: 1, totalIters: warm });
      const cosine = new lr.CosineAnnealingLR(optimizer, { tMax: Math.max(1, total - warm) });
      return new lr.SequentialLR(optimizer, { schedulers: [warmup, cosine], milestones: [warm] });
    }
    case 'one-cycle': return new lr.OneCycleLR(optimizer, { maxLr: s.lr, totalSteps: total });
    case 'plateau': return new lr.ReduceLROnPlateau(optimizer, { patience: 1, factor: 0.5 });
    case 'gradient-norm': return new lr.GradientNormLR(optimizer, { gamma: 1 });
    case 'average-gradient': return new lr.AverageGradientLR(optimizer, { beta: 0.9 });
    case 'bold-driver': return new lr.BoldDriver(optimizer, { increase: 1.05, decrease: 0.5 });
  }
}

/** The planned rate of steps 0 … total − 1, or null for a schedule that follows training signals. */
export function plannedRates(schedule: Schedule | undefined, lr0: number, total: number): Float64Array | null {
  if (!schedule) return new Float64Array(total).fill(lr0);
  if (!(schedule instanceof optim.lr.ClosedFormLR)) return null;
  return Float64Array.from({ length: total }, (_, t) => schedule.lrAt(t)[0]!);
}
