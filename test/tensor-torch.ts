/**
 * The public Tensor API and the small modules against torch 1.13 (test/fixtures/tensor.json, made
 * by gen_tensor.py), shared by the CPU and GPU tiers. Each fixture case is written again here
 * with Descent's API, under the same name; the runner feeds torch's inputs, drives backward with
 * loss = Σ_outputs sum(out * r) for torch's fixed r, and compares outputs and the gradients of
 * every input and module parameter with torch's.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { gradients } from '../src/graph/autodiff.js';
import { Parameter } from '../src/graph/parameter.js';
import { cat } from '../src/graph/ops/shape.js';
import { Graph, type Tensor } from '../src/graph/tensor.js';
import * as nn from '../src/nn/index.js';
import { expectAllClose } from './harness.js';
import { denseOutputs, runGraph } from './op-check.js';

const F = nn.functional;

export interface TorchTensor {
  readonly shape: number[];
  readonly data: number[];
  /** d loss / d this tensor; null where torch leaves it undefined (the loss does not reach it). */
  readonly grad: number[] | null;
}

export interface TorchOutput {
  readonly shape: number[];
  readonly dtype: 'f32' | 'i32';
  readonly data: number[];
  /** The weights of this output in the loss (null for integer outputs). */
  readonly r: number[] | null;
}

export interface TorchCase {
  readonly name: string;
  readonly inputs: TorchTensor[];
  readonly outputs: TorchOutput[];
  /** Parameters of the module under test, by torch name. */
  readonly state?: Record<string, TorchTensor>;
}

export const fixture: { torch: string; cases: TorchCase[] } = JSON.parse(
  readFileSync(new URL('./fixtures/tensor.json', import.meta.url), 'utf8'),
);

type Build = (x: Tensor[], c: TorchCase) => Tensor | readonly Tensor[];

export interface TorchCaseBuild {
  readonly build: Build;
  /** WebGPU's precision where it is looser than f32 rounding (sin and cos: 2^-11 absolute). */
  readonly gpu?: { readonly rtol?: number; readonly atol?: number };
}

/** Loads torch's parameter values of a module case into `module`, which is then returned. */
function loaded<M extends nn.Module>(module: M, c: TorchCase): M {
  const state = Object.fromEntries(Object.entries(c.state ?? {}).map(([k, v]) => [k, v.data]));
  module.loadStateDict(state);
  return module;
}

const b = (build: Build, gpu?: TorchCaseBuild['gpu']): TorchCaseBuild => ({ build, ...(gpu ? { gpu } : {}) });

