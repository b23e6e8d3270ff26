/**
 * A small stand-in for the trainer, for the optimizer tests, and the torch fixture they replay
 * (test/fixtures/optim.json, made by gen_optim.py). `drive` lays the optimizer's parameters
 * out in flat `params`/`grads` buffers (groups back to back, each parameter at a 64-aligned
 * offset, padding zero), plans the update once, compiles once, then per step reads the
 * parameters back, computes the loss gradient on the host, writes it, calls beforeStep() and runs
 * the planned launches. Uses only the public optimizer API.
 */
import { readFileSync } from 'node:fs';
import type { Backend } from '../src/backend/backend.js';
import type { Launch } from '../src/backend/kernel.js';
import { WebGpuBackend } from '../src/backend/webgpu/webgpu-backend.js';
import { Parameter } from '../src/graph/parameter.js';
import {
  Adadelta,
  Adagrad,
  Adam,
  Adamax,
  AdamW,
  Lion,
  NAdam,
  type Optimizer,
  planUpdate,
  RMSprop,
  SGD,
  type UpdateOptions,
} from '../src/optim/index.js';

export interface DriveOptions {
  steps: number;
  /** Host gradient of the loss at the current values, one array per parameter (in group order). */
  gradient(values: readonly Float32Array[]): Float32Array[];
  update?: UpdateOptions;
  /** Called before step s (1-based), as a scheduler would set paramGroups[i].lr. */
  beforeStep?(step: number, optimizer: Optimizer): void;
  /** Flat offset of the first group (a multiple of 64), so that non-zero offsets are exercised. */
  base?: number;
}

export interface Drive {
  /** All parameters' values after each step, concatenated in group order. */
  readonly trajectory: Float32Array[];
  /** The plan's stats buffer after each step. */
  readonly stats: Float32Array[];
  readonly launches: readonly Launch[];
  /** Launches in the compiled program. */
  readonly launchCount: number;
  /** Largest |value| seen in the padding of the flat parameter buffer (must stay 0). */
  readonly paddingMax: number;
}

const ALIGN = 64;
const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Runs `steps` optimizer steps from the parameters' current `data`, which it updates at the end. */
export async function drive(backend: Backend, optimizer: Optimizer, options: DriveOptions): Promise<Drive> {
  const params: Parameter[] = optimizer.paramGroups.flatMap((g) => g.params);
  const offsets: number[] = [];
  let at = options.base ?? 0;
  const groups = optimizer.paramGroups.map((group) => {
    const start = at;
    for (const p of group.params) {
      offsets.push(align(at));
      at = align(at) + p.numel;
    }
    at = align(at);
    return { offset: start, length: at - start };
  });
  const total = at + ALIGN;
  const flatParams = backend.createBuffer(total * 4, 'driver/params');
  const flatGrads = backend.createBuffer(total * 4, 'driver/grads');
  const host = new Float32Array(total);
  params.forEach((p, j) => host.set(p.data, offsets[j]));
  backend.write(flatParams, host);

  const plan = planUpdate(backend, optimizer, { params: flatParams, grads: flatGrads, groups }, options.update ?? {});
  const program = backend.compile(plan.launches, 'driver/step');
  const inParams = new Uint8Array(total);
  params.forEach((p, j) => inParams.fill(1, offsets[j], offsets[j]! + p.numel));

  const trajectory: Float32Array[] = [];
  const stats: Float32Array[] = [];
  let paddingMax = 0;
  let flat = host;
  const valuesOf = (data: Float32Array) => params.map((p, j) => data.slice(offsets[j], offsets[j]! + p.numel));
  for (let step = 1; step <= options.steps; step++) {
    const grads = options.gradient(valuesOf(flat));
    const flatGrad = new Float32Array(total);
    grads.forEach((g, j) => flatGrad.set(g, offsets[j]));
    backend.write(flatGrads, flatGrad);
    options.beforeStep?.(step, optimizer);
    plan.beforeStep();
    backend.run(program);
    flat = new Float32Array(await backend.read(flatParams));
    stats.push(new Float32Array(await backend.read(plan.stats, 0, 16)));
    trajectory.push(Float32Array.from(valuesOf(flat).flatMap((v) => [...v])));
    for (let i = 0; i < total; i++) if (!inParams[i]) paddingMax = Math.max(paddingMax, Math.abs(flat[i]!));
  }
  if (backend instanceof WebGpuBackend) await backend.health();
  params.forEach((p, j) => (p.data = flat.slice(offsets[j], offsets[j]! + p.numel)));
  const result = { trajectory, stats, launches: plan.launches, launchCount: program.launchCount, paddingMax };
  program.dispose();
  plan.dispose();
  backend.destroyBuffer(flatParams);
  backend.destroyBuffer(flatGrads);
  return result;
}

export interface FixtureCase {
  name: string;
  optimizer: string;
  defaults: Record<string, unknown>;
  groups: { params: number[]; options: Record<string, unknown> }[];
  update: UpdateOptions;
  lrDecay?: number;
  /** All parameters after each step, in parameter order (groups list them in order). */
  trajectory: number[][];
}

export interface OptimFixture {
  steps: number;
  shapes: number[][];
  init: number[][];
  a: number[][];
  b: number[][];
  cases: FixtureCase[];
}

export const fixture: OptimFixture = JSON.parse(readFileSync(new URL('./fixtures/optim.json', import.meta.url), 'utf8'));

type OptimizerClass = new (params: never, options: never) => Optimizer;
const CLASSES: Record<string, OptimizerClass> = { SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW, Adamax, NAdam, Lion };

/** The fixture's parameters p0, p1, p2 at their initial values. */
export function freshParams(): Parameter[] {
  return fixture.shapes.map((shape, i) => new Parameter(Float32Array.from(fixture.init[i]!), shape, `p${i}`));
}

/** Gradient of sum a*w^2/2 + b*sin(w) at the float32 values, in float64, rounded once. */
export function lossGradient(params: readonly Parameter[]): (values: readonly Float32Array[]) => Float32Array[] {
  const index = params.map((p) => Number(p.name.slice(1)));
  return (values) =>
    values.map((w, j) => {
      const a = fixture.a[index[j]!]!;
      const b = fixture.b[index[j]!]!;
      return Float32Array.from(w, (x, i) => a[i]! * x + b[i]! * Math.cos(x));
    });
}

export function buildCase(c: FixtureCase, params: Parameter[]): Optimizer {
  const groups = c.groups.map((g) => ({ params: g.params.map((i) => params[i]!), ...g.options }));
  return new CLASSES[c.optimizer]!(groups as never, c.defaults as never);
}

/** The fixture's scheduler: the lr of step s is the group's initial lr times lrDecay^(s-1). */
export function schedule(c: FixtureCase, optimizer: Optimizer): ((step: number, o: Optimizer) => void) | undefined {
  if (c.lrDecay === undefined) return undefined;
  const base = optimizer.paramGroups.map((g) => g.lr);
  return (step, o) => o.paramGroups.forEach((g, i) => (g.lr = base[i]! * c.lrDecay! ** (step - 1)));
}

/** Replays a fixture case from the initial values on `backend`. */
export async function driveCase(backend: Backend, c: FixtureCase, steps = fixture.steps): Promise<Drive> {
  const params = freshParams();
  const optimizer = buildCase(c, params);
  return drive(backend, optimizer, {
    steps,
    gradient: lossGradient(optimizer.paramGroups.flatMap((g) => g.params)),
    update: c.update,
    beforeStep: schedule(c, optimizer),
    base: 64,
  });
}
