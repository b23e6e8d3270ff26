/**
 * Checks for any graph function of tensors: its values and gradients through the compiled graph
 * on a backend, a finite-difference gradient check on the CPU twins, and GPU/CPU parity with
 * poisoned scratch memory.
 *
 * ```ts
 * const f = (a: Tensor, b: Tensor) => a.mul(b).sum(-1);
 * await expectGradientsMatch(f, [{ shape: [3, 4] }, { shape: [4] }]);   // CPU tier
 * await expectBackendsAgree(await gpuBackend(), f, [{ shape: [33, 7] }, { shape: [7] }]);   // GPU tier
 * ```
 *
 * Differentiable inputs are traced as parameters; the scalar driving backward is the sum over
 * f32 outputs of the mean squared error against fixed random targets, so every output element
 * gets a distinct, non-trivial gradient.
 */
import { expect } from 'vitest';
import type { Backend, Program } from '../src/backend/backend.js';
import type { BufferView, DeviceBuffer } from '../src/backend/kernel.js';
import { gradients } from '../src/graph/autodiff.js';
import { type CompiledGraph, compileGraph } from '../src/graph/compile.js';
import { Parameter } from '../src/graph/parameter.js';
import { type DType, Graph, STEP_INFO, type Tensor } from '../src/graph/tensor.js';
import { MSE } from '../src/graph/ops/loss.js';
import { cat, CONTIGUOUS, reshape } from '../src/graph/ops/shape.js';
import { cpuBackend, expectAllClose, randomArray, rng } from './harness.js';

export interface OpInput {
  readonly shape: readonly number[];
  readonly dtype?: DType;
  /** Values; by default uniform in [lo, hi) for f32 (-1, 1) and integers in [lo, hi) for i32 (0, 4). */
  readonly data?: Float32Array | Int32Array;
  readonly lo?: number;
  readonly hi?: number;
  /** Differentiate with respect to this input (default: f32 inputs). */
  readonly grad?: boolean;
}

export type OpBuild = (...inputs: Tensor[]) => Tensor | readonly Tensor[];

export interface OpRun {
  readonly loss: number;
  readonly outputs: (Float32Array | Int32Array)[];
  /** Gradient per input (null for inputs not differentiated or that the loss ignores). */
  readonly grads: (Float32Array | null)[];
  readonly launches: number;
}

export interface OpRunOptions {
  /** Graph mode (dropout, batch statistics). Default true. */
  readonly training?: boolean;
  readonly seed?: number;
  readonly step?: number;
  /** Seed of the random targets of the loss. */
  readonly targetSeed?: number;
}

/** Concrete input values for `inputs` (fresh random ones unless given). */
export function inputValues(inputs: readonly OpInput[], seed = (Math.random() * 2 ** 31) | 0): (Float32Array | Int32Array)[] {
  return inputs.map((inp, i) => {
    if (inp.data) return inp.data;
    const n = inp.shape.reduce((a, b) => a * b, 1);
    if (inp.dtype === 'i32') {
      const next = rng(seed + 97 * i);
      const lo = inp.lo ?? 0;
      const hi = inp.hi ?? 4;
      return Int32Array.from({ length: n }, () => lo + Math.floor(next() * (hi - lo)));
    }
    return randomArray(n, inp.lo ?? -1, inp.hi ?? 1, seed + 97 * i);
  });
}

/** The values of a tensor: f32 or i32 by its dtype. */
export type Values = Float32Array | Int32Array;

export interface GraphRun {
  /** The values of each requested output, in order. */
  readonly values: Values[];
  readonly launches: number;
}

/** The tensors a graph function returned, each dense and of its own (a copy where it is a view). */
export function denseOutputs(g: Graph, built: Tensor | readonly Tensor[], label: string): Tensor[] {
  const outs = (Array.isArray(built) ? built : [built]) as Tensor[];
  return outs.map((t) => (t.isDense && t.node.op.aliases === undefined ? t : g.apply(CONTIGUOUS, [t], {}, label)[0]!));
}

/**
 * Compiles `outputs` of `g` with poisoned scratch memory and runs it once on `backend`: every
 * parameter and module buffer starts from its current values, each graph input from `feeds` under
 * its name (an output may be any of these). Every device buffer is freed before it returns.
 */
export async function runGraph(
  backend: Backend,
  g: Graph,
  feeds: Readonly<Record<string, Values>>,
  outputs: readonly Tensor[],
  label: string,
): Promise<GraphRun> {
  const made: DeviceBuffer[] = [];
  const bound = new Map<Tensor, BufferView>();
  const bind = (t: Tensor, data: Values, name: string): void => {
    const b = backend.createBuffer(Math.max(256, data.byteLength), name);
    made.push(b);
    backend.write(b, data);
    bound.set(t, { buffer: b, offset: 0, length: data.length });
  };
  let compiled: CompiledGraph | null = null;
  let program: Program | null = null;
  try {
    for (const [p, t] of g.params) bind(t, p.data, p.name);
    for (const [b, t] of g.buffers) bind(t, b.data, b.name);
    for (const [name, t] of g.inputs) if (feeds[name]) bind(t, feeds[name], name);
    compiled = compileGraph(backend, { graph: g, bound, outputs, label, poison: true });
    program = backend.compile(compiled.launches, label);
    backend.run(program);
    await backend.idle();
    await backend.health();
    const views = compiled.views;
    const values = await Promise.all(
      outputs.map(async (t) => {
        const v = views.get(t) ?? bound.get(t)!;
        const bytes = await backend.read(v.buffer, v.offset * 4, t.numel * 4);
        return t.dtype === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes);
      }),
    );
    return { values, launches: compiled.launches.length };
  } finally {
    program?.dispose();
    compiled?.dispose();
    for (const b of made) backend.destroyBuffer(b);
  }
}

