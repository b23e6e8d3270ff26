/**
 * A run's settings: one flat record of numbers, strings and booleans, so that it maps one to one
 * onto the page's URL (`?preset=vanishing&depth=20&activation=sigmoid`) and onto the form. The
 * presets of the lab are settings plus a short text of what to look at.
 */
/** `csv`: the file loaded with "Load CSV" (it stays in the page, so a link with it needs the file again). */
export const DATASETS = ['spiral', 'circles', 'xor', 'gaussians', 'moons', 'mnist', 'csv'] as const;
export type DatasetName = (typeof DATASETS)[number];
export const ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'gelu', 'leaky_relu'] as const;
export const INITS = ['default', 'xavier', 'he'] as const;
export const NORMS = ['none', 'batch', 'layer'] as const;
export const OPTIMIZERS = ['SGD', 'Momentum', 'Nesterov', 'Adagrad', 'RMSprop', 'Adam', 'AdamW', 'Lion'] as const;
export const SCHEDULES = [
  'constant', 'step', 'exponential', 'inverse-time', 'polynomial', 'cosine', 'warmup-cosine', 'one-cycle', 'plateau',
  'gradient-norm', 'average-gradient', 'bold-driver',
] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];
export type ScheduleName = (typeof SCHEDULES)[number];

export interface Settings {
  dataset: DatasetName;
  /** Training samples of a 2-D set (MNIST uses the shipped split). */
  trainSize: number;
  /** Standard deviation of the noise of a 2-D set; 0 takes the set's own default. */
  noise: number;
  /** Hidden layers, each `width` wide. */
  depth: number;
  width: number;
  activation: (typeof ACTIVATIONS)[number];
  init: (typeof INITS)[number];
  /** Wrap each hidden layer after the first as x + f(x). */
  residual: boolean;
  norm: (typeof NORMS)[number];
  dropout: number;
  optimizer: OptimizerName;
  lr: number;
  weightDecay: number;
  schedule: ScheduleName;
  clipGradNorm: number;
  clipGradValue: number;
  l1: number;
  l2: number;
  batchSize: number;
  steps: number;
  seed: number;
  /** Per-layer statistics every this many steps; 0 turns them off. */
  layerEvery: number;
  /** Held-out (and full training set) evaluation every this many steps. */
  evalEvery: number;
}

export const DEFAULTS: Settings = {
  dataset: 'spiral',
  trainSize: 600,
  noise: 0,
  depth: 2,
  width: 32,
  activation: 'relu',
  init: 'default',
  residual: false,
  norm: 'none',
  dropout: 0,
  optimizer: 'Adam',
  lr: 0.01,
  weightDecay: 0,
  schedule: 'constant',
  clipGradNorm: 0,
  clipGradValue: 0,
  l1: 0,
  l2: 0,
  batchSize: 32,
  steps: 600,
  seed: 1,
  layerEvery: 0,
  evalEvery: 50,
};

export const PRESET_IDS = ['schedules', 'vanishing', 'optimizers', 'regularization', 'clipping', 'mnist'] as const;
export type PresetId = (typeof PRESET_IDS)[number];

/** A named comparison: the runs "Run the comparison" starts, each the preset's settings plus a change. */
export interface Comparison {
  readonly label: string;
  readonly runs: readonly { readonly name: string; readonly change: Partial<Settings> }[];
}

export interface Preset {
  readonly id: PresetId;
  readonly title: string;
  /** What to look at, in two or three sentences. */
  readonly explain: string;
  readonly settings: Partial<Settings>;
  readonly comparison: Comparison;
}