/** The expressions of gen_tensor.py, keyed by the same names. */
export const BUILDS: Record<string, TorchCaseBuild> = {
  'add broadcasting [3,1,4] + [5,1]': b(([a, c]) => a!.add(c!)),
  'sub of a row vector and of a scalar': b(([a, c]) => [a!.sub(c!), a!.sub(1.5)]),
  'mul with a [1] tensor and a scalar': b(([a, c]) => [a!.mul(c!), a!.mul(-2.5)]),
  'div broadcasting both ways, and by a scalar': b(([a, c]) => [a!.div(c!), a!.div(3)]),
  'scalar chain': b(([a]) => a!.add(2).mul(-1.5).sub(0.25).div(4)),
  'pow of tensors with broadcasting': b(([a, c]) => a!.pow(c!)),
  'pow with scalar exponents': b(([a]) => [a!.pow(3), a!.pow(-1), a!.pow(0.5), a!.pow(2.5)]),
  'pow of negative bases with integer exponents': b(([a]) => [a!.pow(2), a!.pow(3), a!.pow(-2)]),
  'neg, exp, log, sqrt, rsqrt, abs': b(([p, a]) => [p!.neg(), p!.exp(), p!.log(), p!.sqrt(), p!.rsqrt(), a!.abs()]),
  'sin and cos': b(([a]) => [a!.sin(), a!.cos()], { atol: 2e-3 }),
  'clamp with both bounds, min only, max only': b(([a]) => [a!.clamp(-0.4, 0.5), a!.clamp(-0.2), a!.clamp(undefined, 0.3)]),
  'maximum and minimum with broadcasting': b(([a, c]) => [a!.maximum(c!), c!.minimum(a!)]),
  'comparisons through where': b(([a, c]) => [
    a!.where(c!.gt(0), c!.mul(2)),
    a!.where(a!.lt(0.2), 0.5),
    a!.mul(3).where(a!.ge(c!), c!),
    F.where(a!.le(-0.1), -1, a!),
  ]),
  'maskedFill with masks from comparisons': b(([a, c]) => [a!.maskedFill(c!.ge(0.3), -2), a!.maskedFill(a!.ne(a!.clamp(undefined, 0.5)), 0.5)]),
  'activations as methods': b(([a]) => [
    a!.relu(),
    a!.leakyRelu(0.2),
    a!.leakyRelu(),
    a!.sigmoid(),
    a!.tanh(),
    a!.gelu(),
    a!.silu(),
    a!.softplus(),
    a!.softplus(2, 5),
  ]),
  'subgradients at kinks and ties': b(([a, c]) => [
    a!.relu(),
    a!.abs(),
    a!.clamp(-1, 0.5),
    a!.leakyRelu(0.2),
    a!.maximum(c!),
    a!.minimum(c!),
    a!.softplus(2, 5),
  ]),

  'matmul of matrices': b(([a, c]) => a!.matmul(c!)),
  'matmul of transposed operands': b(([a, c]) => a!.transpose(0, 1).matmul(c!.t())),
  'matmul with broadcast batch dims [2,1,3,4] @ [5,4,2]': b(([a, c]) => a!.matmul(c!)),
  'matmul of a batch by a matrix, and of a permuted batch': b(([a, m, c]) => [a!.matmul(m!), a!.permute(1, 0, 2).matmul(c!)]),
  'matmul with vectors': b(([v, m, c]) => [v!.matmul(v!), m!.matmul(v!), v!.matmul(c!), c!.transpose(1, 2).matmul(v!)]),
  'attention scores q @ k^T': b(([q, k]) => q!.matmul(k!.transpose(-1, -2)).mul(0.5)),

  'sum and mean over one dim, several, all': b(([x]) => [x!.sum(1), x!.sum([0, 2], true), x!.sum(), x!.mean(-1, true), x!.mean([0, 1]), x!.mean()]),
  'max and min over one dim, several, all': b(([x]) => [x!.max(1), x!.min(-1, true), x!.max([0, 2]), x!.min([0, 1], true), x!.max(), x!.min()]),
  'max and min with ties': b(([x]) => [x!.max(1), x!.min(1), x!.max()]),
  'var unbiased and biased, keepdim': b(([x]) => [
    x!.var(1),
    x!.var(-1, { unbiased: false, keepdim: true }),
    x!.var([0, 2]),
    x!.var([0, 1], { unbiased: false }),
    x!.var(),
    x!.var(undefined, { unbiased: false }),
  ]),
  'softmax and logSoftmax over a middle dim': b(([x]) => [x!.softmax(1), x!.logSoftmax(1)]),
  'argmax beside max': b(([x]) => [x!.argmax(1), x!.argmax(0, true), x!.argmax(), x!.max(1)]),

  'transpose, permute, reshape of a permute': b(([x, m]) => [
    x!.transpose(0, 2).mul(2),
    x!.permute(2, 0, 1).reshape(4, 6),
    x!.permute(-1, 0, 1).add(1),
    x!.transpose(1, 2).matmul(m!),
  ]),
  expand: b(([x, v]) => [x!.expand(2, 3, 4).mul(x!.expand(-1, 3, -1)), v!.expand(5, 3).exp()]),
  'narrow and slice': b(([x, y]) => [
    x!.narrow(1, 1, 2).add(x!.slice(1, 0, -2)),
    x!.slice(0, 1),
    y!.transpose(0, 1).narrow(0, 1, 3).exp(),
    x!.slice(1, -3, -1).mul(2),
  ]),
  'cat of tensors and of views': b(([a, c, d]) => [
    cat([cat([a!, c!], 0), cat([c!, a!], 0)], 1),
    cat([d!.transpose(0, 1), d!.t().mul(2), a!.narrow(1, 1, 2)], 1),
  ]),
  'split, chunk and unbind': b(([x]) => {
    const [p, q] = x!.split([2, 3], 1);
    const [r] = x!.chunk(2, 0);
    const rows = x!.unbind(0);
    return [p!.mul(3), q!.exp(), r!, rows[1]!.mul(rows[0]!), x!.chunk(3, 1)[2]!.add(1)];
  }),
  'squeeze, unsqueeze, flatten': b(([x]) => [
    x!.squeeze(),
    x!.squeeze(1).mul(2),
    x!.unsqueeze(0).unsqueeze(-1).add(1),
    x!.flatten(),
    x!.flatten(1).mul(x!.flatten(1)),
  ]),

  'nn.SiLU and nn.Softplus(beta=2, threshold=5)': b(([x]) => [new nn.SiLU().forward(x!), new nn.Softplus(2, 5).forward(x!)]),
  'nn.Softmax(1) and nn.LogSoftmax(-1)': b(([x]) => [new nn.Softmax(1).forward(x!), new nn.LogSoftmax(-1).forward(x!)]),
  'nn.Flatten(1, 2)': b(([x]) => new nn.Flatten(1, 2).forward(x!).mul(1.5)),
  'nn.Linear(4, 3) on a rank-3 input': b(([x], c) => loaded(new nn.Linear(4, 3), c).forward(x!)),
};

