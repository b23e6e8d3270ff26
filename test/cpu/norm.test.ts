import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { BufferView, Launch, TypedArray } from '../../src/backend/kernel.js';
import { createDevice } from '../../src/device.js';
import { gradients } from '../../src/graph/autodiff.js';
import { compileGraph } from '../../src/graph/compile.js';
import { MSE } from '../../src/graph/ops/loss.js';
import { batchNorm, layerNorm } from '../../src/graph/ops/norm.js';
import { ModuleBuffer, Parameter } from '../../src/graph/parameter.js';
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import {
  batchNormBackwardInputLaunch,
  batchNormBackwardReduceLaunch,
  batchNormForwardLaunch,
  batchNormRunningLaunches,
  batchNormStatsLaunch,
} from '../../src/kernels/batch-norm.js';
import { layerNormBackwardInputLaunch, layerNormBackwardParamsLaunch, layerNormForwardLaunch } from '../../src/kernels/layer-norm.js';
import type { Module } from '../../src/nn/module.js';
import { BatchNorm1d, BatchNorm2d, LayerNorm } from '../../src/nn/norm.js';
import { Sequential } from '../../src/nn/container.js';
import { MSELoss } from '../../src/nn/loss.js';
import { SGD } from '../../src/optim/sgd.js';
import { FlatBuffers } from '../../src/train/flat-parameters.js';
import { Trainer } from '../../src/train/trainer.js';
import { cpuBackend, expectAllClose, randomArray, runKernel } from '../harness.js';
import { expectGradientsMatch } from '../op-check.js';

// ---------------------------------------------------------------------------------------------
// Independent float64 references.

interface Dims {
  n: number;
  c: number;
  s: number;
}

const at = (d: Dims, n: number, c: number, s: number) => (n * d.c + c) * d.s + s;

function refStats(x: ArrayLike<number>, d: Dims): { mean: number[]; variance: number[] } {
  const mean: number[] = [];
  const variance: number[] = [];
  for (let c = 0; c < d.c; c++) {
    let sum = 0;
    for (let n = 0; n < d.n; n++) for (let s = 0; s < d.s; s++) sum += x[at(d, n, c, s)]!;
    const mu = sum / (d.n * d.s);
    let sq = 0;
    for (let n = 0; n < d.n; n++) for (let s = 0; s < d.s; s++) sq += (x[at(d, n, c, s)]! - mu) ** 2;
    mean.push(mu);
    variance.push(sq / (d.n * d.s));
  }
  return { mean, variance };
}

function refNormalize(x: ArrayLike<number>, d: Dims, mean: ArrayLike<number>, variance: ArrayLike<number>, eps: number, w?: ArrayLike<number>, b?: ArrayLike<number>): number[] {
  const y = new Array<number>(x.length);
  for (let n = 0; n < d.n; n++) {
    for (let c = 0; c < d.c; c++) {
      for (let s = 0; s < d.s; s++) {
        const i = at(d, n, c, s);
        y[i] = ((x[i]! - mean[c]!) / Math.sqrt(variance[c]! + eps)) * (w ? w[c]! : 1) + (b ? b[c]! : 0);
      }
    }
  }
  return y;
}

/** dx, dγ, dβ of batch norm; with batch statistics the mean and variance depend on x. */
function refBatchNormBackward(x: ArrayLike<number>, dy: ArrayLike<number>, d: Dims, mean: ArrayLike<number>, variance: ArrayLike<number>, eps: number, w: ArrayLike<number> | null, batchStats: boolean) {
  const m = d.n * d.s;
  const dx = new Array<number>(x.length);
  const dw: number[] = [];
  const db: number[] = [];
  for (let c = 0; c < d.c; c++) {
    const rstd = 1 / Math.sqrt(variance[c]! + eps);
    let sdy = 0;
    let sdyx = 0;
    for (let n = 0; n < d.n; n++) {
      for (let s = 0; s < d.s; s++) {
        const i = at(d, n, c, s);
        sdy += dy[i]!;
        sdyx += dy[i]! * (x[i]! - mean[c]!) * rstd;
      }
    }
    dw.push(sdyx);
    db.push(sdy);
    const g = w ? w[c]! : 1;
    for (let n = 0; n < d.n; n++) {
      for (let s = 0; s < d.s; s++) {
        const i = at(d, n, c, s);
        const xhat = (x[i]! - mean[c]!) * rstd;
        dx[i] = batchStats ? g * rstd * (dy[i]! - sdy / m - (xhat * sdyx) / m) : g * rstd * dy[i]!;
      }
    }
  }
  return { dx, dw, db };
}

function refLayerNorm(x: ArrayLike<number>, rows: number, cols: number, eps: number, w?: ArrayLike<number>, b?: ArrayLike<number>) {
  const y: number[] = [];
  const mean: number[] = [];
  const rstd: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: cols }, (_, j) => x[r * cols + j]!);
    const mu = row.reduce((p, q) => p + q, 0) / cols;
    const v = row.reduce((p, q) => p + (q - mu) ** 2, 0) / cols;
    const inv = 1 / Math.sqrt(v + eps);
    mean.push(mu);
    rstd.push(inv);
    row.forEach((q, j) => y.push((q - mu) * inv * (w ? w[j]! : 1) + (b ? b[j]! : 0)));
  }
  return { y, mean, rstd };
}

