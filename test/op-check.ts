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
import type { Backend } from '../src/backend/backend.js';
import type { BufferView, DeviceBuffer } from '../src/backend/kernel.js';
import { gradients } from '../src/graph/autodiff.js';
import { compileGraph } from '../src/graph/compile.js';
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
  const built = build(...tensors);
  const outs = (Array.isArray(built) ? built : [built]) as Tensor[];
  const dense = outs.map((t) => (t.isDense && t.node.op.aliases === undefined ? t : g.apply(CONTIGUOUS, [t], {}, 'check-output')[0]!));
  const floats = dense.filter((t) => t.dtype === 'f32');
  let lossT: Tensor | null = null;
  if (floats.length > 0) {
    const joined = floats.length === 1 ? floats[0]! : cat(floats.map((t) => reshape(t, [t.numel])), 0);
    const target = g.input('target', joined.shape);
    lossT = g.apply(MSE, [joined, target], {}, 'check-loss')[0]!;
  }
  const wrt = params.map((p) => (p ? g.param(p) : null));
  const grads = lossT ? gradients(g, lossT, wrt.filter((t): t is Tensor => t !== null)) : [];

  const made: DeviceBuffer[] = [];
  const buffer = (data: Float32Array | Int32Array, label: string): BufferView => {
    const b = backend.createBuffer(Math.max(256, data.byteLength), label);
    backend.write(b, data);
    made.push(b);
    return { buffer: b, offset: 0, length: data.length };
  };
  const bound = new Map<Tensor, BufferView>();
  tensors.forEach((t, i) => bound.set(t, buffer(params[i] ? Float32Array.from(values[i]!) : values[i]!, `in${i}`)));
  const target = g.inputs.get('target');
  if (target) bound.set(target, buffer(randomArray(target.numel, -1, 1, targetSeed), 'target'));
  const info = g.inputs.get(STEP_INFO);
  if (info) bound.set(info, buffer(new Int32Array([seed, step, 0, 0]), 'step_info'));
  for (const [b, t] of g.buffers) bound.set(t, buffer(b.data.slice(), b.name));
  // Parameters of modules called inside `build` (not inputs of the check): their current values.
  for (const [p, t] of g.params) if (!bound.has(t)) bound.set(t, buffer(p.data.slice(), p.name));
  const gradTensors = grads.filter((d): d is Tensor => d !== null);
  const outputs = [...dense, ...(lossT ? [lossT] : []), ...gradTensors];
  const compiled = compileGraph(backend, { graph: g, bound, outputs, label: 'op-check', poison: true });
  const program = backend.compile(compiled.launches, 'op-check');
  try {
    backend.run(program);
    await backend.idle();
    await backend.health();
    const read = async (t: Tensor): Promise<Float32Array | Int32Array> => {
      const v = compiled.views.get(t) ?? bound.get(t)!;
      const bytes = await backend.read(v.buffer, v.offset * 4, t.numel * 4);
      return t.dtype === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes);
    };
    const outValues = await Promise.all(dense.map(read));
    const loss = lossT ? (await read(lossT))[0]! : NaN;
    let k = 0;
    const gradValues: (Float32Array | null)[] = [];
    for (const p of params) {
      if (!p) {
        gradValues.push(null);
        continue;
      }
      const d = grads[k++];
      gradValues.push(d ? ((await read(d)) as Float32Array) : null);
    }
    return { loss, outputs: outValues, grads: gradValues, launches: compiled.launches.length };
  } finally {
    program.dispose();
    compiled.dispose();
    for (const b of made) backend.destroyBuffer(b);
  }
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