export interface TorchCaseRun {
  readonly outputs: { readonly shape: readonly number[]; readonly values: Float32Array | Int32Array }[];
  /** Gradient per input (null where the loss does not reach it). */
  readonly grads: (Float32Array | null)[];
  /** Gradients of the parameters of modules built by the case, by name. */
  readonly state: Record<string, Float32Array | null>;
}

/**
 * Builds case `c` on fresh inputs (parameters holding torch's values), adds the loss
 * Σ sum(out * r) with tensor ops, differentiates it with respect to every input and module
 * parameter, and runs the compiled graph once on `backend` with poisoned scratch memory.
 */
export async function runTorchCase(backend: Backend, c: TorchCase, build: Build): Promise<TorchCaseRun> {
  const g = new Graph();
  const inputParams = c.inputs.map((inp, i) => new Parameter(Float32Array.from(inp.data), inp.shape, `in${i}`));
  const xs = inputParams.map((p) => g.param(p));
  const built = build(xs, c);
  const outs = (Array.isArray(built) ? built : [built]) as Tensor[];
  if (outs.length !== c.outputs.length) throw new Error(`${c.name}: ${outs.length} outputs built, torch has ${c.outputs.length}`);
  const dense = denseOutputs(g, outs, 'torch-output');

  const feeds: Record<string, Float32Array> = {};
  let loss: Tensor | null = null;
  for (const [i, t] of outs.entries()) {
    const r = c.outputs[i]!.r;
    if (r === null || t.dtype !== 'f32') continue;
    feeds[`r${i}`] = Float32Array.from(r);
    const term = t.mul(g.input(`r${i}`, t.shape)).sum();
    loss = loss ? loss.add(term) : term;
  }
  const moduleParams = [...g.params.keys()].filter((p) => !inputParams.includes(p));
  const wrt = [...inputParams, ...moduleParams].map((p) => g.param(p));
  const grads = loss ? gradients(g, loss, wrt) : wrt.map(() => null);
  const gradTensors = grads.filter((d): d is Tensor => d !== null);
  const { values } = await runGraph(backend, g, feeds, [...dense, ...gradTensors], c.name);
  let next = dense.length;
  const gradValues = grads.map((d) => (d ? (values[next++] as Float32Array) : null));
  const state: Record<string, Float32Array | null> = {};
  moduleParams.forEach((p, k) => (state[p.name] = gradValues[inputParams.length + k]!));
  return {
    outputs: dense.map((t, i) => ({ shape: t.shape, values: values[i]! })),
    grads: gradValues.slice(0, inputParams.length),
    state,
  };
}

/** A gradient Descent leaves out (null) must be zero in torch, and the other way round. */
function expectGradClose(actual: Float32Array | null, expected: number[] | null, n: number, tol: { rtol: number; atol: number }, label: string): void {
  expectAllClose(actual ?? new Float32Array(n), expected ?? new Array<number>(n).fill(0), { ...tol, label });
}

/** Case `c` on `backend` reproduces torch's outputs and gradients within `tol`. */
export async function expectMatchesTorch(backend: Backend, c: TorchCase, tol: { rtol: number; atol: number }): Promise<void> {
  const entry = BUILDS[c.name];
  if (!entry) throw new Error(`no Descent expression for the fixture case '${c.name}'`);
  const run = await runTorchCase(backend, c, entry.build);
  c.outputs.forEach((o, i) => {
    const got = run.outputs[i]!;
    expect([...got.shape], `shape of output ${i}`).toEqual(o.shape);
    if (o.dtype === 'i32') expect([...got.values], `output ${i} (indices)`).toEqual(o.data);
    else expectAllClose(got.values, o.data, { ...tol, label: `output ${i}` });
  });
  c.inputs.forEach((inp, i) => expectGradClose(run.grads[i]!, inp.grad, inp.data.length, tol, `gradient of input ${i}`));
  const names = Object.keys(c.state ?? {});
  expect(Object.keys(run.state).sort(), 'module parameters').toEqual([...names].sort());
  for (const name of names) expectGradClose(run.state[name]!, c.state![name]!.grad, c.state![name]!.data.length, tol, `gradient of ${name}`);
}