function refLayerNormBackward(x: ArrayLike<number>, dy: ArrayLike<number>, rows: number, cols: number, eps: number, w: ArrayLike<number> | null) {
  const { mean, rstd } = refLayerNorm(x, rows, cols, eps);
  const dx: number[] = [];
  const dw = new Array<number>(cols).fill(0);
  const db = new Array<number>(cols).fill(0);
  for (let r = 0; r < rows; r++) {
    const xhat = Array.from({ length: cols }, (_, j) => (x[r * cols + j]! - mean[r]!) * rstd[r]!);
    const g = Array.from({ length: cols }, (_, j) => dy[r * cols + j]! * (w ? w[j]! : 1));
    const mg = g.reduce((p, q) => p + q, 0) / cols;
    const mgx = g.reduce((p, q, j) => p + q * xhat[j]!, 0) / cols;
    for (let j = 0; j < cols; j++) {
      dx.push(rstd[r]! * (g[j]! - mg - xhat[j]! * mgx));
      dw[j] += dy[r * cols + j]! * xhat[j]!;
      db[j] += dy[r * cols + j]!;
    }
  }
  return { dx, dw, db };
}

// ---------------------------------------------------------------------------------------------
// Running one launch or one graph.

let fakeId = 1_000_000;
/** A view of a buffer that exists only for building a launch; runKernel binds real ones. */
function fake(length: number, buffer = { id: fakeId++, byteLength: 1 << 20, label: 'fake' }, offset = 0): BufferView {
  return { buffer, offset, length };
}

/** Runs a launch through runKernel: bindings without data start poisoned. */
async function runLaunch(backend: Backend, l: Launch, data: Record<string, TypedArray>): Promise<Record<string, Float32Array>> {
  const outputs: Record<string, number> = {};
  for (const b of l.kernel.bindings) if (!data[b.name]) outputs[b.name] = l.bindings[b.name]!.length;
  const out = await runKernel(backend, l.kernel, { inputs: data, outputs, params: { ...l.params }, overrides: { ...l.overrides }, workgroups: l.workgroups });
  return out as Record<string, Float32Array>;
}

interface LayerRun {
  y: Float32Array;
  dx: Float32Array | null;
  grads: Record<string, Float32Array>;
  launches: Launch[];
}

/**
 * Runs `model` on each of `xs` in turn, through one compiled graph, in the given mode. The
 * module buffers live in one device buffer as in the trainer (`layout: 'trainer'`) or in one
 * buffer each; their host values are updated afterwards. With `target`, the loss is the MSE and
 * the gradients of the last pass are returned.
 */
async function runLayer(
  model: Module,
  xs: Float32Array[],
  shape: number[],
  { training, target, layout = 'trainer', backend = cpuBackend() }: { training: boolean; target?: Float32Array; layout?: 'trainer' | 'separate'; backend?: Backend },
): Promise<LayerRun> {
  const g = new Graph();
  g.training = training;
  model.train(training);
  const xParam = new Parameter(xs[0]!.slice(), shape, 'x');
  const x = g.param(xParam);
  const y = model.forward(x);
  const params = model.namedParameters();
  let grads: (Tensor | null)[] = [];
  const bound = new Map<Tensor, BufferView>();
  const made: ReturnType<Backend['createBuffer']>[] = [];
  const buffer = (data: Float32Array, label: string): BufferView => {
    const b = backend.createBuffer(Math.max(256, data.byteLength), label);
    backend.write(b, data);
    made.push(b);
    return { buffer: b, offset: 0, length: data.length };
  };
  if (target) {
    const t = g.input('target', shape);
    bound.set(t, buffer(target, 'target'));
    const [loss] = g.apply(MSE, [y, t], {}, 'loss');
    grads = gradients(g, loss!, [x, ...params.map(([, p]) => g.param(p))]);
  }
  bound.set(x, buffer(xs[0]!, 'x'));
  for (const [name, p] of params) bound.set(g.param(p), buffer(p.data, name));
  const flat = layout === 'trainer' ? new FlatBuffers(backend, model.buffers()) : null;
  const own = new Map<ModuleBuffer, BufferView>();
  for (const [b, t] of g.buffers) {
    const v = flat ? flat.view(b) : buffer(b.data, b.name);
    own.set(b, v);
    bound.set(t, v);
  }
  const outputs = [y, ...grads.filter((d): d is Tensor => d !== null)];
  const compiled = compileGraph(backend, { graph: g, bound, outputs, label: 'norm-test', poison: true });
  const program = backend.compile(compiled.launches, 'norm-test');
  for (const xv of xs) {
    backend.write(bound.get(x)!.buffer, xv);
    backend.run(program);
  }
  await backend.idle();
  await backend.health();
  const read = async (t: Tensor) => {
    const v = compiled.views.get(t) ?? bound.get(t)!;
    return new Float32Array(await backend.read(v.buffer, v.offset * 4, t.numel * 4));
  };
  const result: LayerRun = { y: await read(y), dx: grads[0] ? await read(grads[0]) : null, grads: {}, launches: compiled.launches };
  for (let i = 0; i < params.length; i++) if (grads[i + 1]) result.grads[params[i]![0]] = await read(grads[i + 1]!);
  if (flat) await flat.detach();
  for (const [b, v] of own) if (!flat) b.data = new Float32Array(await backend.read(v.buffer, v.offset * 4, b.numel * 4));
  program.dispose();
  compiled.dispose();
  flat?.dispose();
  for (const b of made) backend.destroyBuffer(b);
  return result;
}

