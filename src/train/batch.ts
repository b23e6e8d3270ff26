/**
 * The checks a Trainer makes before it touches the device: its options at construction, and each
 * batch's values and targets. Every message names the problem and the shapes involved.
 */
import type { DeviceBuffer } from '../backend/kernel.js';
import { permutation } from '../data/random.js';
import type { Loss } from '../nn/loss.js';
import type { Module } from '../nn/module.js';
import { validateLayerStats } from './layer-stats.js';
import type { TrainerOptions } from './trainer.js';

/** A batch as a shaped tensor: `shape` is [batch, ...sample] and `data` holds its values in order. */
export interface Batched<T extends Float32Array | Int32Array> {
  readonly data: T;
  readonly shape: readonly number[];
}

/**
 * Samples for `fit` and `evaluate`: any `data` Dataset, or plain arrays. `x` holds n samples of
 * the trainer's inputShape back to back; `y` holds one class index per sample (Int32Array) for
 * CrossEntropyLoss, or float targets shaped like the model's output (Float32Array, n × outputs
 * values) for a regression loss such as MSELoss.
 */
export interface Samples {
  /** Values (Float32Array), or token ids (Int32Array) for a model that begins with Embedding. */
  readonly x: Float32Array | Int32Array;
  readonly y: Int32Array | Float32Array;
}

/** The element type of a model's input, from the typed array that holds it. */
export function inputDtype(x: Float32Array | Int32Array): 'f32' | 'i32' {
  return x instanceof Int32Array ? 'i32' : 'f32';
}

export function validateOptions(model: Module, options: TrainerOptions): void {
  const { inputShape, clipGradNorm, clipGradValue, l1 = 0, l2 = 0, seed, onNonFinite } = options;
  if (!options.loss || typeof options.loss.apply !== 'function') throw new Error('Trainer: options.loss must be a loss module such as new nn.CrossEntropyLoss()');
  if (!options.optimizer) throw new Error('Trainer: options.optimizer is required');
  if (!Array.isArray(inputShape) || inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`Trainer: inputShape must be a non-empty list of positive integers, got ${JSON.stringify(inputShape)}`);
  }
  if (clipGradNorm !== undefined && !(clipGradNorm > 0)) throw new Error(`Trainer: clipGradNorm must be > 0, got ${clipGradNorm}`);
  if (clipGradValue !== undefined && !(clipGradValue > 0)) throw new Error(`Trainer: clipGradValue must be > 0, got ${clipGradValue}`);
  if (clipGradNorm !== undefined && clipGradValue !== undefined) throw new Error('Trainer: use clipGradNorm or clipGradValue, not both');
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) {
    throw new Error(`Trainer: seed must be an integer in [0, 2^32), got ${seed}`);
  }
  if (onNonFinite !== undefined && !['warn', 'throw', 'skipStep', 'stop', 'ignore'].includes(onNonFinite)) {
    throw new Error(`Trainer: onNonFinite must be 'warn', 'throw', 'skipStep', 'stop' or 'ignore', got '${String(onNonFinite)}'`);
  }
  if (options.checkInputs !== undefined && typeof options.checkInputs !== 'boolean') {
    throw new Error(`Trainer: checkInputs must be true or false, got ${JSON.stringify(options.checkInputs)}`);
  }
  if (!(l1 >= 0)) throw new Error(`Trainer: l1 must be >= 0, got ${l1}`);
  if (!(l2 >= 0)) throw new Error(`Trainer: l2 must be >= 0, got ${l2}`);
  validateLayerStats(options.layerStats);
  const owned = new Set(model.parameters());
  for (const group of options.optimizer.paramGroups) {
    for (const p of group.params) {
      if (!owned.has(p)) throw new Error(`Trainer: the optimizer holds a parameter ('${p.name}') that is not in the model`);
    }
  }
}

