/**
 * Embedding on the CPU backend: the twins against naive references written here, the gradient
 * by finite differences, torch 1.13 outputs and weight gradients with repeated ids and a padding
 * row (test/fixtures/pool.json, made by gen_pool.py), initialisation and option checks.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { type BufferView, type DeviceBuffer, view } from '../../src/backend/kernel.js';
import { gradients } from '../../src/graph/autodiff.js';
import { compileGraph } from '../../src/graph/compile.js';
import { embedding } from '../../src/graph/ops/embedding.js';
import { MSE } from '../../src/graph/ops/loss.js';
import { Parameter } from '../../src/graph/parameter.js';
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import { embeddingGradLaunch, embeddingLaunch, type EmbeddingShape } from '../../src/kernels/embedding.js';
import { Embedding } from '../../src/nn/embedding.js';
import { manualSeed } from '../../src/nn/init.js';
import fixture from '../fixtures/pool.json';
import { cpuBackend, expectAllClose, randomArray, rng, runKernel } from '../harness.js';
import { expectGradientsMatch } from '../op-check.js';

const fake = (n: number): BufferView => view({ id: 0, byteLength: Math.max(4, n * 4), label: 'fake' } as DeviceBuffer, 0, n);

function ids(n: number, lo: number, hi: number, seed: number): Int32Array {
  const next = rng(seed);
  return Int32Array.from({ length: n }, () => lo + Math.floor(next() * (hi - lo)));
}

/** Both kernels of `s` on `backend` with poisoned outputs; `rows` forces the gradient's row blocks. */
async function runEmbeddingKernels(backend: Backend, s: EmbeddingShape, id: Int32Array, weight: Float32Array, dy: Float32Array, rows?: number) {
  const fwd = embeddingLaunch(s, { ids: fake(s.tokens), weight: fake(weight.length), out: fake(dy.length) });
  const bwd = embeddingGradLaunch(s, { ids: fake(s.tokens), dy: fake(dy.length), dw: fake(weight.length) }, undefined, rows);
  const at = (l: typeof fwd) => ({ params: l.params!, overrides: l.overrides ?? {}, workgroups: l.workgroups });
  const out = (await runKernel(backend, fwd.kernel, { inputs: { ids: id, weight }, outputs: { out: dy.length }, ...at(fwd) })).out as Float32Array;
  const dw = (await runKernel(backend, bwd.kernel, { inputs: { ids: id, dy }, outputs: { dw: weight.length }, ...at(bwd) })).dw as Float32Array;
  return { out, dw };
}

/** Rows gathered, zeros for ids out of range; gradient scattered token by token (float64). */
function reference(s: EmbeddingShape, id: Int32Array, weight: Float32Array, dy: Float32Array) {
  const out = new Float64Array(s.tokens * s.dim);
  const dw = new Float64Array(s.num * s.dim);
  id.forEach((r, t) => {
    if (r < 0 || r >= s.num) return;
    for (let j = 0; j < s.dim; j++) {
      out[t * s.dim + j] = weight[r * s.dim + j]!;
      if (r !== s.paddingIdx) dw[r * s.dim + j] += dy[t * s.dim + j]!;
    }
  });
  return { out, dw };
}

describe('embedding twins equal the naive references', () => {
  it.each<[string, EmbeddingShape, number, number, number | undefined]>([
    ['one token', { tokens: 1, num: 1, dim: 1, paddingIdx: null }, 0, 1, undefined],
    ['repeated ids', { tokens: 33, num: 7, dim: 5, paddingIdx: null }, 0, 7, undefined],
    ['padding row', { tokens: 40, num: 9, dim: 3, paddingIdx: 4 }, 0, 9, undefined],
    ['ids out of range give zeros and no gradient', { tokens: 29, num: 6, dim: 4, paddingIdx: 0 }, -3, 9, undefined],
    ['unused rows', { tokens: 3, num: 50, dim: 7, paddingIdx: null }, 0, 50, undefined],
    ['one row per block', { tokens: 31, num: 13, dim: 6, paddingIdx: 2 }, 0, 13, 1],
    ['uneven row blocks', { tokens: 31, num: 13, dim: 6, paddingIdx: 12 }, 0, 13, 5],
    ['one block of all rows', { tokens: 31, num: 13, dim: 6, paddingIdx: null }, 0, 13, 13],
  ])('%s', async (_name, s, lo, hi, rows) => {
    const id = ids(s.tokens, lo, hi, 5);
    const weight = randomArray(s.num * s.dim, -1, 1, 6);
    const dy = randomArray(s.tokens * s.dim, -1, 1, 7);
    const ref = reference(s, id, weight, dy);
    const got = await runEmbeddingKernels(cpuBackend(), s, id, weight, dy, rows);
    expectAllClose(got.out, ref.out, { label: 'out' });
    expectAllClose(got.dw, ref.dw, { label: 'dw' });
  });
});