const dimsOf = (shape: number[]): Dims => ({ n: shape[0]!, c: shape[1]!, s: shape.slice(2).reduce((a, b) => a * b, 1) });

// ---------------------------------------------------------------------------------------------

describe('batch norm kernels: CPU twins against float64 references', () => {
  const sizes: Dims[] = [
    { n: 1, c: 1, s: 1 },
    { n: 5, c: 3, s: 1 },
    { n: 2, c: 7, s: 33 },
    { n: 3, c: 1, s: 100 },
  ];

  it.each(sizes)('statistics and forward at [%o]', async (d) => {
    const backend = cpuBackend();
    const x = randomArray(d.n * d.c * d.s, -2, 3, 11);
    const s = { batch: d.n, channels: d.c, spatial: d.s };
    const stats = await runLaunch(backend, batchNormStatsLaunch(s, { x: fake(x.length), mean_out: fake(d.c), variance_out: fake(d.c) }), { x });
    const ref = refStats(x, d);
    expectAllClose(stats.mean_out!, ref.mean, { rtol: 1e-5, atol: 1e-6, label: 'mean' });
    expectAllClose(stats.variance_out!, ref.variance, { rtol: 1e-5, atol: 1e-6, label: 'variance' });

    const w = randomArray(d.c, 0.5, 1.5, 12);
    const b = randomArray(d.c, -1, 1, 13);
    for (const [weight, bias] of [[w, b], [null, null], [w, null], [null, b]] as const) {
      const l = batchNormForwardLaunch(
        s,
        1e-5,
        { x: fake(x.length), mean: fake(d.c), variance: fake(d.c), ...(weight ? { weight: fake(d.c) } : {}), ...(bias ? { bias: fake(d.c) } : {}), y: fake(x.length) },
        fake(64),
      );
      const out = await runLaunch(backend, l, { x, mean: stats.mean_out!, variance: stats.variance_out!, ...(weight ? { weight } : {}), ...(bias ? { bias } : {}) });
      const want = refNormalize(x, d, ref.mean, ref.variance, 1e-5, weight ?? undefined, bias ?? undefined);
      expectAllClose(out.y!, want, { rtol: 1e-4, atol: 2e-5, label: `y (weight ${!!weight}, bias ${!!bias})` });
    }
  });

  it('stays accurate for values with a large common offset', async () => {
    const d = { n: 16, c: 2, s: 40 };
    const x = randomArray(d.n * d.c * d.s, -1, 1, 5).map((v) => 1000 + v);
    const stats = await runLaunch(
      cpuBackend(),
      batchNormStatsLaunch({ batch: d.n, channels: d.c, spatial: d.s }, { x: fake(x.length), mean_out: fake(d.c), variance_out: fake(d.c) }),
      { x },
    );
    const ref = refStats(x, d);
    expectAllClose(stats.variance_out!, ref.variance, { rtol: 1e-3, label: 'variance around 1000' });
  });

  it.each([true, false])('backward with batch statistics %s', async (batchStats) => {
    const backend = cpuBackend();
    const d = { n: 3, c: 4, s: 7 };
    const s = { batch: d.n, channels: d.c, spatial: d.s };
    const x = randomArray(d.n * d.c * d.s, -2, 2, 21);
    const dy = randomArray(x.length, -1, 1, 22);
    const w = randomArray(d.c, 0.5, 1.5, 23);
    const { mean, variance } = batchStats ? refStats(x, d) : { mean: Array.from(randomArray(d.c, -0.5, 0.5, 24)), variance: Array.from(randomArray(d.c, 0.5, 2, 25)) };
    const stats = { mean: Float32Array.from(mean), variance: Float32Array.from(variance) };
    const reduce = await runLaunch(
      backend,
      batchNormBackwardReduceLaunch(s, 1e-5, { x: fake(x.length), dy: fake(x.length), mean: fake(d.c), variance: fake(d.c), sum_dy_out: fake(d.c), sum_dy_xhat_out: fake(d.c) }),
      { x, dy, ...stats },
    );
    const ref = refBatchNormBackward(x, dy, d, stats.mean, stats.variance, 1e-5, w, batchStats);
    expectAllClose(reduce.sum_dy_out!, ref.db, { rtol: 1e-5, atol: 1e-5, label: 'dβ' });
    expectAllClose(reduce.sum_dy_xhat_out!, ref.dw, { rtol: 1e-5, atol: 1e-5, label: 'dγ' });
    for (const weight of [w, null]) {
      const sums = batchStats ? { sum_dy: fake(d.c), sum_dy_xhat: fake(d.c) } : null;
      const l = batchNormBackwardInputLaunch(
        s,
        1e-5,
        { x: fake(x.length), dy: fake(x.length), mean: fake(d.c), variance: fake(d.c), ...(weight ? { weight: fake(d.c) } : {}), dx: fake(x.length) },
        sums,
        fake(64),
      );
      const data = { x, dy, ...stats, ...(weight ? { weight } : {}), ...(batchStats ? { sum_dy: reduce.sum_dy_out!, sum_dy_xhat: reduce.sum_dy_xhat_out! } : {}) };
      const dx = (await runLaunch(backend, l, data)).dx!;
      const want = refBatchNormBackward(x, dy, d, stats.mean, stats.variance, 1e-5, weight, batchStats).dx;
      expectAllClose(dx, want, { rtol: 1e-4, atol: 1e-5, label: `dx (weight ${!!weight})` });
    }
  });

  /** Running statistics after one update from these batch statistics, in float64. */
  function refRunning(rm: number[], rv: number[], count: number, mean: ArrayLike<number>, variance: ArrayLike<number>, m: number, momentum: number | null) {
    const f = momentum ?? 1 / (count + 1);
    return {
      mean: rm.map((r, c) => (1 - f) * r + f * mean[c]!),
      variance: rv.map((r, c) => (1 - f) * r + (f * variance[c]! * m) / (m - 1)),
      count: count + 1,
    };
  }

  it.each([0.1, null])('running update with all three in one buffer (momentum %s): one dispatch', async (momentum) => {
    const C = 3;
    const shared = { id: fakeId++, byteLength: 1 << 20, label: 'module-buffers' };
    const launches = batchNormRunningLaunches(
      { channels: C, count: 10, momentum },
      { mean: fake(C), variance: fake(C), runningMean: fake(C, shared, 64), runningVar: fake(C, shared, 128), tracked: fake(1, shared, 192) },
      fake(64),
    );
    expect(launches).toHaveLength(1);
    const l = launches[0]!;
    expect(l.bindings.state).toMatchObject({ buffer: shared, offset: 64, length: 129 });
    const state = new Float32Array(129).fill(NaN);
    state.set([0.5, -1, 2], 0);
    state.set([1, 2, 0.5], 64);
    state[128] = 4;
    const mean = Float32Array.of(0.25, 1, -3);
    const variance = Float32Array.of(2, 0.5, 1);
    const out = (await runLaunch(cpuBackend(), l, { mean, variance, state })).state!;
    const ref = refRunning([0.5, -1, 2], [1, 2, 0.5], 4, mean, variance, 10, momentum);
    expectAllClose(out.subarray(0, 3), ref.mean, { rtol: 1e-6, label: 'running_mean' });
    expectAllClose(out.subarray(64, 67), ref.variance, { rtol: 1e-6, label: 'running_var' });
    expect(out[128]).toBe(5);
    expect(Number.isNaN(out[3]!) && Number.isNaN(out[100]!)).toBe(true);
  });

  it.each([0.1, null])('running update with separate buffers (momentum %s): the counter last', async (momentum) => {
    const C = 2;
    const views = { mean: fake(C), variance: fake(C), runningMean: fake(C), runningVar: fake(C), tracked: fake(1) };
    const launches = batchNormRunningLaunches({ channels: C, count: 4, momentum }, views, fake(64));
    expect(launches.map((l) => l.bindings.state!.buffer)).toEqual([views.runningMean.buffer, views.runningVar.buffer, views.tracked.buffer]);
    const mean = Float32Array.of(1, 2);
    const variance = Float32Array.of(3, 0.25);
    let rm: Float32Array = Float32Array.of(0, 1);
    let rv: Float32Array = Float32Array.of(1, 1);
    let count: Float32Array = Float32Array.of(2);
    const backend = cpuBackend();
    rm = (await runLaunch(backend, launches[0]!, { mean, variance, tracked: count, state: rm })).state!;
    rv = (await runLaunch(backend, launches[1]!, { mean, variance, tracked: count, state: rv })).state!;
    count = (await runLaunch(backend, launches[2]!, { mean, variance, state: count })).state!;
    const ref = refRunning([0, 1], [1, 1], 2, mean, variance, 4, momentum);
    expectAllClose(rm, ref.mean, { rtol: 1e-6, label: 'running_mean' });
    expectAllClose(rv, ref.variance, { rtol: 1e-6, label: 'running_var' });
    expect(Array.from(count)).toEqual([3]);
  });

  it('refuses a running variance from one value per channel, and momentum null without a counter', () => {
    const v = { mean: fake(2), variance: fake(2), runningMean: fake(2), runningVar: fake(2) };
    expect(() => batchNormRunningLaunches({ channels: 2, count: 1, momentum: 0.1 }, { ...v, tracked: null }, fake(64))).toThrow(/more than 1 value per channel/);
    expect(() => batchNormRunningLaunches({ channels: 2, count: 5, momentum: null }, { ...v, tracked: null }, fake(64))).toThrow(/needs the batch counter/);
  });
});

