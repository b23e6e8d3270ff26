/**
 * What a run is made of, the choices the lab offers, and the formula behind each choice. The
 * option tables drive both the form (controls.ts) and the constructors (setup.ts).
 */
import type { data } from '../../src/index.js';

export type DatasetName = 'mnist' | data.SyntheticName;
export type ActivationName = 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid' | 'gelu';
export type OptimizerName = 'SGD' | 'Adam' | 'AdamW' | 'RMSprop' | 'Adagrad' | 'Adadelta' | 'Adamax' | 'NAdam' | 'Lion';
export type ScheduleName =
  | 'none' | 'StepLR' | 'CosineAnnealingLR' | 'WarmupCosine' | 'OneCycleLR' | 'ExponentialLR' | 'BoldDriver' | 'GradientNormLR';

export type OptionValues = Record<string, number | boolean>;

export interface RunConfig {
  dataset: DatasetName;
  /** Widths of the hidden layers, input to output. */
  hidden: number[];
  activation: ActivationName;
  /** Wrap each hidden layer whose width equals the previous one in a skip connection. */
  residual: boolean;
  /** Probability of inverted dropout after each hidden activation; 0 turns it off. */
  dropout: number;
  optimizer: OptimizerName;
  optimizerOptions: OptionValues;
  schedule: ScheduleName;
  scheduleOptions: OptionValues;
  /** 0 turns clipping off. */
  clipGradNorm: number;
  clipGradValue: number;
  l1: number;
  l2: number;
  batchSize: number;
  epochs: number;
  seed: number;
  /** Stop after this many steps, even within an epoch (the test hook uses it). Default: no limit. */
  maxSteps?: number;
}

/** One numeric or boolean option of an optimizer or a schedule, as a form field shows it. */
export interface OptionSpec {
  readonly key: string;
  readonly label: string;
  readonly value: number | boolean;
  readonly step?: number;
  readonly min?: number;
  readonly max?: number;
}

export interface Choice {
  readonly label: string;
  readonly options: readonly OptionSpec[];
  /** The update or the rate as a formula, shown beside the control. */
  readonly formula: string;
}

const lr = (value: number): OptionSpec => ({ key: 'lr', label: 'learning rate', value, step: 0.0001, min: 0 });
const beta1 = (value = 0.9): OptionSpec => ({ key: 'beta1', label: 'β₁', value, step: 0.01, min: 0, max: 0.9999 });
const beta2 = (value = 0.999): OptionSpec => ({ key: 'beta2', label: 'β₂', value, step: 0.001, min: 0, max: 0.9999 });
const eps = (value: number): OptionSpec => ({ key: 'eps', label: 'ε', value, step: 1e-9, min: 0 });
const weightDecay = (value = 0): OptionSpec => ({ key: 'weightDecay', label: 'weight decay', value, step: 0.0001, min: 0 });

export const OPTIMIZERS: Record<OptimizerName, Choice> = {
  SGD: {
    label: 'SGD',
    options: [lr(0.05), { key: 'momentum', label: 'momentum', value: 0.9, step: 0.01, min: 0 },
      { key: 'dampening', label: 'dampening', value: 0, step: 0.01, min: 0 },
      { key: 'nesterov', label: 'Nesterov', value: false }, weightDecay()],
    formula: 'g ← ∇L + λw;  b ← μ·b + (1−τ)·g;  w ← w − η·(Nesterov ? g + μ·b : b)',
  },
  Adam: {
    label: 'Adam',
    options: [lr(0.001), beta1(), beta2(), eps(1e-8), weightDecay(), { key: 'amsgrad', label: 'AMSGrad', value: false }],
    formula: 'm ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← w − η·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)   (with bias correction, Kingma & Ba)',
  },
  AdamW: {
    label: 'AdamW',
    options: [lr(0.001), beta1(), beta2(), eps(1e-8), weightDecay(0.01), { key: 'amsgrad', label: 'AMSGrad', value: false }],
    formula: 'w ← w·(1 − ηλ), then the Adam step: weight decay decoupled from the gradient (Loshchilov & Hutter)',
  },
  RMSprop: {
    label: 'RMSprop',
    options: [lr(0.001), { key: 'alpha', label: 'α (smoothing)', value: 0.99, step: 0.01, min: 0 }, eps(1e-8),
      { key: 'momentum', label: 'momentum', value: 0, step: 0.01, min: 0 }, { key: 'centered', label: 'centered', value: false },
      weightDecay()],
    formula: 'v ← αv + (1−α)g²;  w ← w − η·g / (√v + ε)   (centered: √(v − ḡ²))',
  },
  Adagrad: {
    label: 'Adagrad',
    options: [lr(0.01), { key: 'lrDecay', label: 'lr decay', value: 0, step: 0.0001, min: 0 }, eps(1e-10),
      { key: 'initialAccumulatorValue', label: 'initial accumulator', value: 0, step: 0.01, min: 0 }, weightDecay()],
    formula: 's ← s + g²;  w ← w − η/(1 + (t−1)·decay) · g / (√s + ε)',
  },
  Adadelta: {
    label: 'Adadelta',
    options: [lr(1), { key: 'rho', label: 'ρ', value: 0.9, step: 0.01, min: 0, max: 1 }, eps(1e-6), weightDecay()],
    formula: 'v ← ρv + (1−ρ)g²;  Δ = √(u + ε)/√(v + ε)·g;  u ← ρu + (1−ρ)Δ²;  w ← w − η·Δ',
  },
  Adamax: {
    label: 'Adamax',
    options: [lr(0.002), beta1(), beta2(), eps(1e-8), weightDecay()],
    formula: 'm ← β₁m + (1−β₁)g;  u ← max(β₂u, |g| + ε);  w ← w − η/(1−β₁ᵗ) · m/u',
  },
  NAdam: {
    label: 'NAdam',
    options: [lr(0.002), beta1(), beta2(), eps(1e-8), weightDecay(),
      { key: 'momentumDecay', label: 'momentum decay', value: 0.004, step: 0.001, min: 0 }],
    formula: 'Adam with Nesterov momentum: the step mixes the bias-corrected g and the next step\'s m (Dozat)',
  },
  Lion: {
    label: 'Lion',
    options: [lr(0.0001), beta1(0.9), beta2(0.99), weightDecay()],
    formula: 'w ← w − η·(sign(β₁m + (1−β₁)g) + λw);  m ← β₂m + (1−β₂)g   (Chen et al.)',
  },
};