/** The values of a batch given flat or as a shaped tensor, whose shape must be [batch, ...sample]. */
export function samplesOf<T extends Float32Array | Int32Array>(input: T | Batched<T>, sample: readonly number[], name: string): T {
  if (input instanceof Float32Array || input instanceof Int32Array || typeof input !== 'object' || input === null || !('data' in input)) return input as T;
  if (!Array.isArray(input.shape)) throw new Error(`Trainer: ${name} is { data, shape } without a shape array, got shape ${JSON.stringify(input.shape)}`);
  const [batch, ...rest] = input.shape;
  if (rest.join() !== sample.join() || !(batch! >= 1) || batch! * rest.reduce((a, b) => a * b, 1) !== input.data.length) {
    throw new Error(`Trainer: ${name} has shape [${input.shape.join(', ')}] and ${input.data.length} values; expected [batch, ${sample.join(', ')}]`);
  }
  return input.data;
}

/** The batch size of flat values `x` of samples shaped `inputShape`. */
export function batchOf(x: Float32Array | Int32Array, inputShape: readonly number[], what: string): number {
  const sample = inputShape.reduce((a, b) => a * b, 1);
  if (!(x instanceof Float32Array || x instanceof Int32Array)) {
    throw new Error(`Trainer.${what}: x must be a Float32Array (values) or an Int32Array (token ids), got ${kindOf(x)}`);
  }
  if (x.length === 0 || x.length % sample !== 0) {
    throw new Error(`Trainer.${what}: x has ${x.length} values, not a multiple of inputShape [${inputShape.join(', ')}] (${sample} per sample)`);
  }
  return x.length / sample;
}

/**
 * The shape of a loss's targets for a model output of `output`: class indices drop the class dim
 * (dim 1, as torch: logits [N, C, d…] take targets [N, d…]); float targets match the output.
 */
export function targetShape(loss: Loss, output: readonly number[]): number[] {
  return loss.targets === 'class' ? [output[0]!, ...output.slice(2)] : [...output];
}

/** The name of a value's kind, for errors: 'Float64Array', 'Array', 'string'. */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/**
 * Class indices in range for the loss (or its ignoreIndex), or finite float targets filling the
 * target buffer `plan.y`. Errors name the sample of the batch and the position within it.
 */
export function checkTargets(loss: Loss, plan: { batch: number; y: DeviceBuffer; classes: number }, y: Int32Array | Float32Array, checkValues = true): void {
  const { name, targets } = loss;
  if (targets === 'class') {
    if (!(y instanceof Int32Array)) throw new Error(`Trainer: ${name} takes class indices as an Int32Array, got ${kindOf(y)}`);
    const expected = plan.y.byteLength / 4;
    if (y.length !== expected) {
      throw new Error(`Trainer: ${y.length} targets for a batch of ${plan.batch}, whose output takes ${expected} class indices`);
    }
  } else {
    if (!(y instanceof Float32Array)) throw new Error(`Trainer: ${name} takes targets as a Float32Array, got ${kindOf(y)}`);
    if (y.length * 4 !== plan.y.byteLength) throw new Error(`Trainer: ${y.length} target values, the output holds ${plan.y.byteLength / 4}`);
  }
  if (checkValues) checkTargetValues(loss, y, plan.classes, 'Trainer', 'batch', 0, y.length / plan.batch);
}

/** Where flat element `i` of samples of `per` values each sits: 'sample 3 of the batch, position [0, 5]'. */
function position(i: number, per: number, shape: readonly number[] | null, where: string, first: number): string {
  const sample = Math.floor(i / per);
  let rest = i - sample * per;
  const dims = shape ?? [per];
  const at: number[] = new Array(dims.length);
  for (let d = dims.length - 1; d >= 0; d--) {
    at[d] = rest % dims[d]!;
    rest = Math.floor(rest / dims[d]!);
  }
  return `sample ${first + sample} of the ${where}${per > 1 ? `, position [${at.join(', ')}]` : ''}`;
}

/** Index of the first NaN or ±Infinity of `a`, or -1. */
function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

/** The token ids a model's input must lie in: [0, limit) for the embedding `layer`. */
export interface IdLimit {
  readonly limit: number;
  readonly layer: string;
}