describe('layer norm kernels: CPU twins against float64 references', () => {
  it.each([
    [1, 1],
    [3, 7],
    [4, 100],
    [2, 300],
  ])('forward and backward over [%i, %i]', async (rows, cols) => {
    const backend = cpuBackend();
    const x = randomArray(rows * cols, -2, 3, 31);
    const dy = randomArray(x.length, -1, 1, 32);
    const w = randomArray(cols, 0.5, 1.5, 33);
    const b = randomArray(cols, -1, 1, 34);
    const s = { rows, cols };
    for (const affine of [true, false]) {
      const fwd = layerNormForwardLaunch(
        s,
        1e-5,
        { x: fake(x.length), ...(affine ? { weight: fake(cols), bias: fake(cols) } : {}), y: fake(x.length), mean_out: fake(rows), rstd_out: fake(rows) },
        fake(64),
      );
      const out = await runLaunch(backend, fwd, { x, ...(affine ? { weight: w, bias: b } : {}) });
      const ref = refLayerNorm(x, rows, cols, 1e-5, affine ? w : undefined, affine ? b : undefined);
      expectAllClose(out.y!, ref.y, { rtol: 1e-4, atol: 2e-5, label: `y (affine ${affine})` });
      expectAllClose(out.mean_out!, ref.mean, { rtol: 1e-5, atol: 1e-6, label: 'mean' });
      expectAllClose(out.rstd_out!, ref.rstd, { rtol: 1e-4, label: 'rstd' });

      const bwd = layerNormBackwardInputLaunch(
        s,
        { x: fake(x.length), dy: fake(x.length), ...(affine ? { weight: fake(cols) } : {}), mean: fake(rows), rstd: fake(rows), dx: fake(x.length) },
        fake(64),
      );
      const dx = (await runLaunch(backend, bwd, { x, dy, ...(affine ? { weight: w } : {}), mean: out.mean_out!, rstd: out.rstd_out! })).dx!;
      const refB = refLayerNormBackward(x, dy, rows, cols, 1e-5, affine ? w : null);
      expectAllClose(dx, refB.dx, { rtol: 1e-3, atol: 1e-4, label: `dx (affine ${affine})` });
      const params = layerNormBackwardParamsLaunch(s, { x: fake(x.length), dy: fake(x.length), mean: fake(rows), rstd: fake(rows), dweight: fake(cols), dbias: fake(cols) });
      const pg = await runLaunch(backend, params, { x, dy, mean: out.mean_out!, rstd: out.rstd_out! });
      expectAllClose(pg.dweight!, refB.dw, { rtol: 1e-4, atol: 1e-5, label: 'dγ' });
      expectAllClose(pg.dbias!, refB.db, { rtol: 1e-5, atol: 1e-5, label: 'dβ' });
    }
  });
});