describe('embedding gradient matches finite differences', () => {
  it.each<[string, number[], number, number, number | null]>([
    ['ids [6]', [6], 5, 3, null],
    ['ids [2, 5] with padding row 1', [2, 5], 4, 2, 1],
    ['ids [2, 3, 2] with padding row -1', [2, 3, 2], 5, 2, -1],
  ])('%s', async (_name, shape, num, dim, paddingIdx) => {
    // The padding row's gradient is 0 by definition, not by calculus: finite differences see the
    // true derivative, so these ids avoid that row (the torch fixture covers it).
    const pad = paddingIdx === null ? -1 : (paddingIdx + num) % num;
    const data = ids(shape.reduce((a, b) => a * b, 1), 0, num, 8).map((r) => (r === pad ? (r + 1) % num : r));
    const run = await expectGradientsMatch((i, w) => embedding(i, w, { paddingIdx }), [
      { shape, dtype: 'i32', data },
      { shape: [num, dim] },
    ]);
    expect(run.grads[0]).toBeNull();
  });
});

interface EmbeddingCase {
  name: string;
  num: number;
  dim: number;
  ids: number[][];
  idsShape: number[];
  paddingIdx: number | null;
  weight: number[];
  y: number[];
  target: number[];
  dweight: number[];
}

/** out = embedding(ids, weight) and d mse(out, target) / d weight: what gen_pool.py records. */
async function runWithMse(
  backend: Backend,
  c: EmbeddingCase,
  build: (i: Tensor, w: Tensor) => Tensor,
  weight = new Parameter(Float32Array.from(c.weight), [c.num, c.dim], 'weight'),
) {
  const g = new Graph();
  const it = g.input('ids', c.idsShape, 'i32');
  const wt = g.param(weight);
  const y = build(it, wt);
  const tt = g.input('target', y.shape);
  const loss = g.apply(MSE, [y, tt], {}, 'loss')[0]!;
  const [dw] = gradients(g, loss, [wt]);
  const made: DeviceBuffer[] = [];
  const bind = (data: Float32Array | Int32Array): BufferView => {
    const b = backend.createBuffer(data.byteLength, 'fixture');
    backend.write(b, data);
    made.push(b);
    return view(b);
  };
  const bound = new Map([
    [it, bind(Int32Array.from(c.ids.flat()))],
    [wt, bind(Float32Array.from(c.weight))],
    [tt, bind(Float32Array.from(c.target))],
  ]);
  const compiled = compileGraph(backend, { graph: g, bound, outputs: [y, dw!], label: 'embedding-fixture', poison: true });
  const program = backend.compile(compiled.launches, 'embedding-fixture');
  backend.run(program);
  const read = async (t: Tensor) => {
    const v = compiled.views.get(t)!;
    return new Float32Array(await backend.read(v.buffer, v.offset * 4, t.numel * 4));
  };
  const out = { shape: y.shape, y: await read(y), dw: await read(dw!) };
  program.dispose();
  compiled.dispose();
  for (const b of made) backend.destroyBuffer(b);
  return out;
}