/**
 * Input values a model can train on: finite floats, or token ids inside the embedding that reads
 * them. `first` numbers the samples (their index in a dataset); errors name who, where and what.
 */
export function checkInputValues(x: Float32Array | Int32Array, inputShape: readonly number[], ids: IdLimit | null, who: string, where: string, first = 0): void {
  const per = inputShape.reduce((a, b) => a * b, 1);
  if (x instanceof Float32Array) {
    const i = firstNonFinite(x);
    if (i >= 0) throw new Error(`${who}: x holds ${x[i]} at ${position(i, per, inputShape, where, first)}; inputs must be finite numbers`);
  } else if (ids) {
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v < 0 || v >= ids.limit) {
        throw new Error(`${who}: x holds token id ${v} at ${position(i, per, inputShape, where, first)}, outside [0, ${ids.limit}) of ${ids.layer}`);
      }
    }
  }
}

/** Class indices in [0, classes) or the loss's ignoreIndex, or finite float targets. */
export function checkTargetValues(loss: Loss, y: Int32Array | Float32Array, classes: number, who: string, where: string, first = 0, perSample = 0): void {
  const per = perSample || 1;
  if (y instanceof Int32Array) {
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (!(v >= 0 && v < classes) && v !== loss.ignoreIndex) {
        const ignore = loss.ignoreIndex !== undefined ? ` or ignoreIndex ${loss.ignoreIndex}` : '';
        throw new Error(`${who}: y holds class ${v} at ${position(i, per, null, where, first)}, outside [0, ${classes})${ignore}`);
      }
    }
  } else {
    const i = firstNonFinite(y);
    if (i >= 0) throw new Error(`${who}: y holds ${y[i]} at ${position(i, per, null, where, first)}; targets must be finite numbers`);
  }
}

/** Target values per sample of `samples`, which hold `n` samples; an error names `who`. */
export function targetsPerSample(samples: Samples, n: number, who: string): number {
  const { y } = samples;
  if (!(y instanceof Int32Array || y instanceof Float32Array)) {
    throw new Error(`${who}: y must be class indices (Int32Array) or float targets (Float32Array), got ${kindOf(y)}`);
  }
  const per = y.length / n;
  if (!Number.isInteger(per) || per < 1) throw new Error(`${who}: y holds ${y.length} values for ${n} samples`);
  return per;
}

export interface EpochOrder {
  /** Visit the samples in an order fixed by `seed`; default false. */
  shuffle?: boolean;
  seed?: number;
  /** Skip the last batch when it is smaller than batchSize. */
  dropLast?: boolean;
}

/**
 * One epoch of batches over samples of `inputShape`, each batch a fresh copy; every sample
 * appears once (at most once with dropLast). The shuffled order is `data.batches`'s for the same
 * seed, so a Dataset visits its samples in the same order through either.
 */
export function* epochBatches(
  samples: Samples,
  inputShape: readonly number[],
  batchSize: number,
  { shuffle = false, seed = 0, dropLast = false }: EpochOrder = {},
): Generator<Samples> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`fit: batchSize must be an integer >= 1, got ${batchSize}`);
  const n = batchOf(samples.x, inputShape, 'fit');
  const size = samples.x.length / n;
  const per = targetsPerSample(samples, n, 'Trainer.fit');
  const order = shuffle ? permutation(n, seed) : null;
  const count = dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
  for (let b = 0; b < count; b++) {
    const m = Math.min(batchSize, n - b * batchSize);
    const x = samples.x instanceof Int32Array ? new Int32Array(m * size) : new Float32Array(m * size);
    const y = samples.y instanceof Int32Array ? new Int32Array(m * per) : new Float32Array(m * per);
    for (let i = 0; i < m; i++) {
      const from = order ? order[b * batchSize + i]! : b * batchSize + i;
      x.set(samples.x.subarray(from * size, (from + 1) * size), i * size);
      y.set(samples.y.subarray(from * per, (from + 1) * per), i * per);
    }
    yield { x, y };
  }
}