describe('gradients by finite differences', () => {
  const bnTrain = (x: Tensor, w: Tensor, b: Tensor) => batchNorm(x, null, null, w, b, { training: true });
  it('batch norm, batch statistics, affine', async () => {
    await expectGradientsMatch(bnTrain, [{ shape: [4, 3, 2] }, { shape: [3], lo: 0.5, hi: 1.5 }, { shape: [3] }], { seed: 1 });
  });
  it('batch norm, batch statistics, no affine, [batch, C]', async () => {
    await expectGradientsMatch((x: Tensor) => batchNorm(x, null, null, null, null, { training: true }), [{ shape: [5, 2] }], { seed: 2 });
  });
  it('batch norm, running statistics (eval), affine', async () => {
    const build = (x: Tensor, rm: Tensor, rv: Tensor, w: Tensor, b: Tensor) => batchNorm(x, rm, rv, w, b, { training: false, eps: 1e-3 });
    await expectGradientsMatch(
      build,
      [{ shape: [3, 2, 2, 2] }, { shape: [2], grad: false }, { shape: [2], lo: 0.5, hi: 2, grad: false }, { shape: [2], lo: 0.5, hi: 1.5 }, { shape: [2] }],
      { seed: 3, training: false },
    );
  });
  it('batch norm, batch statistics, weight only', async () => {
    const build = (x: Tensor, w: Tensor) => batchNorm(x, null, null, w, null, { training: true });
    await expectGradientsMatch(build, [{ shape: [3, 2, 3] }, { shape: [2], lo: 0.5, hi: 1.5 }], { seed: 4 });
  });
  it('layer norm over one dim, affine', async () => {
    const build = (x: Tensor, w: Tensor, b: Tensor) => layerNorm(x, 5, w, b);
    await expectGradientsMatch(build, [{ shape: [3, 5] }, { shape: [5], lo: 0.5, hi: 1.5 }, { shape: [5] }], { seed: 5 });
  });
  it('layer norm over two dims, no affine', async () => {
    await expectGradientsMatch((x: Tensor) => layerNorm(x, [2, 3], null, null), [{ shape: [2, 2, 3] }], { seed: 6 });
  });
  it('layer norm over two dims, affine, bias only', async () => {
    const build = (x: Tensor, b: Tensor) => layerNorm(x, [2, 2], null, b, { eps: 1e-3 });
    await expectGradientsMatch(build, [{ shape: [3, 2, 2] }, { shape: [2, 2] }], { seed: 7 });
  });
});