export const PRESETS: Record<PresetId, Preset> = {
  schedules: {
    id: 'schedules',
    title: 'Learning-rate schedules',
    explain:
      'One model under every schedule. The rate chart shows the rate each step used (dashed: the plan of the closed-form ' +
      'schedules); the signal-driven ones (plateau, gradient-norm, average-gradient, bold driver) have no plan. ' +
      'Compare the loss curves, then press "Find a rate" for the range test: loss against rate, the suggestion marked.',
    settings: { dataset: 'moons', optimizer: 'SGD', lr: 0.3, schedule: 'cosine', steps: 300, depth: 2, width: 32 },
    comparison: {
      label: 'Run every schedule',
      runs: SCHEDULES.map((schedule) => ({ name: schedule, change: { schedule } })),
    },
  },
  vanishing: {
    id: 'vanishing',
    title: 'Vanishing gradients',
    explain:
      'Twenty sigmoid layers: the heatmap shows each layer\'s gradient norm per step on a log colour scale. The first ' +
      'layers get gradients orders of magnitude smaller than the last and barely learn. Turn on Residual and BatchNorm ' +
      '(or use ReLU with He initialisation) and the heatmap evens out; the bar chart shows the update/weight ratio per layer.',
    settings: {
      dataset: 'spiral', depth: 20, width: 16, activation: 'sigmoid', init: 'xavier', optimizer: 'SGD', lr: 0.1,
      steps: 120, layerEvery: 5, evalEvery: 40, batchSize: 32,
    },
    comparison: {
      label: 'Plain vs Residual + BatchNorm',
      runs: [
        { name: 'sigmoid, plain', change: {} },
        { name: 'sigmoid, residual + batch norm', change: { residual: true, norm: 'batch' } },
        { name: 'relu, He init', change: { activation: 'relu', init: 'he' } },
      ],
    },
  },
  optimizers: {
    id: 'optimizers',
    title: 'Optimizers',
    explain:
      'SGD, momentum, Nesterov, Adagrad, RMSprop, Adam, AdamW and Lion raced on one problem (each at a rate that suits it), ' +
      'and below on 2-D test functions, their paths drawn over the contour lines: momentum overshoots and comes back, ' +
      'Adam moves at a steady pace whatever the scale, Lion takes equal-sized sign steps.',
    settings: { dataset: 'moons', optimizer: 'Momentum', lr: 0.05, steps: 300, depth: 2, width: 32, noise: 0.15 },
    comparison: {
      label: 'Race all optimizers',
      runs: [
        { name: 'SGD', change: { optimizer: 'SGD', lr: 0.1 } },
        { name: 'Momentum', change: { optimizer: 'Momentum', lr: 0.05 } },
        { name: 'Nesterov', change: { optimizer: 'Nesterov', lr: 0.05 } },
        { name: 'Adagrad', change: { optimizer: 'Adagrad', lr: 0.05 } },
        { name: 'RMSprop', change: { optimizer: 'RMSprop', lr: 0.003 } },
        { name: 'Adam', change: { optimizer: 'Adam', lr: 0.01 } },
        { name: 'AdamW', change: { optimizer: 'AdamW', lr: 0.01, weightDecay: 0.01 } },
        { name: 'Lion', change: { optimizer: 'Lion', lr: 0.001 } },
      ],
    },
  },
  regularization: {
    id: 'regularization',
    title: 'Regularization',
    explain:
      'A wide network on 60 noisy points overfits: the training loss keeps falling while the held-out loss turns up. ' +
      'L2 shrinks every weight, L1 pushes many to exactly zero (see the share of near-zero weights and the histogram), ' +
      'dropout trains a different thinned network each step. Compare the gap between the two curves.',
    settings: {
      dataset: 'moons', trainSize: 60, noise: 0.35, depth: 2, width: 128, optimizer: 'Adam', lr: 0.01, steps: 600,
      batchSize: 30, evalEvery: 25,
    },
    comparison: {
      label: 'None, L1, L2, dropout',
      runs: [
        { name: 'no penalty', change: {} },
        { name: 'L1 1e-3', change: { l1: 1e-3 } },
        { name: 'L2 1e-2', change: { l2: 1e-2 } },
        { name: 'dropout 0.5', change: { dropout: 0.5 } },
      ],
    },
  },
  clipping: {
    id: 'clipping',
    title: 'Gradient clipping',
    explain:
      'A rate high enough to explode: the gradient norm (log scale) spikes and the loss jumps or turns NaN. Clipping the ' +
      'norm to 1 rescales each step\'s whole gradient, clipping values to 0.1 clamps each element; both keep the run on track.',
    settings: { dataset: 'spiral', optimizer: 'SGD', lr: 2, steps: 200, depth: 3, width: 32, activation: 'tanh' },
    comparison: {
      label: 'None, norm, value',
      runs: [
        { name: 'no clipping', change: {} },
        { name: 'clip norm 1', change: { clipGradNorm: 1 } },
        { name: 'clip value 0.1', change: { clipGradValue: 0.1 } },
      ],
    },
  },
  mnist: {
    id: 'mnist',
    title: 'MNIST digits',
    explain:
      'An MLP on the shipped digits: held-out accuracy as it trains, the confusion matrix of the held-out set (rows: true ' +
      'digit, columns: prediction), and a canvas to draw a digit of your own and see the model\'s probabilities.',
    settings: { dataset: 'mnist', depth: 1, width: 64, optimizer: 'Adam', lr: 0.002, steps: 300, batchSize: 64, evalEvery: 50 },
    comparison: {
      label: 'Widths 32, 128',
      runs: [
        { name: 'width 32', change: { width: 32 } },
        { name: 'width 128', change: { width: 128 } },
      ],
    },
  },
};

