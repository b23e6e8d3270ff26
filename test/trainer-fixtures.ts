/**
 * Whole training steps against torch (test/fixtures/trainer.json, made by gen_trainer.py): builds
 * each case's model, optimizer and schedule from the fixture, loads torch's initial weights and
 * replays the same batches through the Trainer on a given device. Shared by the CPU and GPU tiers.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Device } from '../src/device.js';
import * as nn from '../src/nn/index.js';
import * as optim from '../src/optim/index.js';
import { type Scheduler, Trainer, type TrainerOptions } from '../src/train/trainer.js';
import { expectAllClose } from './harness.js';

type Options = Record<string, unknown>;

interface ScheduleSpec {
  schedule: string;
  options: Options;
}

export interface TrainerCase {
  name: string;
  model: 'tanh' | 'residual';
  loss: 'CrossEntropyLoss' | 'MSELoss';
  optimizer: string;
  options: Options;
  /** Parameter groups by torch name; absent: one group of all parameters. */
  groups?: { params: string[]; options: Options }[];
  trainer: Pick<TrainerOptions, 'clipGradNorm' | 'clipGradValue' | 'l1' | 'l2'>;
  scheduler?: ScheduleSpec;
  /** Data loss of each step (before its update), without penalties. */
  losses: number[];
  /** paramGroups[0].lr used by each step. */
  lrs: number[];
  /** All parameters after each step, concatenated in the model's order. */
  params: number[][];
}

interface ModelSpec {
  names: string[];
  shapes: number[][];
  init: Record<string, number[]>;
}

export interface TrainerFixture {
  steps: number;
  batch: number;
  features: number;
  models: Record<string, ModelSpec>;
  data: { x: number[]; classes: number[]; values: number[] }[];
  cases: TrainerCase[];
}

export const fixture: TrainerFixture = JSON.parse(readFileSync(new URL('./fixtures/trainer.json', import.meta.url), 'utf8'));

const MODELS: Record<TrainerCase['model'], () => nn.Module> = {
  tanh: () => new nn.Sequential(new nn.Linear(5, 7), new nn.Tanh(), new nn.Linear(7, 3)),
  residual: () =>
    new nn.Sequential(new nn.Linear(5, 7), new nn.ReLU(), new nn.Residual(new nn.Sequential(new nn.Linear(7, 7), new nn.ReLU())), new nn.Linear(7, 3)),
};

type OptimizerClass = new (params: never, options: never) => optim.Optimizer;
const OPTIMIZERS: Record<string, OptimizerClass> = {
  SGD: optim.SGD,
  Adagrad: optim.Adagrad,
  Adadelta: optim.Adadelta,
  RMSprop: optim.RMSprop,
  Adam: optim.Adam,
  AdamW: optim.AdamW,
  Adamax: optim.Adamax,
  NAdam: optim.NAdam,
};

function schedule(opt: optim.Optimizer, spec: ScheduleSpec): optim.lr.ClosedFormLR {
  const o = spec.options as never;
  switch (spec.schedule) {
    case 'StepLR':
      return new optim.lr.StepLR(opt, o);
    case 'LinearLR':
      return new optim.lr.LinearLR(opt, o);
    case 'CosineAnnealingLR':
      return new optim.lr.CosineAnnealingLR(opt, o);
    case 'OneCycleLR':
      return new optim.lr.OneCycleLR(opt, o);
    case 'SequentialLR': {
      const { schedulers, milestones } = spec.options as { schedulers: ScheduleSpec[]; milestones: number[] };
      return new optim.lr.SequentialLR(opt, { schedulers: schedulers.map((c) => schedule(opt, c)), milestones });
    }
    default:
      throw new Error(`trainer fixture: no schedule '${spec.schedule}'`);
  }
}

export interface Replay {
  losses: number[];
  /** paramGroups[0].lr of each step, from trainer.history. */
  lrs: number[];
  /** All parameters after each step, concatenated in the model's order. */
  params: Float32Array[];
}

/** Trains the case's model on `device` over the fixture's batches, from torch's initial weights. */
export async function replay(device: Device, c: TrainerCase): Promise<Replay> {
  const spec = fixture.models[c.model]!;
  const model = MODELS[c.model]();
  model.loadStateDict(spec.init);
  const named = new Map(model.namedParameters());
  const params = c.groups
    ? c.groups.map((g) => ({ params: g.params.map((n) => named.get(n)!), ...g.options }))
    : model.parameters();
  const optimizer = new OPTIMIZERS[c.optimizer]!(params as never, c.options as never);
  const scheduler: Scheduler | undefined = c.scheduler ? schedule(optimizer, c.scheduler) : undefined;
  const loss = c.loss === 'CrossEntropyLoss' ? new nn.CrossEntropyLoss() : new nn.MSELoss();
  const trainer = new Trainer(device, model, { loss, optimizer, scheduler, inputShape: [fixture.features], ...c.trainer });
  const batches = fixture.data.map((b) => ({
    x: Float32Array.from(b.x),
    y: c.loss === 'CrossEntropyLoss' ? Int32Array.from(b.classes) : Float32Array.from(b.values),
  }));
  const losses: Promise<number>[] = [];
  const after: Float32Array[] = [];
  for (let step = 0; step < fixture.steps; step++) {
    const { x, y } = batches[step % batches.length]!;
    losses.push(trainer.step(x, y).loss);
    const state = await model.stateDict();
    after.push(Float32Array.from(spec.names.flatMap((n) => [...state[n]!])));
  }
  const result = { losses: await Promise.all(losses), lrs: trainer.history.map((r) => r.lr), params: after };
  await trainer.dispose();
  return result;
}

/** Asserts that a replay follows torch's losses, rates and parameters at every step. */
export function expectMatchesTorch(c: TrainerCase, got: Replay, { rtol, atol }: { rtol: number; atol: number }): void {
  expect(got.params).toHaveLength(c.params.length);
  expectAllClose(got.lrs, c.lrs, { rtol: 1e-8, atol: 0, label: `${c.name}: lr per step` });
  expectAllClose(got.losses, c.losses, { rtol, atol, label: `${c.name}: losses` });
  const spec = fixture.models[c.model]!;
  c.params.forEach((expected, step) => {
    let at = 0;
    spec.names.forEach((name, i) => {
      const n = spec.shapes[i]!.reduce((a, b) => a * b, 1);
      const label = `${c.name}: '${name}' after step ${step + 1}`;
      expectAllClose(got.params[step]!.subarray(at, at + n), expected.slice(at, at + n), { rtol, atol, label });
      at += n;
    });
  });
}