describe('running statistics over training passes', () => {
  /** Float64 running statistics after training passes over `xs`, as torch computes them. */
  function handRunning(xs: Float32Array[], d: Dims, momentum: number | null) {
    let mean = new Array<number>(d.c).fill(0);
    let variance = new Array<number>(d.c).fill(1);
    xs.forEach((x, k) => {
      const f = momentum ?? 1 / (k + 1);
      const s = refStats(x, d);
      const m = d.n * d.s;
      mean = mean.map((r, c) => (1 - f) * r + f * s.mean[c]!);
      variance = variance.map((r, c) => (1 - f) * r + (f * s.variance[c]! * m) / (m - 1));
    });
    return { mean, variance, count: xs.length };
  }

  it.each([
    [0.1, 'trainer'],
    [null, 'trainer'],
    [0.1, 'separate'],
    [null, 'separate'],
  ] as const)('momentum %s, buffers laid out as in the %s', async (momentum, layout) => {
    const shape = [4, 3, 5];
    const d = dimsOf(shape);
    const xs = [1, 2, 3].map((k) => randomArray(60, -1 + k, 2 + 2 * k, 40 + k));
    const bn = new BatchNorm1d(3, { momentum });
    const run = await runLayer(bn, xs, shape, { training: true, layout });
    const updates = run.launches.filter((l) => l.kernel.name === 'batch_norm_running');
    expect(updates).toHaveLength(layout === 'trainer' ? 1 : 3);
    const ref = handRunning(xs, d, momentum);
    expectAllClose(bn.running_mean!.data, ref.mean, { rtol: 1e-5, atol: 1e-6, label: 'running_mean' });
    expectAllClose(bn.running_var!.data, ref.variance, { rtol: 1e-5, atol: 1e-6, label: 'running_var' });
    expect(Array.from(bn.num_batches_tracked!.data)).toEqual([3]);
    // The last pass normalised with its own statistics.
    const s = refStats(xs[2]!, d);
    expectAllClose(run.y, refNormalize(xs[2]!, d, s.mean, s.variance, 1e-5), { rtol: 1e-4, atol: 2e-5, label: 'y' });
  });

  it('F.batchNorm updates running tensors it is given, and the counter when given', async () => {
    const shape = [6, 2];
    const xs = [randomArray(12, 0, 4, 50), randomArray(12, -3, 1, 51)];
    const rm = new ModuleBuffer(new Float32Array(2), [2], 'rm');
    const rv = new ModuleBuffer(new Float32Array(2).fill(1), [2], 'rv');
    const nbt = new ModuleBuffer(new Float32Array(1), [], 'nbt');
    const layer = new (class extends BatchNorm1d {
      override forward(x: Tensor): Tensor {
        const g = x.graph;
        return batchNorm(x, g.buffer(rm), g.buffer(rv), null, null, { momentum: null, numBatchesTracked: g.buffer(nbt) });
      }
    })(2, { affine: false, trackRunningStats: false });
    await runLayer(layer, xs, shape, { training: true, layout: 'separate' });
    const ref = handRunning(xs, dimsOf(shape), null);
    expectAllClose(rm.data, ref.mean, { rtol: 1e-5, atol: 1e-6, label: 'running mean' });
    expectAllClose(rv.data, ref.variance, { rtol: 1e-5, atol: 1e-6, label: 'running var' });
    expect(nbt.data[0]).toBe(2);
  });

  it('evaluation normalises with the running statistics and changes nothing', async () => {
    const shape = [2, 3, 2, 2];
    const bn = new BatchNorm2d(3);
    bn.running_mean!.data.set([0.5, -1, 2]);
    bn.running_var!.data.set([2, 0.5, 1.5]);
    bn.weight!.data.set([1.5, 0.5, 2]);
    bn.bias!.data.set([0, 1, -1]);
    const x = randomArray(24, -2, 2, 60);
    const run = await runLayer(bn, [x], shape, { training: false });
    expect(run.launches.map((l) => l.kernel.name)).toEqual(['batch_norm_forward']);
    const want = refNormalize(x, dimsOf(shape), [0.5, -1, 2], [2, 0.5, 1.5], 1e-5, [1.5, 0.5, 2], [0, 1, -1]);
    expectAllClose(run.y, want, { rtol: 1e-5, atol: 1e-6, label: 'eval y' });
    expect(Array.from(bn.running_mean!.data)).toEqual([0.5, -1, 2]);
    expect(Array.from(bn.num_batches_tracked!.data)).toEqual([0]);
  });

  it('trackRunningStats false: batch statistics in evaluation too, and no buffers', async () => {
    const bn = new BatchNorm1d(2, { trackRunningStats: false });
    expect(bn.buffers()).toEqual([]);
    const x = randomArray(10, -2, 2, 61);
    const run = await runLayer(bn, [x], [5, 2], { training: false });
    const s = refStats(x, { n: 5, c: 2, s: 1 });
    expectAllClose(run.y, refNormalize(x, { n: 5, c: 2, s: 1 }, s.mean, s.variance, 1e-5), { rtol: 1e-4, atol: 2e-5, label: 'y' });
    expect(run.launches.some((l) => l.kernel.name === 'batch_norm_running')).toBe(false);
  });

  it('the Trainer updates running statistics in its step, and predicts with them', async () => {
    const bn = new BatchNorm1d(3, { momentum: 0.25 });
    const model = new Sequential(bn);
    const device = await createDevice({ backend: 'cpu' });
    const trainer = new Trainer(device, model, { loss: new MSELoss(), optimizer: new SGD(model.parameters(), { lr: 0 }), inputShape: [3] });
    const xs = [randomArray(12, 0, 2, 70), randomArray(12, -2, 5, 71)];
    for (const x of xs) await trainer.step(x, randomArray(12, -1, 1, 72)).loss;
    const sd = await model.stateDict();
    expect(Object.keys(sd)).toEqual(['0.weight', '0.bias', '0.running_mean', '0.running_var', '0.num_batches_tracked']);
    const ref = handRunning(xs, { n: 4, c: 3, s: 1 }, 0.25);
    expectAllClose(sd['0.running_mean']!, ref.mean, { rtol: 1e-5, atol: 1e-6, label: 'running_mean' });
    expectAllClose(sd['0.running_var']!, ref.variance, { rtol: 1e-5, atol: 1e-6, label: 'running_var' });
    expect(Array.from(sd['0.num_batches_tracked']!)).toEqual([2]);
    const x = randomArray(6, -1, 1, 73);
    const want = refNormalize(x, { n: 2, c: 3, s: 1 }, ref.mean, ref.variance, 1e-5);
    expectAllClose(await trainer.predict(x), want, { rtol: 1e-5, atol: 1e-6, label: 'predict' });
    await trainer.dispose();
  });
});

