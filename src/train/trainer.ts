import type { Program } from '../backend/backend.js';
import type { BufferView, DeviceBuffer } from '../backend/kernel.js';
import type { Device } from '../device.js';
import { gradients } from '../graph/autodiff.js';
import { compileGraph, type CompiledGraph } from '../graph/compile.js';
import { fuseActivations } from '../graph/fuse.js';
import { Graph, type Tensor } from '../graph/tensor.js';
import type { Loss } from '../nn/loss.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import { planUpdate, type UpdatePlan } from '../optim/update-plan.js';
import { FlatParameters } from './flat-parameters.js';
import { StepLog } from './step-log.js';

/** A learning-rate schedule as the trainer drives it (see optim.lr). */
export interface SchedulerLike {
  step(): void;
  getLastLr(): number[];
  /** Signal-driven schedules (BoldDriver) observe each step's loss, in step order. */
  observeLoss?(loss: number): void;
  /** GradientNormLR: the lr is divided by ‖g‖^gamma on the device. */
  readonly gradientNormGamma?: number;
  readonly eps?: number;
}

export interface TrainerOptions {
  loss: Loss;
  optimizer: Optimizer;
  scheduler?: SchedulerLike;
  /** Shape of one sample, without the batch dimension: [784] or [1, 28, 28]. */
  inputShape: readonly number[];
  /** Clip the global L2 norm of the gradients to this value (torch.nn.utils.clip_grad_norm_). */
  clipGradNorm?: number;
  /** Clamp every gradient element to [-clipGradValue, clipGradValue] (clip_grad_value_). */
  clipGradValue?: number;
  /** Penalties added to the loss: l1 · Σ|w| + l2 / 2 · Σw². The reported loss excludes them. */
  l1?: number;
  l2?: number;
  /** Seed of the counter-based generator behind dropout masks. */
  seed?: number;
  /** Compute the gradient norm every step for diagnostics even without clipping. */
  trackGradNorm?: boolean;
}

/** One training step as recorded in `trainer.history`. */
export interface StepRecord {
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  /** Global gradient norm (NaN when neither clipping nor tracking computed it). */
  readonly gradNorm: number;
  readonly penalty: number;
}

export interface StepDescription {
  readonly submits: number;
  readonly dispatches: number;
  /** `kernel: layer` for each dispatch, in order. */
  readonly kernels: readonly string[];
  readonly scratchBytes: number;
  readonly scratchBytesWithoutReuse: number;
  readonly parameterBytes: number;
}

export interface StepResult {
  /** Resolves when the device has finished the step; never awaited inside the step. */
  readonly loss: Promise<number>;
  readonly record: Promise<StepRecord>;
}

/** The compiled train step for one batch size. */
interface StepPlan {
  readonly batch: number;
  readonly x: DeviceBuffer;
  readonly y: DeviceBuffer;
  readonly compiled: CompiledGraph;
  readonly program: Program;
  readonly loss: BufferView;
  /** Number of classes for class-index targets. */
  readonly classes: number;
}

const RECORD_WIDTH = 8;

/**
 * Trains a model on a device. The first step for a batch size traces the model, differentiates
 * it, plans memory and records forward + backward + clipping + update as one program; every
 * later step writes the batch and a few scalars and submits once, with no wait.
 */
export class Trainer {
  readonly history: StepRecord[] = [];
  private readonly plans = new Map<number, StepPlan>();
  private flat: FlatParameters | null = null;
  private update: UpdatePlan | null = null;
  private log: StepLog | null = null;
  private stepCount = 0;
  private disposed = false;
  private unchecked = false;

