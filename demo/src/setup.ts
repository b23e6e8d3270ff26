/** Turns a RunConfig into the library's objects: the model, the optimizer and the schedule. */
import { nn, optim } from '../../src/index.js';
import type { ActivationName, OptionValues, RunConfig } from './config.js';

function activation(name: ActivationName): nn.Module {
  switch (name) {
    case 'relu':
      return new nn.ReLU();
    case 'leaky_relu':
      return new nn.LeakyReLU(0.01);
    case 'tanh':
      return new nn.Tanh();
    case 'sigmoid':
      return new nn.Sigmoid();
    case 'gelu':
      return new nn.GELU();
  }
}

/**
 * An MLP: Linear → activation (→ Dropout) per hidden layer, then a Linear to the class logits.
 * With `residual`, a hidden layer as wide as the one before becomes x + block(x).
 */
export function buildModel(config: RunConfig, inputs: number, classes: number): nn.Sequential {
  nn.manualSeed(config.seed);
  const layers: nn.Module[] = [];
  let width = inputs;
  for (const h of config.hidden) {
    const block = new nn.Sequential(
      new nn.Linear(width, h), activation(config.activation), ...(config.dropout > 0 ? [new nn.Dropout(config.dropout)] : []));
    if (config.residual && h === width) layers.push(new nn.Residual(block));
    else layers.push(...block.layers);
    width = h;
  }
  layers.push(new nn.Linear(width, classes));
  return new nn.Sequential(...layers);
}

/** The form keeps β₁ and β₂ as two fields; the optimizers take them as `betas`. */
function withBetas(options: OptionValues): Record<string, unknown> {
  const { beta1, beta2, ...rest } = options;
  return beta1 === undefined ? rest : { ...rest, betas: [beta1, beta2] };
}

export function buildOptimizer(config: RunConfig, params: nn.Parameter[]): optim.Optimizer {
  const o = withBetas(config.optimizerOptions);
  switch (config.optimizer) {
    case 'SGD':
      return new optim.SGD(params, o);
    case 'Adam':
      return new optim.Adam(params, o);
    case 'AdamW':
      return new optim.AdamW(params, o);
    case 'RMSprop':
      return new optim.RMSprop(params, o);
    case 'Adagrad':
      return new optim.Adagrad(params, o);
    case 'Adadelta':
      return new optim.Adadelta(params, o);
    case 'Adamax':
      return new optim.Adamax(params, o);
    case 'NAdam':
      return new optim.NAdam(params, o);
    case 'Lion':
      return new optim.Lion(params, o);
  }
}

/** The schedules the lab offers, all of which the Trainer steps once per optimizer step. */
export type Schedule = optim.lr.ClosedFormLR | optim.lr.BoldDriver | optim.lr.GradientNormLR;

/**
 * The schedule over a run of `total` steps (`perEpoch` per epoch), stepped once per optimizer
 * step; undefined for a constant rate.
 */
export function buildSchedule(config: RunConfig, optimizer: optim.Optimizer, total: number, perEpoch: number): Schedule | undefined {
  const o = config.scheduleOptions as Record<string, number>;
  const { lr } = optim;
  switch (config.schedule) {
    case 'none':
      return undefined;
    case 'StepLR':
      return new lr.StepLR(optimizer, { stepSize: Math.max(1, Math.round(o.everyEpochs! * perEpoch)), gamma: o.gamma! });
    case 'CosineAnnealingLR':
      return new lr.CosineAnnealingLR(optimizer, { tMax: total, etaMin: o.etaMin! });
    case 'WarmupCosine': {
      const warm = Math.max(1, Math.min(total - 1, Math.round((total * o.warmupPercent!) / 100)));
      const warmup = new lr.LinearLR(optimizer, { startFactor: o.startFactor!, endFactor: 1, totalIters: warm });
      const cosine = new lr.CosineAnnealingLR(optimizer, { tMax: Math.max(1, total - warm) });
      return new lr.SequentialLR(optimizer, { schedulers: [warmup, cosine], milestones: [warm] });
    }
    case 'OneCycleLR':
      return new lr.OneCycleLR(optimizer, {
        maxLr: optimizer.paramGroups[0]!.lr, totalSteps: total, pctStart: o.pctStart!, divFactor: o.divFactor!,
        finalDivFactor: o.finalDivFactor!,
      });
    case 'ExponentialLR':
      return new lr.ExponentialLR(optimizer, { gamma: o.gamma! });
    case 'BoldDriver':
      return new lr.BoldDriver(optimizer, { increase: o.increase!, decrease: o.decrease! });
    case 'GradientNormLR':
      return new lr.GradientNormLR(optimizer, { gamma: o.gamma! });
  }
}

/** The rate the schedule plans for steps 0 … total − 1, or null when it follows training signals. */
export function plannedRates(schedule: Schedule | undefined, optimizer: optim.Optimizer, total: number): number[] | null {
  if (!schedule) return new Array<number>(total).fill(optimizer.paramGroups[0]!.lr);
  if (!(schedule instanceof optim.lr.ClosedFormLR)) return null;
  return Array.from({ length: total }, (_, t) => schedule.lrAt(t)[0]!);
}