interface Fixture {
  name: string;
  layer: 'BatchNorm1d' | 'BatchNorm2d' | 'LayerNorm';
  args: [number | number[]];
  options: Record<string, unknown>;
  shape: number[];
  weight?: number[];
  bias?: number[];
  x1: number[];
  x2: number[];
  x3: number[];
  target: number[];
  y1: number[];
  y2: number[];
  dx2: number[];
  dweight?: number[];
  dbias?: number[];
  running_mean?: number[];
  running_var?: number[];
  num_batches_tracked?: number;
  yEval: number[];
  dxEval: number[];
}

const fixtures = (JSON.parse(readFileSync(new URL('../fixtures/norm.json', import.meta.url), 'utf8')) as { cases: Fixture[] }).cases;

function buildLayer(f: Fixture): Module {
  const [arg] = f.args;
  if (f.layer === 'LayerNorm') return new LayerNorm(arg, f.options);
  const Layer = f.layer === 'BatchNorm1d' ? BatchNorm1d : BatchNorm2d;
  return new Layer(arg as number, f.options);
}

describe('against PyTorch (test/fixtures/norm.json)', () => {
  const tol = { rtol: 1e-5, atol: 1e-6 };
  it.each(fixtures.map((f) => [f.name, f] as const))('%s', async (_name, f) => {
    const layer = buildLayer(f);
    const { weight: w, bias: b } = layer as unknown as { weight: Parameter | null; bias: Parameter | null };
    expect(w !== null).toBe(f.weight !== undefined);
    if (w && b) {
      w.data.set(f.weight!);
      b.data.set(f.bias!);
    }
    const f32 = (v: number[]) => Float32Array.from(v);
    const first = await runLayer(layer, [f32(f.x1)], f.shape, { training: true });
    expectAllClose(first.y, f.y1, { ...tol, label: 'y1' });
    const second = await runLayer(layer, [f32(f.x2)], f.shape, { training: true, target: f32(f.target) });
    expectAllClose(second.y, f.y2, { ...tol, label: 'y2' });
    expectAllClose(second.dx!, f.dx2, { ...tol, label: 'dx2' });
    if (w) {
      expectAllClose(second.grads.weight!, f.dweight!, { ...tol, label: 'dweight' });
      expectAllClose(second.grads.bias!, f.dbias!, { ...tol, label: 'dbias' });
    }
    const bn = layer as BatchNorm1d;
    if (f.running_mean) {
      expectAllClose(bn.running_mean!.data, f.running_mean, { ...tol, label: 'running_mean' });
      expectAllClose(bn.running_var!.data, f.running_var!, { ...tol, label: 'running_var' });
      expect(bn.num_batches_tracked!.data[0]).toBe(f.num_batches_tracked);
    } else if (f.layer !== 'LayerNorm') {
      expect(bn.running_mean).toBeNull();
    }
    const ev = await runLayer(layer, [f32(f.x3)], f.shape, { training: false, target: f32(f.target) });
    expectAllClose(ev.y, f.yEval, { ...tol, label: 'yEval' });
    expectAllClose(ev.dx!, f.dxEval, { ...tol, label: 'dxEval' });
  });
});