  constructor(
    readonly device: Device,
    readonly model: Module,
    readonly options: TrainerOptions,
  ) {
    const { inputShape, clipGradNorm, clipGradValue, l1 = 0, l2 = 0 } = options;
    if (!options.loss || typeof options.loss.apply !== 'function') throw new Error('Trainer: options.loss must be a loss module such as new nn.CrossEntropyLoss()');
    if (!options.optimizer) throw new Error('Trainer: options.optimizer is required');
    if (!Array.isArray(inputShape) || inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`Trainer: inputShape must be a non-empty list of positive integers, got ${JSON.stringify(inputShape)}`);
    }
    if (clipGradNorm !== undefined && !(clipGradNorm > 0)) throw new Error(`Trainer: clipGradNorm must be > 0, got ${clipGradNorm}`);
    if (clipGradValue !== undefined && !(clipGradValue > 0)) throw new Error(`Trainer: clipGradValue must be > 0, got ${clipGradValue}`);
    if (clipGradNorm !== undefined && clipGradValue !== undefined) throw new Error('Trainer: use clipGradNorm or clipGradValue, not both');
    if (!(l1 >= 0)) throw new Error(`Trainer: l1 must be >= 0, got ${l1}`);
    if (!(l2 >= 0)) throw new Error(`Trainer: l2 must be >= 0, got ${l2}`);
    const owned = new Set(model.parameters());
    for (const group of options.optimizer.paramGroups) {
      for (const p of group.params) {
        if (!owned.has(p)) throw new Error(`Trainer: the optimizer holds a parameter ('${p.name}') that is not in the model`);
      }
    }
  }

  private get backend() {
    return this.device.backend;
  }

  private ensureState(): void {
    if (this.flat) return;
    const { optimizer, clipGradNorm, clipGradValue, l1, l2, scheduler, trackGradNorm } = this.options;
    this.model.namedParameters();
    this.flat = new FlatParameters(this.backend, this.model.parameters(), optimizer.paramGroups.map((g) => g.params));
    const gamma = scheduler?.gradientNormGamma;
    this.update = planUpdate(this.backend, optimizer, this.flat.layout, {
      clipGradNorm,
      clipGradValue,
      l1,
      l2,
      gradNormLR: gamma === undefined ? undefined : { gamma, eps: scheduler?.eps ?? 1e-12 },
      computeNorm: trackGradNorm,
    });
    this.log = new StepLog(this.backend, RECORD_WIDTH);
  }

  private plan(batch: number): StepPlan {
    const hit = this.plans.get(batch);
    if (hit) return hit;
    this.ensureState();
    const flat = this.flat!;
    const { loss: lossFn, inputShape } = this.options;
    const g = new Graph();
    this.model.train(true);
    const x = g.input('x', [batch, ...inputShape]);
    let out = this.model.forward(x);
    const y = lossFn.targets === 'class' ? g.input('y', [batch], 'i32') : g.input('y', out.shape);
    const { loss } = lossFn.apply(out, y);
    out = fuseActivations(g)(out);
    const params = flat.order.filter((p) => flat.trained.has(p));
    const paramTensors = params.map((p) => g.param(p));
    const grads = gradients(g, loss, paramTensors);

    const xBuf = this.backend.createBuffer(x.numel * 4, `x[${batch}]`);
    const yBuf = this.backend.createBuffer(y.numel * 4, `y[${batch}]`);
    const bound = new Map<Tensor, BufferView>([
      [x, { buffer: xBuf, offset: 0, length: x.numel }],
      [y, { buffer: yBuf, offset: 0, length: y.numel }],
    ]);
    for (const [p, t] of g.params) bound.set(t, flat.paramView(p));
    const outputs: Tensor[] = [loss];
    grads.forEach((d, i) => {
      if (!d) return;
      if (bound.has(d)) throw new Error(`Trainer: the gradient of '${params[i]!.name}' is stored elsewhere already`);
      bound.set(d, flat.gradView(params[i]!));
      outputs.push(d);
    });
    const label = `train[batch ${batch}]`;
    const compiled = compileGraph(this.backend, { graph: g, bound, outputs, label });
    const program = this.backend.compile([...compiled.launches, ...this.update!.launches], label);
    const classes = lossFn.targets === 'class' ? (out.shape[1] ?? 1) : 0;
    const plan = { batch, x: xBuf, y: yBuf, compiled, program, loss: compiled.views.get(loss)!, classes };
    this.unchecked = true;
    this.plans.set(batch, plan);
    return plan;
  }

  /**
   * Enqueues one training step on a batch: `x` holds batch × inputShape values; `y` holds class
   * indices (Int32Array) for CrossEntropyLoss or targets shaped like the output (Float32Array).
   * Returns at once; the loss arrives when the device has finished.
   */
  step(x: Float32Array, y: Int32Array | Float32Array): StepResult {
    if (this.disposed) throw new Error('Trainer: step() after dispose()');
    const sample = this.options.inputShape.reduce((a, b) => a * b, 1);
    if (!(x instanceof Float32Array)) throw new Error('Trainer.step: x must be a Float32Array');
    if (x.length === 0 || x.length % sample !== 0) {
      throw new Error(`Trainer.step: x has ${x.length} values, not a multiple of inputShape [${this.options.inputShape.join(', ')}] (${sample} per sample)`);
    }
    const batch = x.length / sample;
    const plan = this.plan(batch);
    this.checkTargets(plan, y);

    this.backend.write(plan.x, x);
    this.backend.write(plan.y, y);
    const lr = this.options.optimizer.paramGroups[0]?.lr ?? NaN;
    this.update!.beforeStep();
    const step = this.stepCount++;
    const { copies, record } = this.log!.record(step, [
      { src: plan.loss.buffer, byteOffset: plan.loss.offset * 4, floats: 1 },
      { src: this.update!.stats, byteOffset: 0, floats: 4 },
    ]);
    this.backend.run(plan.program, copies);
    this.options.scheduler?.step();

    const result = record.then((r) => {
      const rec: StepRecord = { step, loss: r[0]!, gradNorm: r[1]!, lr: lr * (r[3]! || 1), penalty: r[4]! };
      this.history.push(rec);
      this.options.scheduler?.observeLoss?.(rec.loss);
      return rec;
    });
    // The first step after a compilation also surfaces asynchronous validation/memory errors.
    const checked = this.unchecked ? this.backend.health().then(() => result) : result;
    this.unchecked = false;
    return { loss: checked.then((r) => r.loss), record: checked };
  }

  private checkTargets(plan: StepPlan, y: Int32Array | Float32Array): void {
    const yTensorLength = plan.y.byteLength / 4;
    if (this.options.loss.targets === 'class') {
      if (!(y instanceof Int32Array)) throw new Error(`Trainer.step: ${this.options.loss.name} takes class indices as an Int32Array`);
      if (y.length !== plan.batch) throw new Error(`Trainer.step: ${y.length} targets for a batch of ${plan.batch}`);
      const { classes } = plan;
      for (let i = 0; i < y.length; i++) {
        if (!(y[i]! >= 0 && y[i]! < classes)) throw new Error(`Trainer.step: target ${y[i]} at index ${i} is outside [0, ${classes})`);
      }
    } else {
      if (!(y instanceof Float32Array)) throw new Error(`Trainer.step: ${this.options.loss.name} takes targets as a Float32Array`);
      if (y.length !== yTensorLength) throw new Error(`Trainer.step: ${y.length} target values, the output holds ${yTensorLength}`);
    }
  }

  /**
   * What one training step at `batch` runs: the dispatches in order (labelled by layer), and the
   * device memory it holds. Compiles the step if it was not compiled yet.
   */
  describeStep(batch: number): StepDescription {
    const plan = this.plan(batch);
    const launches = [...plan.compiled.launches, ...this.update!.launches];
    return {
      submits: 1,
      dispatches: plan.program.launchCount,
      kernels: launches.map((l) => `${l.kernel.name}: ${l.label ?? ''}`.trim()),
      scratchBytes: plan.compiled.scratchBytes,
      scratchBytesWithoutReuse: plan.compiled.unplannedBytes,
      parameterBytes: this.flat!.layout.params.byteLength,
    };
  }

  /** The current gradients by parameter name (after the last step), read from the device. */
  async gradients(): Promise<Record<string, Float32Array>> {
    this.ensureState();
    return this.flat!.readGradients();
  }

  /** Resolves when every submitted step has finished on the device. */
  async idle(): Promise<void> {
    await this.backend.idle();
  }

  /**
   * Frees the device memory. Parameter values are copied back to the host first, so the model
   * stays usable (and can be given to another trainer).
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.flat?.detach();
    this.log?.dispose();
    this.update?.dispose();
    for (const plan of this.plans.values()) {
      plan.program.dispose();
      plan.compiled.dispose();
      this.backend.destroyBuffer(plan.x);
      this.backend.destroyBuffer(plan.y);
    }
    this.plans.clear();
    this.flat?.dispose();
  }
}