/** Each preset's settings over the defaults. */
export function presetSettings(id: PresetId): Settings {
  return { ...DEFAULTS, ...PRESETS[id].settings };
}

const CHOICES: Partial<Record<keyof Settings, readonly string[]>> = {
  dataset: DATASETS, activation: ACTIVATIONS, init: INITS, norm: NORMS, optimizer: OPTIMIZERS, schedule: SCHEDULES,
};

export function choicesOf(key: keyof Settings): readonly string[] | undefined {
  return CHOICES[key];
}

/** Checks and completes settings given in part (from a URL, the console or a test); errors name the key. */
export function checkSettings(input: Partial<Record<keyof Settings, unknown>>, base: Settings = DEFAULTS): Settings {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(input)) {
    if (!(key in DEFAULTS)) throw new Error(`unknown setting '${key}' (known: ${Object.keys(DEFAULTS).join(', ')})`);
    const k = key as keyof Settings;
    const kind = typeof DEFAULTS[k];
    const choices = CHOICES[k];
    if (choices) {
      if (!choices.includes(String(value))) throw new Error(`setting ${key} must be one of ${choices.join(', ')}, got ${String(value)}`);
      out[k] = String(value);
    } else if (kind === 'boolean') {
      if (value !== true && value !== false && value !== 'true' && value !== 'false' && value !== '1' && value !== '0') {
        throw new Error(`setting ${key} must be true or false, got ${String(value)}`);
      }
      out[k] = value === true || value === 'true' || value === '1';
    } else {
      const n = typeof value === 'number' ? value : Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`setting ${key} must be a number >= 0, got ${String(value)}`);
      out[k] = n;
    }
  }
  const s = out as unknown as Settings;
  for (const k of ['depth', 'width', 'batchSize', 'steps', 'trainSize', 'evalEvery'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`setting ${k} must be an integer >= 1, got ${s[k]}`);
  }
  if (s.dropout >= 1) throw new Error(`setting dropout must be below 1, got ${s.dropout}`);
  return s;
}

/** The URL query of a preset and its settings: every setting, so that a link reproduces the run. */
export function toQuery(preset: PresetId, s: Settings): string {
  const q = new URLSearchParams({ preset });
  for (const key of Object.keys(DEFAULTS) as (keyof Settings)[]) q.set(key, String(s[key]));
  return q.toString();
}

/** The preset and settings of a URL query: the preset's settings, then any setting the query names. */
export function fromQuery(query: string): { preset: PresetId; settings: Settings } {
  const q = new URLSearchParams(query);
  const named = q.get('preset') ?? 'schedules';
  const preset = (PRESET_IDS as readonly string[]).includes(named) ? (named as PresetId) : 'schedules';
  const given: Record<string, string> = {};
  for (const [k, v] of q) if (k in DEFAULTS) given[k] = v;
  return { preset, settings: checkSettings(given, presetSettings(preset)) };
}