describe('modules', () => {
  it('BatchNorm fields in torch order, torch initial values, buffers apart from parameters', async () => {
    const bn = new BatchNorm2d(4);
    expect(bn.namedParameters().map(([n]) => n)).toEqual(['weight', 'bias']);
    expect(bn.namedBuffers().map(([n]) => n)).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    const sd = await bn.stateDict();
    expect(Object.keys(sd)).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(Array.from(sd.weight!)).toEqual([1, 1, 1, 1]);
    expect(Array.from(sd.bias!)).toEqual([0, 0, 0, 0]);
    expect(Array.from(sd.running_mean!)).toEqual([0, 0, 0, 0]);
    expect(Array.from(sd.running_var!)).toEqual([1, 1, 1, 1]);
    expect(Array.from(sd.num_batches_tracked!)).toEqual([0]);
    bn.loadStateDict({ ...sd, num_batches_tracked: [7] });
    expect(bn.num_batches_tracked!.data[0]).toBe(7);
    const plain = new BatchNorm1d(3, { affine: false, trackRunningStats: false });
    expect(plain.parameters()).toEqual([]);
    expect(Object.keys(await plain.stateDict())).toEqual([]);
  });

  it('LayerNorm weight and bias of normalizedShape', async () => {
    const ln = new LayerNorm([2, 3]);
    expect(ln.weight!.shape).toEqual([2, 3]);
    expect(Array.from(ln.weight!.data)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(ln.bias!.data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(new LayerNorm(5, { elementwiseAffine: false }).parameters()).toEqual([]);
    expect(new LayerNorm(8).weight!.shape).toEqual([8]);
  });

  it('describe like torch, with the options that differ from the defaults', () => {
    expect(new BatchNorm2d(8).describe()).toBe('BatchNorm2d(8)');
    expect(new BatchNorm1d(3, { eps: 1e-3, momentum: null, affine: false, trackRunningStats: false }).describe()).toBe(
      'BatchNorm1d(3, eps=0.001, momentum=null, affine=false, trackRunningStats=false)',
    );
    expect(new LayerNorm(16).describe()).toBe('LayerNorm(16)');
    expect(new LayerNorm([4, 5], { eps: 1e-6, elementwiseAffine: false }).describe()).toBe('LayerNorm([4, 5], eps=0.000001, elementwiseAffine=false)');
  });

  it('input errors name the layer and the shapes', () => {
    const trace = (m: Module, shape: number[], training = true) => {
      const g = new Graph();
      g.training = training;
      return () => m.forward(g.input('x', shape));
    };
    expect(trace(new BatchNorm2d(8), [4, 3, 28, 28])).toThrow('BatchNorm2d(8): expected input [batch, 8, H, W], got [4, 3, 28, 28]');
    expect(trace(new BatchNorm2d(3), [4, 3, 28])).toThrow('BatchNorm2d(3): expected input [batch, 3, H, W], got [4, 3, 28]');
    expect(trace(new BatchNorm1d(3), [4, 3, 2, 2])).toThrow('BatchNorm1d(3): expected input [batch, 3] or [batch, 3, L], got [4, 3, 2, 2]');
    expect(trace(new BatchNorm1d(3), [1, 3])).toThrow('BatchNorm1d(3): expected more than 1 value per channel when training, got input [1, 3]');
    expect(trace(new BatchNorm1d(3), [1, 3], false)).not.toThrow();
    expect(trace(new LayerNorm([4, 5]), [3, 5, 4])).toThrow('LayerNorm([4, 5]): expected input [*, 4, 5], got [3, 5, 4]');
    expect(trace(new LayerNorm(6), [6])).not.toThrow();
  });

  it('options are checked, naming the option and the value', () => {
    expect(() => new BatchNorm1d(0)).toThrow('BatchNorm1d: numFeatures must be a positive integer, got 0');
    expect(() => new BatchNorm2d(3, { momentum: 1.5 })).toThrow('BatchNorm2d: momentum must be a number in [0, 1] or null, got 1.5');
    expect(() => new BatchNorm2d(3, { eps: -1 })).toThrow('BatchNorm2d: eps must be a finite number >= 0, got -1');
    expect(() => new LayerNorm([])).toThrow(/LayerNorm: normalizedShape must be/);
    expect(() => new LayerNorm(4, { eps: Number.NaN })).toThrow(/LayerNorm: eps must be/);
  });

  it('F.batchNorm needs running statistics to evaluate, both or neither, and a counter for momentum null', () => {
    const g = new Graph();
    const x = g.input('x', [4, 2]);
    const rm = g.buffer(new ModuleBuffer(new Float32Array(2), [2], 'rm'));
    const rv = g.buffer(new ModuleBuffer(new Float32Array(2).fill(1), [2], 'rv'));
    expect(() => batchNorm(x, null, null, null, null, { training: false })).toThrow(/evaluation normalises with runningMean and runningVar/);
    expect(() => batchNorm(x, rm, null, null, null)).toThrow(/both runningMean and runningVar/);
    expect(() => batchNorm(x, rm, rv, null, null, { momentum: null })).toThrow(/momentum null .* needs num_batches_tracked/);
    expect(() => batchNorm(x, rm, rv, null, null, { training: true })).not.toThrow();
    expect(g.effects).toHaveLength(1);
  });
});
