import source from '../../shaders/losses.wgsl';
import treeReduce from '../../shaders/tree_reduce.wgsl';
import type { BindingSpec, BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { treeSum } from './reduce.js';
import { launch } from './launch.js';
import { withCommon } from './source.js';

/**
 * Losses of torch.nn with their gradient (shaders/losses.wgsl): cross-entropy over class indices
 * (label smoothing, ignore_index, inputs [N, C, d1, ...]), MSE, L1 and binary cross-entropy on
 * logits (positive weights), each reduced by 'mean' or 'sum'. The forward dispatch writes the
 * loss and its gradient for d(total)/d(loss) = 1; `scaleGrad` and `bceTargetGrad` serve a loss
 * that is used further, multiplying by the incoming gradient read from a binding.
 */

const wgsl = withCommon(`${source}\n${treeReduce}`);
const WG = 256;

const params: readonly ParamSpec[] = [
  { name: 'n', type: 'u32' },
  { name: 'classes', type: 'u32' },
  { name: 'inner', type: 'u32' },
  { name: 'ignore_index', type: 'i32' },
  { name: 'smoothing', type: 'f32' },
  { name: 'pos_weight', type: 'f32' },
  { name: 'factor', type: 'f32' },
];

export type Reduction = 'mean' | 'sum';

/** Codes of the `kind` override of pointwise_loss. */
export const POINTWISE_KINDS = { mse: 0, l1: 1, bce: 2 } as const;
export type PointwiseKind = keyof typeof POINTWISE_KINDS;

const read = (name: string, type: 'f32' | 'i32' = 'f32'): BindingSpec => ({ name, type, access: 'read' });
const write = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read_write' });

const f32 = Math.fround;

/** Every uniform member, so that each launch writes the whole struct. */
function lossParams(p: Partial<Record<(typeof params)[number]['name'], number>>): Record<string, number> {
  return { n: 0, classes: 1, inner: 1, ignore_index: -100, smoothing: 0, pos_weight: 1, factor: 1, ...p };
}

// --- cross_entropy ---------------------------------------------------------------------------

function crossEntropyTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const logits = buffers.logits!;
  const labels = buffers.labels!;
  const dlogits = buffers.dlogits!;
  const correct = buffers.correct!;
  const rows = p.n!;
  const classes = p.classes!;
  const inner = p.inner!;
  const ignore = p.ignore_index!;
  const eps = f32(p.smoothing!);
  const on = f32(1 - eps);
  const off = f32(eps / classes);
  const wg = overrides.wg!;
  const mean = overrides.mean !== 0;

  const counted = treeSum(rows, wg, (r) => (labels[r] === ignore ? 0 : 1));
  const s = mean ? f32(1 / counted) : 1;
  const rowLoss = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const n = Math.floor(r / inner);
    const base = n * classes * inner + (r - n * inner);
    let m = logits[base]!;
    let arg = 0;
    for (let c = 1; c < classes; c++) {
      const z = logits[base + c * inner]!;
      if (z > m) {
        m = z;
        arg = c;
      }
    }
    let sumExp = 0;
    let shifted = 0;
    for (let c = 0; c < classes; c++) {
      const z = f32(logits[base + c * inner]! - m);
      sumExp = f32(sumExp + f32(Math.exp(z)));
      shifted = f32(shifted + z);
    }
    const logS = f32(Math.log(sumExp));
    const invS = f32(1 / sumExp);
    const t = labels[r]!;
    const counts = t !== ignore;
    const valid = t >= 0 && t < classes;
    const hot = valid ? t : 0;
    const keep = counts && valid;
    for (let c = 0; c < classes; c++) {
      const pc = f32(f32(Math.exp(f32(logits[base + c * inner]! - m))) * invS);
      const g = f32(f32(f32(pc - (c === hot ? on : 0)) - off) * s);
      dlogits[base + c * inner] = keep ? g : 0;
    }
    const nll = f32(logS - f32(logits[base + hot * inner]! - m));
    const smoothed = f32(logS - f32(shifted / classes));
    const row = f32(f32(on * nll) + f32(eps * smoothed));
    rowLoss[r] = counts ? (valid ? row : NaN) : 0;
    correct[r] = keep && arg === hot ? 1 : 0;
  }
  const total = treeSum(rows, wg, (r) => rowLoss[r]!);
  buffers.loss![0] = mean && counted === 0 ? total / counted : total * s;
}

/**
 * torch.nn.functional.cross_entropy with class indices. Bindings: logits (read, f32 [N, C, D]),
 * labels (read, i32 [N·D]), dlogits (read_write, f32 [N, C, D]: the gradient for a unit
 * incoming gradient), correct (read_write, f32 [N·D]), loss (read_write, f32 [1]).
 */