/** Traces `build` on `inputs` with `values`, then runs forward and backward once on `backend`. */
export async function runOp(
  backend: Backend,
  build: OpBuild,
  inputs: readonly OpInput[],
  values: readonly (Float32Array | Int32Array)[],
  { training = true, seed = 0, step = 0, targetSeed = 1234 }: OpRunOptions = {},
): Promise<OpRun> {
  const g = new Graph();
  g.training = training;
  const params: (Parameter | null)[] = [];
  const tensors = inputs.map((inp, i) => {
    const dtype = inp.dtype ?? 'f32';
    const wantsGrad = inp.grad ?? dtype === 'f32';
    if (wantsGrad) {
      const p = new Parameter(Float32Array.from(values[i]!), inp.shape, `in${i}`);
      params.push(p);
      return g.param(p);
    }
    params.push(null);
    return g.input(`in${i}`, inp.shape, dtype);
  });
  const dense = denseOutputs(g, build(...tensors), 'check-output');
  const floats = dense.filter((t) => t.dtype === 'f32');
  let lossT: Tensor | null = null;
  if (floats.length > 0) {
    const joined = floats.length === 1 ? floats[0]! : cat(floats.map((t) => reshape(t, [t.numel])), 0);
    const target = g.input('target', joined.shape);
    lossT = g.apply(MSE, [joined, target], {}, 'check-loss')[0]!;
  }
  const wrt = params.map((p) => (p ? g.param(p) : null));
  const grads = lossT ? gradients(g, lossT, wrt.filter((t): t is Tensor => t !== null)) : [];

  const feeds: Record<string, Values> = { [STEP_INFO]: new Int32Array([seed, step, 0, 0]) };
  inputs.forEach((_, i) => {
    if (!params[i]) feeds[`in${i}`] = values[i]!;
  });
  const target = g.inputs.get('target');
  if (target) feeds.target = randomArray(target.numel, -1, 1, targetSeed);
  const gradTensors = grads.filter((d): d is Tensor => d !== null);
  const outputs = [...dense, ...(lossT ? [lossT] : []), ...gradTensors];
  const { values: got, launches } = await runGraph(backend, g, feeds, outputs, 'op-check');
  const loss = lossT ? got[dense.length]![0]! : NaN;
  let next = dense.length + (lossT ? 1 : 0);
  let k = 0;
  const grad = params.map((p) => (p && grads[k++] ? (got[next++] as Float32Array) : null));
  return { loss, outputs: got.slice(0, dense.length), grads: grad, launches };
}

/**
 * Analytic gradients (CPU twins) against central finite differences of the loss, element by
 * element. Keep inputs small: each element costs two forward passes.
 */
export async function expectGradientsMatch(
  build: OpBuild,
  inputs: readonly OpInput[],
  { h = 1e-2, rtol = 2e-2, atol = 2e-3, seed, ...opts }: OpRunOptions & { h?: number; rtol?: number; atol?: number } = {},
): Promise<OpRun> {
  const backend = cpuBackend();
  const values = inputValues(inputs, seed);
  const base = await runOp(backend, build, inputs, values, opts);
  expect(Number.isFinite(base.loss), 'loss is finite').toBe(true);
  for (let i = 0; i < inputs.length; i++) {
    const analytic = base.grads[i];
    if (!analytic) continue;
    const numeric = new Float32Array(analytic.length);
    const v = values[i] as Float32Array;
    for (let j = 0; j < v.length; j++) {
      const original = v[j]!;
      const shifted = values.map((x) => x);
      const up = Float32Array.from(v);
      up[j] = original + h;
      shifted[i] = up;
      const lUp = (await runOp(backend, build, inputs, shifted, opts)).loss;
      const down = Float32Array.from(v);
      down[j] = original - h;
      shifted[i] = down;
      const lDown = (await runOp(backend, build, inputs, shifted, opts)).loss;
      numeric[j] = (lUp - lDown) / (2 * h);
    }
    expectAllClose(analytic, numeric, { rtol, atol, label: `d loss / d input ${i}` });
  }
  return base;
}

/** The same graph on `backend` and on the CPU twins, on fresh random inputs: outputs and gradients agree. */
export async function expectBackendsAgree(
  backend: Backend,
  build: OpBuild,
  inputs: readonly OpInput[],
  { rtol = 1e-4, atol = 1e-5, seed, ...opts }: OpRunOptions & { rtol?: number; atol?: number } = {},
): Promise<{ device: OpRun; cpu: OpRun }> {
  const values = inputValues(inputs, seed);
  const cpu = await runOp(cpuBackend(), build, inputs, values, opts);
  const device = await runOp(backend, build, inputs, values, opts);
  cpu.outputs.forEach((o, i) => expectAllClose(device.outputs[i]!, o, { rtol, atol, label: `output ${i}` }));
  cpu.grads.forEach((d, i) => {
    if (d) expectAllClose(device.grads[i]!, d, { rtol, atol, label: `gradient of input ${i}` });
    else expect(device.grads[i], `gradient of input ${i}`).toBeNull();
  });
  return { device, cpu };
}