describe('embedding equals torch 1.13 (output and weight gradient)', () => {
  it.each((fixture.embeddings as EmbeddingCase[]).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const got = await runWithMse(cpuBackend(), c, (i, w) => embedding(i, w, { paddingIdx: c.paddingIdx }));
    expect(got.shape).toEqual([...c.idsShape, c.dim]);
    expectAllClose(got.y, c.y, { label: 'y' });
    expectAllClose(got.dw, c.dweight, { rtol: 1e-5, atol: 1e-7, label: 'dweight' });
  });

  it('nn.Embedding with the same weight gives the same values', async () => {
    const c = (fixture.embeddings as EmbeddingCase[]).find((e) => e.paddingIdx === -1)!;
    const layer = new Embedding(c.num, c.dim, { paddingIdx: c.paddingIdx });
    layer.weight.write(Float32Array.from(c.weight));
    const got = await runWithMse(cpuBackend(), c, (i) => layer.forward(i), layer.weight);
    expectAllClose(got.y, c.y, { label: 'y' });
    expectAllClose(got.dw, c.dweight, { rtol: 1e-5, atol: 1e-7, label: 'dweight' });
  });
});

describe('nn.Embedding', () => {
  it('initialises weight [num, dim] from N(0, 1), seeded, with the padding row zeroed', () => {
    manualSeed(3);
    const a = new Embedding(400, 25, { paddingIdx: 7 });
    manualSeed(3);
    const b = new Embedding(400, 25, { paddingIdx: 7 });
    expect(a.weight.shape).toEqual([400, 25]);
    expect(a.weight.data).toEqual(b.weight.data);
    expect([...a.weight.data.subarray(7 * 25, 8 * 25)].every((v) => v === 0)).toBe(true);
    const rest = [...a.weight.data.subarray(0, 7 * 25), ...a.weight.data.subarray(8 * 25)];
    const mean = rest.reduce((s, v) => s + v, 0) / rest.length;
    const variance = rest.reduce((s, v) => s + (v - mean) ** 2, 0) / rest.length;
    // 9,975 samples: the standard error of the mean is 0.01, of the variance about 0.014.
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.07);
    expect(rest.filter((v) => Math.abs(v) > 3).length / rest.length).toBeLessThan(0.006);
  });

  it('counts a negative paddingIdx from the end, as torch', () => {
    const e = new Embedding(6, 2, { paddingIdx: -2 });
    expect(e.paddingIdx).toBe(4);
    expect([...e.weight.data.subarray(8, 10)]).toEqual([0, 0]);
    expect(e.describe()).toBe('Embedding(6, 2, padding_idx=4)');
    expect(new Embedding(10, 3).describe()).toBe('Embedding(10, 3)');
    expect(new Embedding(10, 3).paddingIdx).toBeNull();
  });

  it('registers weight as its only parameter', () => {
    const e = new Embedding(5, 4);
    expect(e.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([['weight', [5, 4]]]);
    expect(e.buffers()).toEqual([]);
  });

  it.each<[string, () => unknown, RegExp]>([
    ['paddingIdx too large', () => new Embedding(5, 2, { paddingIdx: 5 }), /Embedding\(5, 2\): padding_idx must be an integer within num_embeddings \(-5\.\.4\), got 5/],
    ['paddingIdx too small', () => new Embedding(5, 2, { paddingIdx: -6 }), /padding_idx must be an integer within num_embeddings.*got -6/],
    ['paddingIdx not an integer', () => new Embedding(5, 2, { paddingIdx: 1.5 }), /got 1\.5/],
    ['num 0', () => new Embedding(0, 2), /Embedding: numEmbeddings must be a positive integer, got 0/],
    ['dim 2.5', () => new Embedding(3, 2.5), /Embedding: embeddingDim must be a positive integer, got 2\.5/],
  ])('rejects %s', (_name, make, message) => {
    expect(make).toThrow(message);
  });

  it('names the layer and the shapes for wrong inputs', () => {
    const g = new Graph();
    const layer = new Embedding(10, 3);
    expect(() => layer.forward(g.input('x', [4, 5]))).toThrow(/Embedding\(10, 3\): expected int32 ids, got f32 \[4, 5\]/);
    const i = g.input('ids', [4], 'i32');
    expect(() => embedding(i, g.input('w', [10]))).toThrow(/embedding weight must be a float \[num_embeddings, embedding_dim\], got f32 \[10\]/);
    expect(() => embedding(i, g.input('w2', [10, 3]), { paddingIdx: 10 })).toThrow(/padding_idx must be an integer within num_embeddings \(-10\.\.9\), got 10/);
    expect(embedding(g.input('ids3', [2, 3, 4], 'i32'), g.input('w3', [10, 3])).shape).toEqual([2, 3, 4, 3]);
  });
});