export const crossEntropy: KernelSpec = {
  name: 'cross_entropy',
  wgsl,
  entry: 'cross_entropy',
  params,
  bindings: [read('logits'), read('labels', 'i32'), write('dlogits'), write('correct'), write('loss')],
  overrides: { wg: WG, mean: 1 },
  cpu: crossEntropyTwin,
};

export interface CrossEntropyShape {
  /** N, the batch. */
  readonly batch: number;
  /** C, the classes (dimension 1 of the logits). */
  readonly classes: number;
  /** D, the product of the dimensions after the classes (1 for logits [N, C]). */
  readonly inner: number;
}

export interface CrossEntropySettings {
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
  readonly reduction: Reduction;
}

export function crossEntropyLaunch(
  bindings: { logits: BufferView; labels: BufferView; dlogits: BufferView; correct: BufferView; loss: BufferView },
  { batch, classes, inner }: CrossEntropyShape,
  { ignoreIndex, labelSmoothing, reduction }: CrossEntropySettings,
  label?: string,
): Launch {
  const rows = batch * inner;
  if (!(batch >= 1 && classes >= 1 && inner >= 1)) {
    throw new Error(`${label ?? crossEntropy.name}: needs N, C, D >= 1, got [${batch}, ${classes}, ${inner}]`);
  }
  return launch(crossEntropy, {
    bindings,
    params: lossParams({ n: rows, classes, inner, ignore_index: ignoreIndex, smoothing: labelSmoothing }),
    overrides: { mean: reduction === 'mean' ? 1 : 0 },
    workgroups: [1, 1, 1],
    needs: { logits: rows * classes, labels: rows, dlogits: rows * classes, correct: rows, loss: 1 },
    ...(label !== undefined ? { label } : {}),
  });
}

// --- pointwise_loss --------------------------------------------------------------------------

function positiveWeight(buffers: CpuInvocation['buffers'], p: CpuInvocation['params'], vector: boolean, i: number): number {
  return vector ? buffers.pos_weights![i % p.classes!]! : f32(p.pos_weight!);
}

/** softplus(−v) = log(1 + e^−v), as the shader computes it. */
function softplusNeg(v: number): number {
  return f32(Math.max(-v, 0) + f32(Math.log(f32(1 + f32(Math.exp(-Math.abs(v)))))));
}

/** [term, d term / dx] of element i, in the shader's order of operations. */
function pointwiseTerm(kind: number, xi: number, yi: number, w: () => number): [number, number] {
  if (kind === POINTWISE_KINDS.mse) {
    const d = f32(xi - yi);
    return [f32(d * d), f32(2 * d)];
  }
  if (kind === POINTWISE_KINDS.l1) {
    const d = f32(xi - yi);
    return [Math.abs(d), Math.sign(d)];
  }
  const e = f32(Math.exp(-Math.abs(xi)));
  const l = f32(1 + f32(f32(w() - 1) * yi));
  const term = f32(f32(f32(1 - yi) * xi) + f32(l * softplusNeg(xi)));
  const sigmoidNeg = xi >= 0 ? f32(e / f32(1 + e)) : f32(1 / f32(1 + e));
  return [term, f32(f32(1 - yi) - f32(l * sigmoidNeg))];
}

function pointwiseLossTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const x = buffers.x!;
  const y = buffers.y!;
  const dx = buffers.dx!;
  const n = p.n!;
  const kind = overrides.kind!;
  const vector = overrides.pos_vector !== 0;
  const s = overrides.mean !== 0 ? f32(1 / n) : 1;
  const terms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const [term, d] = pointwiseTerm(kind, x[i]!, y[i]!, () => positiveWeight(buffers, p, vector, i));
    dx[i] = f32(d * s);
    terms[i] = term;
  }
  buffers.loss![0] = f32(treeSum(n, overrides.wg!, (i) => terms[i]!) * s);
}

/**
 * MSE, L1 or BCE-with-logits over n elements (`kind`, POINTWISE_KINDS). Bindings: x, y (read,
 * f32 [n]), pos_weights (read, f32 [classes], used when `pos_vector`), dx (read_write, f32 [n]:
 * the gradient for a unit incoming gradient), loss (read_write, f32 [1]).
 */
export const pointwiseLoss: KernelSpec = {
  name: 'pointwise_loss',
  wgsl,
  entry: 'pointwise_loss',
  params,
  bindings: [read('x'), read('y'), read('pos_weights'), write('dx'), write('loss')],
  overrides: { wg: WG, mean: 1, kind: 0, pos_vector: 0 },
  cpu: pointwiseLossTwin,
};

/** The positive weight of BCE: one number, or a tensor of `period` values cycled along the last dimension. */
export type PositiveWeight = { readonly scalar: number } | { readonly period: number };