export const SCHEDULES: Record<ScheduleName, Choice> = {
  none: { label: 'constant', options: [], formula: 'η(t) = η₀' },
  StepLR: {
    label: 'StepLR',
    options: [{ key: 'everyEpochs', label: 'decay every (epochs)', value: 2, step: 1, min: 1 },
      { key: 'gamma', label: 'γ', value: 0.5, step: 0.05, min: 0 }],
    formula: 'η(t) = η₀ · γ^⌊t / stepSize⌋',
  },
  CosineAnnealingLR: {
    label: 'CosineAnnealingLR',
    options: [{ key: 'etaMin', label: 'η min', value: 0, step: 0.0001, min: 0 }],
    formula: 'η(t) = η_min + (η₀ − η_min)·(1 + cos(πt/T))/2,  T = the whole run',
  },
  WarmupCosine: {
    label: 'warmup + cosine',
    options: [{ key: 'warmupPercent', label: 'warmup (% of run)', value: 10, step: 1, min: 1, max: 99 },
      { key: 'startFactor', label: 'start factor', value: 0.1, step: 0.01, min: 0.001, max: 1 }],
    formula: 'SequentialLR: LinearLR from start·η₀ to η₀ over the warmup, then CosineAnnealingLR to 0',
  },
  OneCycleLR: {
    label: 'OneCycleLR',
    options: [{ key: 'pctStart', label: 'rising part', value: 0.3, step: 0.05, min: 0.01, max: 0.99 },
      { key: 'divFactor', label: 'div factor', value: 25, step: 1, min: 1 },
      { key: 'finalDivFactor', label: 'final div factor', value: 10000, step: 100, min: 1 }],
    formula: 'η rises from η₀/div to η₀ (the learning rate above is the peak), then anneals to η₀/div/finalDiv; momentum cycles the other way',
  },
  ExponentialLR: {
    label: 'ExponentialLR',
    options: [{ key: 'gamma', label: 'γ per step', value: 0.998, step: 0.001, min: 0 }],
    formula: 'η(t) = η₀ · γᵗ',
  },
  BoldDriver: {
    label: 'BoldDriver',
    options: [{ key: 'increase', label: 'increase', value: 1.05, step: 0.01, min: 1 },
      { key: 'decrease', label: 'decrease', value: 0.5, step: 0.05, min: 0.01, max: 1 }],
    formula: 'η ← η·increase after a loss that did not rise, η·decrease after one that did (no plan: it follows the losses)',
  },
  GradientNormLR: {
    label: 'GradientNormLR',
    options: [{ key: 'gamma', label: 'γ (exponent)', value: 1, step: 0.1, min: 0 }],
    formula: 'η(t) = η₀ / ‖g_t‖^γ, computed on the device inside the step (no plan: it follows the gradients)',
  },
};

export const DATASETS: Record<DatasetName, string> = {
  mnist: 'MNIST digits',
  spiral: 'spiral (3 arms)',
  circles: 'circles',
  xor: 'XOR',
  gaussians: 'Gaussian blobs (4)',
  moons: 'moons',
};

export const ACTIVATIONS: Record<ActivationName, string> = {
  relu: 'ReLU', leaky_relu: 'LeakyReLU(0.01)', tanh: 'Tanh', sigmoid: 'Sigmoid', gelu: 'GELU',
};

/** A sensible starting point for each kind of data, applied when the data set changes. */
export function presetFor(dataset: DatasetName): Partial<RunConfig> {
  return dataset === 'mnist'
    ? { hidden: [128], batchSize: 64, epochs: 5, optimizer: 'Adam', optimizerOptions: { lr: 0.001 } }
    : { hidden: [32, 32], batchSize: 32, epochs: 60, optimizer: 'Adam', optimizerOptions: { lr: 0.01 } };
}

export const DEFAULT_CONFIG: RunConfig = {
  dataset: 'mnist',
  hidden: [128],
  activation: 'relu',
  residual: false,
  dropout: 0,
  optimizer: 'Adam',
  optimizerOptions: {},
  schedule: 'none',
  scheduleOptions: {},
  clipGradNorm: 0,
  clipGradValue: 0,
  l1: 0,
  l2: 0,
  batchSize: 64,
  epochs: 5,
  seed: 1,
};