export function pointwiseLossLaunch(
  bindings: { x: BufferView; y: BufferView; pos_weights: BufferView; dx: BufferView; loss: BufferView },
  n: number,
  kind: PointwiseKind,
  reduction: Reduction,
  posWeight: PositiveWeight = { scalar: 1 },
  label?: string,
): Launch {
  if (!(n >= 1)) throw new Error(`${label ?? pointwiseLoss.name}: needs at least one element, got n = ${n}`);
  const vector = 'period' in posWeight;
  return launch(pointwiseLoss, {
    bindings,
    params: lossParams({ n, ...(vector ? { classes: posWeight.period } : { pos_weight: posWeight.scalar }) }),
    overrides: { kind: POINTWISE_KINDS[kind], mean: reduction === 'mean' ? 1 : 0, pos_vector: vector ? 1 : 0 },
    workgroups: [1, 1, 1],
    needs: { x: n, y: n, dx: n, loss: 1, ...(vector ? { pos_weights: posWeight.period } : {}) },
    ...(label !== undefined ? { label } : {}),
  });
}

// --- gradients for a loss used further -------------------------------------------------------

function incoming(buffers: CpuInvocation['buffers'], overrides: CpuInvocation['overrides']): number {
  return overrides.has_gout !== 0 ? buffers.gout![0]! : 1;
}

function scaleGradTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const unit = buffers.unit!;
  const grad = buffers.grad!;
  const g = f32(f32(p.factor!) * incoming(buffers, overrides));
  for (let i = 0; i < p.n!; i++) grad[i] = f32(g * unit[i]!);
}

/** grad[i] = factor · g · unit[i], g = gout[0] when `has_gout`, else 1. */
export const scaleGrad: KernelSpec = {
  name: 'scale_grad',
  wgsl,
  entry: 'scale_grad',
  params,
  bindings: [read('gout'), read('unit'), write('grad')],
  overrides: { wg: WG, has_gout: 0 },
  cpu: scaleGradTwin,
};

/** `gout` is the incoming gradient [1], or null for a unit one (the loss is the root). */
export function scaleGradLaunch(
  bindings: { gout: BufferView | null; dummy: BufferView; unit: BufferView; grad: BufferView },
  n: number,
  factor: number,
  label?: string,
): Launch {
  return launch(scaleGrad, {
    bindings: { gout: bindings.gout ?? bindings.dummy, unit: bindings.unit, grad: bindings.grad },
    params: lossParams({ n, factor }),
    overrides: { has_gout: bindings.gout ? 1 : 0 },
    threads: n,
    needs: { unit: n, grad: n, ...(bindings.gout ? { gout: 1 } : {}) },
    ...(label !== undefined ? { label } : {}),
  });
}

function bceTargetGradTwin({ buffers, params: p, overrides }: CpuInvocation): void {
  const x = buffers.x!;
  const grad = buffers.grad!;
  const n = p.n!;
  const s = overrides.mean !== 0 ? f32(1 / n) : 1;
  const gs = f32(incoming(buffers, overrides) * s);
  const vector = overrides.pos_vector !== 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    const w = positiveWeight(buffers, p, vector, i);
    grad[i] = f32(gs * f32(-xi + f32(f32(w - 1) * softplusNeg(xi))));
  }
}

/** d bce / d y = g · s · (−x + (w − 1) softplus(−x)), which does not depend on y. Bindings: x, pos_weights and gout as pointwise_loss's, grad (read_write, f32 [n]). */
export const bceTargetGrad: KernelSpec = {
  name: 'bce_target_grad',
  wgsl,
  entry: 'bce_target_grad',
  params,
  bindings: [read('x'), read('pos_weights'), read('gout'), write('grad')],
  overrides: { wg: WG, mean: 1, pos_vector: 0, has_gout: 0 },
  cpu: bceTargetGradTwin,
};

export function bceTargetGradLaunch(
  bindings: { x: BufferView; pos_weights: BufferView; gout: BufferView | null; dummy: BufferView; grad: BufferView },
  n: number,
  reduction: Reduction,
  posWeight: PositiveWeight = { scalar: 1 },
  label?: string,
): Launch {
  const vector = 'period' in posWeight;
  return launch(bceTargetGrad, {
    bindings: { x: bindings.x, pos_weights: bindings.pos_weights, gout: bindings.gout ?? bindings.dummy, grad: bindings.grad },
    params: lossParams({ n, ...(vector ? { classes: posWeight.period } : { pos_weight: posWeight.scalar }) }),
    overrides: { mean: reduction === 'mean' ? 1 : 0, pos_vector: vector ? 1 : 0, has_gout: bindings.gout ? 1 : 0 },
    threads: n,
    needs: { x: n, grad: n, ...(bindings.gout ? { gout: 1 } : {}), ...(vector ? { pos_weights: posWeight.period } : {}) },
    ...(label !== undefined ? { label } : {}),
  });
}
