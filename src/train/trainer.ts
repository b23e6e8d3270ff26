import type { Copy, Program, Staging } from '../backend/backend.js';
import { type BufferView, type DeviceBuffer, type Launch, view } from '../backend/kernel.js';
import type { Device } from '../device.js';
import { compileGraph, type CompiledGraph } from '../graph/compile.js';
import { EMBEDDING } from '../graph/ops/embedding.js';
import type { Parameter } from '../graph/parameter.js';
import { STEP_INFO, type Tensor } from '../graph/tensor.js';
import type { Loss } from '../nn/loss.js';
import type { Module } from '../nn/module.js';
import type { TrainingHooks } from '../optim/lr/scheduler.js';
import type { Optimizer } from '../optim/optimizer.js';
import { planUpdate, STATS, type UpdatePlan } from '../optim/update-plan.js';
import { batchOf, type Batched, checkInputValues, checkTargets, checkTargetValues, type IdLimit, inputDtype, kindOf, type Samples, samplesOf, targetsPerSample, validateOptions } from './batch.js';
import { FlatBuffers, FlatParameters } from './flat-parameters.js';
import { findLr, type FindLrOptions, type LrFinding } from './find-lr.js';
import { type EpochSummary, fit, type FitOptions } from './fit.js';
import { type ActivationStats, type LayerStats, type LayerStatsOptions, LayerStatsPlan, type TrackedStep } from './layer-stats.js';
import { StepLog } from './step-log.js';
import { type Traced, trace } from './trace.js';

/**
 * A learning-rate schedule: any schedule from `optim.lr`, or an object of your own with the
 * hooks it needs (`afterStep`, `onRecord`, `afterEpoch`, `onDevice`; see `optim.lr.TrainingHooks`).
 * The trainer calls `afterStep()` after enqueueing every step (closed-form schedules advance),
 * `onRecord(record)` as each record arrives (BoldDriver reads the loss), and `onDevice()` once for
 * work inside the step (GradientNormLR's scaling by the gradient norm); `fit` calls
 * `afterEpoch(summary)` (ReduceLROnPlateau steps on the validation loss). In a loop of your own,
 * step ReduceLROnPlateau with your metric yourself.
 */
export type Scheduler = TrainingHooks;

export interface RecoveryOptions {
  /** Steps between snapshots (default 100). */
  every?: number;
  /** Makes the device to resume on; default `createDevice({ backend: <the lost device's kind> })`. */
  device?: () => Promise<Device>;
  /** Called after each recovery, before training goes on. */
  onRecover?: (report: RecoveryReport) => void;
}

/** What a recovery from a lost device did. */
export interface RecoveryReport {
  /** The device's own words for the loss. */
  readonly reason: string;
  /** Steps enqueued when the loss was noticed. */
  readonly lostAtStep: number;
  /** The step training goes on from: the snapshot's. */
  readonly resumedFromStep: number;
  /** lostAtStep − resumedFromStep: steps to run again. */
  readonly stepsLost: number;
}

/** The trainer's state at one step, on the host: what a recovery restores. */
interface Snapshot {
  readonly step: number;
  readonly optimizerStep: number;
  readonly dataPosition: { epoch: number; batch: number };
  readonly schedule: Record<string, unknown> | null;
  readonly params: Float32Array;
  readonly buffers: Float32Array;
  readonly state: Float32Array[];
}

interface StatefulSchedule {
  stateDict(): Record<string, unknown>;
  loadStateDict(state: Record<string, unknown>): void;
}

const DEFAULT_SNAPSHOT_EVERY = 100;

export type NonFinitePolicy = 'warn' | 'throw' | 'skipStep' | 'stop' | 'ignore';

export interface TrainerOptions {
  loss: Loss;
  optimizer: Optimizer;
  scheduler?: Scheduler;
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
  /**
   * What a step whose loss or gradients are not finite (NaN or ±Infinity: a diverging learning
   * rate, an overflow) does:
   * - 'warn' (default): logs once when its record arrives, naming the step;
   * - 'throw': rejects that step's promises with an error naming the step, the learning rate and
   *   the first parameter whose gradient is not finite;
   * - 'skipStep': the device checks the loss and the gradient norm inside the step and, when
   *   either is not finite, leaves parameters and optimizer state as they were (as torch's
   *   GradScaler skips a step), without any wait; the record says `skipped: true`;
   * - 'stop': skips like 'skipStep', then `fit` ends after the step in flight and
   *   `trainer.stopped` says why; the model keeps its last finite weights;
   * - 'ignore': records it silently.
   * Module buffers updated in the forward pass (BatchNorm's running statistics) are not rolled back.
   */
  onNonFinite?: NonFinitePolicy;
  /**
   * Check every batch on the host before it reaches the device (default true): finite inputs and
   * float targets, class indices in range, token ids inside the embedding. Errors name the
   * sample and the position. Turn off only for data already checked, to save a pass over it.
   */
  checkInputs?: boolean;
  /**
   * Surviving a lost GPU device (a driver reset, a long-backgrounded tab, `device.destroy()`):
   * every `every` steps (default 100) the trainer copies parameters, module buffers and optimizer
   * state to the host asynchronously, with the host-side counters. When the device is lost,
   * `fit` asks `device()` for a new one (default: `createDevice` with the same backend kind),
   * rebuilds its plans there, restores the last snapshot and goes on, losing at most `every`
   * steps; `onRecover` hears of each recovery. `false` turns snapshots off. The CPU backend
   * cannot lose its device and takes no snapshots.
   */
  recovery?: false | RecoveryOptions;
  /**
   * Per-layer diagnostics every `every` steps (step % every === 0): each parameter's gradient
   * norm, weight norm and update-to-weight ratio, with `histograms` also log10|g| and weight
   * histograms, computed on the device in two extra dispatches of the tracked steps only, in
   * `record.layerStats`; with `activations`, also every module output's mean, standard deviation
   * and fraction of zeros, in `record.activationStats`. See `LayerStatsOptions`.
   */
  layerStats?: LayerStatsOptions;
}

/** One training step as recorded in `trainer.history`. */
export interface StepRecord {
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  /** Global gradient norm (NaN when neither clipping nor tracking computed it). */
  readonly gradNorm: number;
  readonly penalty: number;
  /**
   * True when the step's loss or gradients were not finite and, under onNonFinite 'skipStep' or
   * 'stop', its update was skipped on the device: parameters and optimizer state are unchanged.
   */
  readonly skipped?: boolean;
  /** Per parameter, by torch name, on the steps `layerStats` tracks; absent on the others. */
  readonly layerStats?: Readonly<Record<string, LayerStats>>;
  /** Per module path, on tracked steps with `layerStats.activations`; absent on the others. */
  readonly activationStats?: Readonly<Record<string, ActivationStats>>;
}

export interface StepDescription {
  readonly submits: number;
  readonly dispatches: number;
  /** `kernel: layer` for each dispatch, in order. */
  readonly kernels: readonly string[];
  /** The dispatches themselves, for profiling tools (kernel, buffers, grid). */
  readonly launches: readonly Launch[];
  readonly scratchBytes: number;
  readonly scratchBytesWithoutReuse: number;
  readonly parameterBytes: number;
  /** Extra dispatches of the steps `layerStats` tracks (0 without it); other steps run `dispatches`. */
  readonly trackedDispatches: number;
  /** Scratch bytes the tracked steps hold besides `scratchBytes` (with `layerStats.activations`). */
  readonly trackedScratchBytes: number;
}

/** Device bytes a trainer holds, by kind (see `Trainer.memory`). */
export interface TrainerMemory {
  readonly parameters: number;
  readonly gradients: number;
  readonly optimizerState: number;
  readonly buffers: number;
  readonly activations: number;
  readonly inputs: number;
  readonly other: number;
  readonly total: number;
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
  /** `program` with the layer statistics' launches, for the steps `layerStats` tracks. */
  readonly tracked: TrackedStep | null;
  readonly loss: BufferView;
  /** The loss in the tracked program (its own compilation's, with `layerStats.activations`). */
  readonly trackedLoss: BufferView | null;
  /** Number of classes for class-index targets. */
  readonly classes: number;
  /** The token ids the input may hold, for a model that begins with Embedding. */
  readonly ids: IdLimit | null;
}

/** The compiled eval-mode forward for one batch size. */
interface EvalPlan {
  readonly batch: number;
  readonly x: DeviceBuffer;
  readonly y: DeviceBuffer | null;
  readonly compiled: CompiledGraph;
  readonly program: Program;
  readonly output: BufferView;
  readonly loss: BufferView | null;
  readonly correct: BufferView | null;
  readonly ids: IdLimit | null;
}

const RECORD_WIDTH = 8;

/**
 * The ids the input may hold when it feeds embeddings (directly or through views): [0, n) of the
 * smallest table. Null for float inputs.
 */
function idLimit(t: Traced): IdLimit | null {
  if (t.x.dtype !== 'i32') return null;
  const reach = new Set<Tensor>([t.x]);
  let found: IdLimit | null = null;
  for (const node of t.graph.nodes) {
    if (node.op === EMBEDDING && reach.has(node.inputs[0]!)) {
      const limit = node.inputs[1]!.shape[0]!;
      if (!found || limit < found.limit) found = { limit, layer: `the embedding '${node.label}'` };
    } else if (node.inputs.length === 1 && reach.has(node.inputs[0]!)) {
      for (const o of node.outputs) if (o.dtype === 'i32') reach.add(o);
    }
  }
  return found;
}

/**
 * Trains a model on a device. The first step for a batch size traces the model, differentiates
 * it, plans memory and records forward + backward + clipping + update as one program; every
 * later step writes the batch and a few scalars and submits once, with no wait.
 */
export class Trainer {
  readonly history: StepRecord[] = [];
  private readonly plans = new Map<number, StepPlan>();
  private readonly evalPlans = new Map<string, EvalPlan>();
  private flat: FlatParameters | null = null;
  private inputKind: 'f32' | 'i32' | null = null;
  private modelBuffers: FlatBuffers | null = null;
  private update: UpdatePlan | null = null;
  private layerStats: LayerStatsPlan | null = null;
  private log: StepLog | null = null;
  /** The training loss, one float: every step plan writes it here, where the finite check reads it. */
  private lossBuffer: DeviceBuffer | null = null;
  /** [seed, step, 0, 0], rewritten before every step for counter-based randomness. */
  private stepInfo: DeviceBuffer | null = null;
  private readonly stepScalars = new Uint32Array(4);
  /**
   * Steps taken: the number of the next step, which with `seed` fixes its dropout masks (a mask is
   * a pure function of seed, step, layer and element). `io.loadCheckpoint` restores it.
   */
  stepCount = 0;
  /** Seed of the dropout masks: `options.seed`, or 0; `io.loadCheckpoint` restores it. */
  seed: number;
  /**
   * Where `fit` goes on in the data order: the epoch (shuffled with fit's `seed + epoch`) and the
   * batch within it. `fit` advances it with every step; `io.loadCheckpoint` restores it.
   */
  dataPosition: { epoch: number; batch: number } = { epoch: 0, batch: 0 };
  private disposed = false;
  private unchecked = false;
  private lastRecord: Promise<unknown> = Promise.resolve();
  private warnedNonFinite = false;
  /**
   * Set under onNonFinite 'stop' when a step's loss or gradients were not finite: that step and
   * the message; `fit` ends, and `step()` may still be called (after lowering the rate, say).
   */
  stopped: { step: number; message: string } | null = null;
  /** Set while profileStep runs its step: the dispatch times come back here. */
  private timing: { times: Promise<number[]> | null; launches: readonly Launch[] | null } | null = null;
  /** Set while findLr runs its sweep steps. */
  private sweeping = false;

  /** Reports of the recoveries from lost devices so far. */
  readonly recoveries: RecoveryReport[] = [];
  private current: Device;
  /** The last complete snapshot; the step of the last one taken; the buffer they are read through. */
  private snapshot: Snapshot | null = null;
  private snapshotStep = -Infinity;
  private snapshotStaging: Staging | null = null;

  constructor(
    device: Device,
    readonly model: Module,
    readonly options: TrainerOptions,
  ) {
    validateOptions(model, options);
    this.seed = options.seed ?? 0;
    this.current = device;
  }

  /** The device the trainer runs on; a new one after a recovery from a lost device. */
  get device(): Device {
    return this.current;
  }

  private get backend() {
    return this.current.backend;
  }

  private get snapshotEvery(): number {
    const r = this.options.recovery;
    if (r === false || !this.backend.whenLost) return 0;
    return r?.every ?? DEFAULT_SNAPSHOT_EVERY;
  }

  private schedule(): StatefulSchedule | null {
    const s = this.options.scheduler as Partial<StatefulSchedule> | undefined;
    return typeof s?.stateDict === 'function' && typeof s.loadStateDict === 'function' ? (s as StatefulSchedule) : null;
  }

  /**
   * The copies that snapshot the state after every step enqueued so far, when one is due: encoded
   * at the start of the next step's submit into one staging buffer made once, and read back
   * without a wait. The host counters are taken now, in the same order. None while the last
   * snapshot is still being read.
   */
  private snapshotCopies(): { copies: Copy[]; read: () => void } | null {
    const every = this.snapshotEvery;
    if (every === 0 || this.stepCount - this.snapshotStep < every) return null;
    const backend = this.backend;
    const { optimizer } = this.options;
    const sources = [this.flat!.layout.params, this.modelBuffers!.buffer, ...optimizer.deviceState(backend).buffers];
    const total = sources.reduce((a, b) => a + b.byteLength, 0);
    this.snapshotStaging ??= backend.createStaging(total, 'snapshot');
    const staging = this.snapshotStaging;
    if (staging.busy) return null;
    let at = 0;
    const copies = sources.map((src) => {
      const copy = { src, dst: staging, dstByteOffset: at, byteLength: src.byteLength, before: true };
      at += src.byteLength;
      return copy;
    });
    const host = {
      step: this.stepCount,
      optimizerStep: optimizer.stepCount,
      dataPosition: { ...this.dataPosition },
      schedule: this.schedule()?.stateDict() ?? null,
    };
    this.snapshotStep = this.stepCount;
    // Complete once the records of the steps before it are in `history` too.
    const recordsIn = this.lastRecord;
    const read = () => {
      Promise.all([staging.read(), recordsIn]).then(
        ([bytes]) => {
          if (backend !== this.backend) return;
          const parts = copies.map((c) => new Float32Array(bytes.slice(c.dstByteOffset, c.dstByteOffset + c.byteLength)));
          this.snapshot = { ...host, params: parts[0]!, buffers: parts[1]!, state: parts.slice(2) };
        },
        () => undefined,
      );
    };
    return { copies, read };
  }

  /**
   * `work`, or its failure as soon as the device is lost (a lost device may never settle the
   * reads that `work` waits for).
   */
  guard<T>(work: Promise<T>): Promise<T> {
    const lost = this.backend.whenLost;
    if (!lost) return work;
    return Promise.race([work, lost.then((reason) => Promise.reject(new Error(`Trainer: the device was lost (${reason})`)))]);
  }

  /**
   * After `error` stopped training: if the device was lost, resumes on a new device from the
   * last snapshot (see `recovery`) and resolves true; otherwise resolves false, changing nothing.
   */
  async recoverIfLost(error: unknown): Promise<boolean> {
    const lost = this.backend.whenLost;
    if (!lost || this.options.recovery === false || this.disposed) return false;
    const reason = await Promise.race([lost, new Promise<null>((r) => setTimeout(() => r(null), 200))]);
    if (reason === null) return false;
    await this.recover(reason, error);
    return true;
  }

  private async recover(reason: string, error: unknown): Promise<void> {
    const snap = this.snapshot;
    if (!snap || !this.flat) {
      throw new Error(`Trainer: the device was lost (${reason}) before the first snapshot was taken, so there is nothing to resume from: ${(error as Error)?.message ?? error}`);
    }
    const lostAtStep = this.stepCount;
    const make = (this.options.recovery || {}).device ?? (async () => (await import('../device.js')).createDevice({ backend: this.current.kind }));
    const next = await make();
    // Everything on the lost device goes, unread: the snapshot holds what survives.
    this.flat.restore(snap.params);
    this.modelBuffers!.restore(snap.buffers);
    this.options.optimizer.restorePacked(snap.state, snap.optimizerStep);
    this.releaseDevice();
    this.current = next;
    this.stepCount = snap.step;
    this.snapshotStep = snap.step;
    this.dataPosition = { ...snap.dataPosition };
    // The steps from the snapshot on run again; their records (those that came) go.
    const kept = this.history.filter((r) => r.step < snap.step);
    this.history.splice(0, this.history.length, ...kept);
    if (snap.schedule) this.schedule()?.loadStateDict(snap.schedule);
    this.lastRecord = Promise.resolve();
    const report: RecoveryReport = { reason, lostAtStep, resumedFromStep: snap.step, stepsLost: lostAtStep - snap.step };
    this.recoveries.push(report);
    (this.options.recovery || {}).onRecover?.(report);
  }

  private ensureState(): void {
    if (this.flat) return;
    try {
      this.makeState();
    } catch (e) {
      // All or nothing: what was made goes, and the model keeps its host values.
      (this.flat as FlatParameters | null)?.restore(null);
      (this.modelBuffers as FlatBuffers | null)?.restore(null);
      this.options.optimizer.discardDeviceState();
      this.releaseDevice();
      throw e;
    }
  }

  private makeState(): void {
    const { optimizer, clipGradNorm, clipGradValue, l1, l2, scheduler, trackGradNorm } = this.options;
    this.model.namedParameters();
    this.flat = new FlatParameters(this.backend, this.model.parameters(), optimizer);
    this.modelBuffers = new FlatBuffers(this.backend, [...this.model.buffers(), ...(this.options.loss.buffers ?? [])]);
    this.lossBuffer = this.backend.createBuffer(4, 'loss');
    const policy = this.options.onNonFinite ?? 'warn';
    this.update = planUpdate(this.backend, optimizer, this.flat.layout, {
      skipNonFinite: policy === 'skipStep' || policy === 'stop',
      loss: view(this.lossBuffer, 0, 1),
      clipGradNorm,
      clipGradValue,
      l1,
      l2,
      gradNormLR: scheduler?.onDevice?.().gradNormLR,
      computeNorm: trackGradNorm,
    });
    this.log = new StepLog(this.backend, RECORD_WIDTH);
    if (this.options.layerStats) this.layerStats = new LayerStatsPlan(this.backend, this.flat, this.options.layerStats);
    this.stepInfo = this.backend.createBuffer(16, 'step-info');
  }

  /**
   * The input's element type, fixed by the first batch: values (Float32Array) or token ids
   * (Int32Array, for a model that begins with Embedding).
   */
  private inputType(x: Float32Array | Int32Array, what: string): 'f32' | 'i32' {
    const dtype = inputDtype(x);
    this.inputKind ??= dtype;
    if (dtype !== this.inputKind) {
      const name = (d: string) => (d === 'i32' ? 'an Int32Array of token ids' : 'a Float32Array of values');
      throw new Error(`Trainer.${what}: x is ${name(dtype)}, but this trainer's model was traced with ${name(this.inputKind)}`);
    }
    return dtype;
  }

  private plan(batch: number): StepPlan {
    const hit = this.plans.get(batch);
    if (hit) return hit;
    this.ensureState();
    const flat = this.flat!;
    const params = flat.order.filter((p) => flat.trained.has(p));
    const t = trace(this.model, { batch, inputShape: this.options.inputShape, inputDtype: this.inputKind ?? 'f32', training: true, loss: this.options.loss, wrt: params });
    if (t.loss!.numel !== 1) throw new Error(`Trainer: the loss must be one number, got shape [${t.loss!.shape.join(', ')}] (use reduction 'mean' or 'sum')`);
    // All or nothing: a failure (out of memory, say) frees what this compilation made.
    const undo: (() => void)[] = [];
    try {
      const plan = this.compileStep(t, batch, params, undo);
      this.plans.set(batch, plan);
      this.unchecked = true;
      return plan;
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
  }

  private compileStep(t: Traced, batch: number, params: Parameter[], undo: (() => void)[]): StepPlan {
    const flat = this.flat!;
    const xBuf = this.backend.createBuffer(t.x.numel * 4, `x[${batch}]`);
    undo.push(() => this.backend.destroyBuffer(xBuf));
    const yBuf = this.backend.createBuffer(t.y!.numel * 4, `y[${batch}]`);
    undo.push(() => this.backend.destroyBuffer(yBuf));
    const bound = this.boundInputs(t, xBuf, yBuf);
    const lossView = view(this.lossBuffer!, 0, 1);
    bound.set(t.loss!, lossView);
    const outputs: Tensor[] = [t.loss!];
    t.grads.forEach((d, i) => {
      if (!d) return;
      if (bound.has(d)) throw new Error(`Trainer: the gradient of '${params[i]!.name}' is stored elsewhere already`);
      bound.set(d, flat.gradView(params[i]!));
      outputs.push(d);
    });
    const label = `train[batch ${batch}]`;
    const compiled = compileGraph(this.backend, { graph: t.graph, bound, outputs, label });
    undo.push(() => compiled.dispose());
    const program = this.backend.compile([...compiled.launches, ...this.update!.launches], label);
    undo.push(() => program.dispose());
    const tracked = this.layerStats?.trackedStep({ graph: t.graph, bound, outputs, label }, compiled, this.update!.launches) ?? null;
    const classes = this.options.loss.targets === 'class' ? (t.output.shape[1] ?? 1) : 0;
    const trackedLoss = tracked ? lossView : null;
    return { batch, x: xBuf, y: yBuf, compiled, program, tracked, loss: lossView, trackedLoss, classes, ids: idLimit(t) };
  }

  /** Views for the batch inputs, the per-step scalars and every parameter of a traced graph. */
  private boundInputs(t: Traced, x: DeviceBuffer, y: DeviceBuffer | null): Map<Tensor, BufferView> {
    const bound = new Map<Tensor, BufferView>([[t.x, { buffer: x, offset: 0, length: t.x.numel }]]);
    if (t.y && y) bound.set(t.y, { buffer: y, offset: 0, length: t.y.numel });
    const info = t.graph.inputs.get(STEP_INFO);
    if (info) bound.set(info, { buffer: this.stepInfo!, offset: 0, length: 4 });
    for (const [p, tensor] of t.graph.params) bound.set(tensor, this.flat!.paramView(p));
    for (const [b, tensor] of t.graph.buffers) bound.set(tensor, this.modelBuffers!.view(b));
    return bound;
  }

  /** The eval-mode forward (and loss, when targets are given) for one batch size. */
  private evalPlan(batch: number, withLoss: boolean): EvalPlan {
    const key = `${batch}/${withLoss}`;
    const hit = this.evalPlans.get(key);
    if (hit) return hit;
    this.ensureState();
    const t = trace(this.model, {
      batch,
      inputShape: this.options.inputShape,
      inputDtype: this.inputKind ?? 'f32',
      training: false,
      loss: withLoss ? this.options.loss : undefined,
    });
    const made: DeviceBuffer[] = [];
    let compiled: CompiledGraph | null = null;
    let program: Program;
    try {
      made.push(this.backend.createBuffer(t.x.numel * 4, `eval-x[${batch}]`));
      if (t.y) made.push(this.backend.createBuffer(t.y.numel * 4, `eval-y[${batch}]`));
      const outputs = [t.output, t.loss, t.correct].filter((o): o is Tensor => o !== null);
      const label = `eval[batch ${batch}]`;
      compiled = compileGraph(this.backend, { graph: t.graph, bound: this.boundInputs(t, made[0]!, made[1] ?? null), outputs, label });
      program = this.backend.compile(compiled.launches, label);
    } catch (e) {
      // All or nothing, as for a train step.
      compiled?.dispose();
      for (const b of made) this.backend.destroyBuffer(b);
      throw e;
    }
    const plan: EvalPlan = {
      batch,
      x: made[0]!,
      y: made[1] ?? null,
      compiled,
      program,
      output: compiled.views.get(t.output)!,
      loss: t.loss ? compiled.views.get(t.loss)! : null,
      correct: t.correct ? compiled.views.get(t.correct)! : null,
      ids: idLimit(t),
    };
    this.evalPlans.set(key, plan);
    return plan;
  }

  private async readView(v: BufferView): Promise<Float32Array> {
    return new Float32Array(await this.backend.read(v.buffer, v.offset * 4, v.length * 4));
  }

  /**
   * The model's output for a batch in eval mode (dropout off), like calling a torch module after
   * `model.eval()`: logits for a classifier. Runs after every step submitted before it.
   */
  async predict(x: Float32Array | Int32Array): Promise<Float32Array> {
    const batch = batchOf(x, this.options.inputShape, 'predict');
    this.inputType(x, 'predict');
    const plan = this.evalPlan(batch, false);
    if (this.options.checkInputs ?? true) checkInputValues(x, this.options.inputShape, plan.ids, 'Trainer.predict', 'batch');
    this.backend.write(plan.x, x);
    this.backend.run(plan.program);
    const out = await this.readView(plan.output);
    await this.backend.health();
    return out;
  }

  /**
   * Mean loss and accuracy (for class targets) over a dataset, in eval mode, in batches of
   * `batchSize` (the last one may be smaller). Both are per target: a sequence model with T
   * targets per sample counts each of them, and targets equal to the loss's `ignoreIndex` count
   * for neither. The loss of each batch is weighted by its targets, so the result is the mean
   * over the whole set (for `reduction: 'sum'`, the sum over the set divided by its targets).
   */
  async evaluate(dataset: Samples, { batchSize = 256 } = {}): Promise<{ loss: number; accuracy: number }> {
    const sample = this.options.inputShape.reduce((a, b) => a * b, 1);
    const n = batchOf(dataset.x, this.options.inputShape, 'evaluate');
    this.inputType(dataset.x, 'evaluate');
    const perTarget = targetsPerSample(dataset, n, 'Trainer.evaluate');
    const { loss: lossFn } = this.options;
    const sum = lossFn.reduction === 'sum';
    let lossSum = 0;
    let correct = 0;
    let counted = 0;
    for (let start = 0; start < n; start += batchSize) {
      const count = Math.min(batchSize, n - start);
      const plan = this.evalPlan(count, true);
      const y = dataset.y.subarray(start * perTarget, (start + count) * perTarget);
      const classes = lossFn.targets === 'class' ? plan.output.length / y.length : 0;
      const check = this.options.checkInputs ?? true;
      checkTargets(lossFn, { batch: count, y: plan.y!, classes }, y, false);
      const x = dataset.x.subarray(start * sample, (start + count) * sample);
      if (check) {
        checkInputValues(x, this.options.inputShape, plan.ids, 'Trainer.evaluate', 'dataset', start);
        checkTargetValues(lossFn, y, classes, 'Trainer.evaluate', 'dataset', start, perTarget);
      }
      this.backend.write(plan.x, x);
      this.backend.write(plan.y!, y);
      this.backend.run(plan.program);
      let targets = y.length;
      if (lossFn.targets === 'class') for (const v of y) if (v === lossFn.ignoreIndex) targets--;
      const value = (await this.readView(plan.loss!))[0]!;
      if (targets > 0) lossSum += sum ? value : value * targets;
      counted += targets;
      if (plan.correct) correct += (await this.readView(plan.correct)).reduce((a, b) => a + b, 0);
    }
    await this.backend.health();
    return { loss: lossSum / counted, accuracy: lossFn.targets === 'class' ? correct / counted : NaN };
  }

  /**
   * Enqueues one training step on a batch: `x` holds batch × inputShape values (flat, or as a
   * tensor `{ data, shape: [batch, ...inputShape] }`); `y` holds class indices (Int32Array) for
   * CrossEntropyLoss or targets shaped like the output (Float32Array). Returns at once; the loss
   * arrives when the device has finished.
   */
  step(
    input: Float32Array | Int32Array | Batched<Float32Array | Int32Array>,
    target: Int32Array | Float32Array | Batched<Int32Array | Float32Array>,
  ): StepResult {
    if (this.disposed) throw new Error('Trainer: step() after dispose()');
    const x = samplesOf(input, this.options.inputShape, 'x');
    const batch = batchOf(x, this.options.inputShape, 'step');
    this.inputType(x, 'step');
    const plan = this.plan(batch);
    const shaped = typeof target === 'object' && target !== null && !ArrayBuffer.isView(target) && 'data' in target;
    const y = (shaped ? target.data : target) as Int32Array | Float32Array;
    if (shaped && (!Array.isArray(target.shape) || target.shape[0] !== plan.batch || target.shape.reduce((a, b) => a * b, 1) !== y.length)) {
      throw new Error(`Trainer.step: y has shape [${target.shape.join(', ')}] and ${y.length} values, for a batch of ${plan.batch}`);
    }
    const check = this.options.checkInputs ?? true;
    if (check) checkInputValues(x, this.options.inputShape, plan.ids, 'Trainer.step', 'batch');
    checkTargets(this.options.loss, plan, y, check);

    const snapshot = this.snapshotCopies();
    this.backend.write(plan.x, x);
    this.backend.write(plan.y, y);
    const lr = this.options.optimizer.paramGroups[0]?.lr ?? NaN;
    this.update!.beforeStep();
    const step = this.stepCount++;
    this.stepScalars[0] = this.seed;
    this.stepScalars[1] = step;
    this.backend.write(this.stepInfo!, this.stepScalars);
    // Tracked steps submit the program with the statistics' launches, and their record's copies.
    // Profiled steps time the plain program, without the statistics.
    const tracked = !this.sweeping && !this.timing && this.layerStats?.tracks(step) ? plan.tracked : null;
    const lossView = tracked ? plan.trackedLoss! : plan.loss;
    const { copies, record } = this.log!.record(step, [
      { name: 'loss', src: lossView.buffer, byteOffset: lossView.offset * 4, floats: 1 },
      { name: 'stats', src: this.update!.stats, byteOffset: 0, floats: 5 },
    ]);
    const layer = tracked?.record() ?? null;
    const all = snapshot || layer ? [...(snapshot?.copies ?? []), ...copies, ...(layer?.copies ?? [])] : copies;
    if (this.timing) {
      this.timing.launches = [...plan.compiled.launches, ...this.update!.launches];
      this.timing.times = this.backend.timeRun!(plan.program, all);
    }
    else this.backend.run(tracked ? tracked.program : plan.program, all);
    snapshot?.read();
    // Sweep steps (findLr) stay outside the schedule, the history and the non-finite policy.
    const sweep = this.sweeping;
    const scheduler = sweep ? undefined : this.options.scheduler;
    scheduler?.afterStep?.();

    const result = Promise.all([record, layer?.values]).then(async ([{ loss, stats }, figures]) => {
      const reduced = this.update!.reduces;
      const skipped = stats![STATS.skip]! !== 0;
      // The host counted the step for the bias corrections; a skipped update did not happen.
      if (skipped) this.options.optimizer.stepCount -= 1;
      const rec: StepRecord = {
        step,
        loss: loss![0]!,
        gradNorm: reduced ? stats![STATS.gradNorm]! : NaN,
        lr: lr * stats![STATS.lrFactor]!,
        penalty: stats![STATS.penalty]!,
        ...(skipped ? { skipped } : {}),
        ...figures,
      };
      if (sweep) return rec;
      this.history.push(rec);
      scheduler?.onRecord?.(rec);
      if (skipped || !Number.isFinite(rec.loss) || (reduced && !Number.isFinite(rec.gradNorm))) await this.nonFinite(rec);
      return rec;
    });
    // The first step after a compilation also surfaces asynchronous validation/memory errors.
    const checked = this.unchecked ? this.backend.health().then(() => result) : result;
    this.unchecked = false;
    // Records reach callers in step order, even when one waited for a health check.
    const ordered = this.lastRecord.then(() => checked);
    this.lastRecord = ordered.catch(() => undefined);
    const loss = ordered.then((r) => r.loss);
    // The record carries the same failure: a caller that reads only one of them sees it once.
    loss.catch(() => undefined);
    return { loss, record: ordered };
  }

  /** Applies onNonFinite to a step whose loss or gradient norm is not finite. */
  private async nonFinite(rec: StepRecord): Promise<void> {
    const mode = this.options.onNonFinite ?? 'warn';
    if (mode === 'ignore' || (mode === 'warn' && this.warnedNonFinite)) return;
    if (mode === 'warn') this.warnedNonFinite = true;
    const layer = await this.firstNonFiniteGradient(rec);
    const message =
      `Trainer: step ${rec.step} has loss ${rec.loss} and gradient norm ${rec.gradNorm} at learning rate ${rec.lr}` +
      `${layer ? `; the first parameter with a non-finite gradient is ${layer}` : ''}. ` +
      `${rec.skipped ? 'Its update was skipped. ' : ''}` +
      'Training has diverged: lower the learning rate, clip gradients (clipGradNorm) or check the data.';
    if (mode === 'throw') throw new Error(message);
    if (mode === 'stop') {
      this.stopped ??= { step: rec.step, message };
      return;
    }
    if (mode === 'warn') console.warn(message);
  }

  /**
   * The first parameter, in the model's order, whose gradient holds a NaN or an infinity: from
   * the step's layer statistics when it was tracked, else from the gradients on the device now
   * (those of the latest step to finish, `step` or one after it).
   */
  private async firstNonFiniteGradient(rec: StepRecord): Promise<string | null> {
    if (rec.layerStats) {
      const bad = Object.entries(rec.layerStats).find(([, s]) => !Number.isFinite(s.gradNorm));
      return bad ? `'${bad[0]}' (step ${rec.step})` : null;
    }
    if (this.disposed || !this.flat) return null;
    try {
      const grads = await this.flat.readGradients();
      const bad = Object.entries(grads).find(([, g]) => g.some((v) => !Number.isFinite(v)));
      return bad ? `'${bad[0]}' (read after step ${rec.step})` : null;
    } catch {
      return null;
    }
  }

  /**
   * Checks a whole dataset as `step` checks each batch (unless `checkInputs` is false): the kinds
   * and lengths of x and y, finite values, class indices and token ids in range. Errors name the
   * sample by its index in the dataset. Compiles the step for `batchSize` if needed, for the
   * number of classes.
   */
  checkSamples(samples: Samples, batchSize: number, who = 'Trainer.checkSamples'): void {
    if (this.disposed) throw new Error(`${who}: the trainer was disposed`);
    const { inputShape, loss } = this.options;
    const n = batchOf(samples.x, inputShape, 'fit');
    this.inputType(samples.x, 'fit');
    const per = targetsPerSample(samples, n, who);
    if (this.options.checkInputs === false) return;
    const plan = this.plan(Math.min(n, Number.isInteger(batchSize) && batchSize > 0 ? batchSize : n));
    const y = samples.y;
    if (loss.targets === 'class' && !(y instanceof Int32Array)) throw new Error(`${who}: ${loss.name} takes class indices as an Int32Array, got ${kindOf(y)}`);
    if (loss.targets !== 'class' && !(y instanceof Float32Array)) throw new Error(`${who}: ${loss.name} takes targets as a Float32Array, got ${kindOf(y)}`);
    const perBatch = plan.y.byteLength / 4 / plan.batch;
    if (per !== perBatch) throw new Error(`${who}: y holds ${per} values per sample, the model's output takes ${perBatch}`);
    checkInputValues(samples.x, inputShape, plan.ids, who, 'dataset');
    checkTargetValues(loss, y, plan.classes, who, 'dataset', 0, per);
  }

  /**
   * Trains for whole epochs (or `maxSteps` steps) over a dataset, a `data` Dataset or plain
   * `{ x, y }` arrays (class indices or float targets): shuffled batches, steps enqueued without
   * waiting, `onStep` with each record as it arrives, `onEpoch` with the mean loss and the
   * validation result, the schedule's `afterEpoch` hook (ReduceLROnPlateau steps on the
   * validation loss), yields to the page every `yieldEvery` ms, early stop through `signal`.
   */
  fit(dataset: Samples, options: FitOptions): Promise<EpochSummary[]> {
    return fit(this, dataset, options);
  }

  /**
   * The learning-rate range test: `steps` real training steps on shuffled batches of `dataset`,
   * every parameter group at lr_i = startLr · (endLr / startLr)^(i / (steps − 1)) (the schedule is
   * not consulted), stopping early once the bias-corrected smoothed loss exceeds divergeFactor
   * times its lowest value. Returns the rates, the losses, the smoothed losses and the suggested
   * rate (`suggestLr`: the start of the steepest descent of the smoothed loss against log lr).
   * Parameters, module buffers, gradients and optimizer state are copied on the device first and
   * copied back afterwards, bit for bit, as are the schedule's state, each group's options and the
   * step counts; the sweep adds nothing to `history`. Training after `findLr` is the training
   * without it. Do not enqueue steps of your own while it runs. The schedule's hooks are not
   * called during the sweep, but GradientNormLR's scaling, compiled into the step, still applies.
   */
  async findLr(dataset: Samples, options: FindLrOptions): Promise<LrFinding> {
    if (this.disposed) throw new Error('Trainer: findLr() after dispose()');
    const { inputShape, optimizer, scheduler } = this.options;
    return findLr(
      {
        backend: this.backend,
        inputShape,
        optimizer,
        scheduler,
        enter: async () => {
          await this.lastRecord;
          this.ensureState();
          const { stepCount, log } = this;
          const historyLength = this.history.length;
          this.log = new StepLog(this.backend, RECORD_WIDTH);
          this.sweeping = true;
          return {
            buffers: [this.flat!.layout.params, this.flat!.layout.grads, this.modelBuffers!.buffer, this.update!.stats],
            leave: () => {
              this.sweeping = false;
              this.log!.dispose();
              this.log = log;
              this.stepCount = stepCount;
              this.history.length = historyLength;
            },
          };
        },
        step: (x, y) => this.step(x, y).record,
      },
      dataset,
      options,
    );
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
      launches,
      scratchBytes: plan.compiled.scratchBytes,
      scratchBytesWithoutReuse: plan.compiled.unplannedBytes,
      parameterBytes: this.flat!.layout.params.byteLength,
      trackedDispatches: plan.tracked ? plan.tracked.program.launchCount - plan.program.launchCount : 0,
      trackedScratchBytes: plan.tracked?.scratchBytes ?? 0,
    };
  }

  /**
   * The device memory this trainer holds, in bytes by kind: parameters, gradients, the optimizer's
   * state, module buffers (running statistics), activations (the scratch buffers of every
   * compiled train and eval step, reused within a step by liveness), the batch inputs, and the
   * rest (per-step scalars, the record ring, layer statistics, the snapshot's staging buffer). Read from what was allocated, so
   * it grows as new batch sizes compile.
   */
  memory(): TrainerMemory {
    const bytes = (b: DeviceBuffer | null | undefined): number => b?.byteLength ?? 0;
    if (!this.flat || this.disposed) {
      return { parameters: 0, gradients: 0, optimizerState: 0, buffers: 0, activations: 0, inputs: 0, other: 0, total: 0 };
    }
    const state = this.options.optimizer.deviceState(this.backend).buffers.reduce((a, b) => a + b.byteLength, 0);
    let activations = 0;
    let inputs = 0;
    for (const plan of [...this.plans.values(), ...this.evalPlans.values()]) {
      activations += plan.compiled.buffers.reduce((a, b) => a + b.byteLength, 0);
      inputs += bytes(plan.x) + bytes(plan.y);
    }
    for (const plan of this.plans.values()) activations += plan.tracked?.scratchBytes ?? 0;
    const other =
      bytes(this.update!.stats) + bytes(this.stepInfo) + bytes(this.lossBuffer) + bytes(this.log!.ring) + (this.layerStats?.bytes ?? 0) + (this.snapshotStaging?.byteLength ?? 0);
    const parts = {
      parameters: bytes(this.flat.layout.params),
      gradients: bytes(this.flat.layout.grads),
      optimizerState: state,
      buffers: bytes(this.modelBuffers!.buffer),
      activations,
      inputs,
      other,
    };
    return { ...parts, total: Object.values(parts).reduce((a, b) => a + b, 0) };
  }

  /**
   * Runs one training step on (x, y) with GPU timestamps around each dispatch (WebGPU devices
   * with 'timestamp-query') and resolves to each dispatch's kernel, layer and time on the device
   * in milliseconds, in order, with their total. The step is a real one: it trains and is
   * recorded like any other. Each dispatch runs in a compute pass of its own here, so the total
   * can exceed a normal step's time by the passes' overhead.
   */
  async profileStep(
    x: Float32Array | Int32Array | Batched<Float32Array | Int32Array>,
    y: Int32Array | Float32Array | Batched<Int32Array | Float32Array>,
  ): Promise<{ dispatches: { kernel: string; ms: number }[]; totalMs: number }> {
    if (!this.backend.timeRun) {
      throw new Error(`Trainer.profileStep: ${this.backend.description} has no GPU timestamps ('timestamp-query'); time dispatches on the host instead (bench/profile-step.ts)`);
    }
    this.timing = { times: null, launches: null };
    let result: StepResult;
    let timing: NonNullable<Trainer['timing']>;
    try {
      result = this.step(x, y);
    } finally {
      timing = this.timing;
      this.timing = null;
    }
    const [times] = await Promise.all([timing.times!, result.record]);
    const launches = timing.launches!;
    const dispatches = times.map((ms, i) => ({ kernel: `${launches[i]!.kernel.name}: ${launches[i]!.label ?? ''}`.trim(), ms }));
    return { dispatches, totalMs: times.reduce((a, b) => a + b, 0) };
  }

  /** The current gradients by parameter name (after the last step), read from the device. */
  async gradients(): Promise<Record<string, Float32Array>> {
    this.ensureState();
    return this.flat!.readGradients();
  }

  /**
   * Resolves when every submitted step has finished on the device and its record has reached
   * `history` and the schedule (BoldDriver's state depends on it).
   */
  async idle(): Promise<void> {
    await this.backend.idle();
    await this.lastRecord;
  }

  /**
   * Frees the device memory. Parameter values are copied back to the host first, so the model
   * stays usable (and can be given to another trainer); if the device was disposed or lost before
   * that copy, the model keeps its last host values.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.flat?.detach();
    await this.modelBuffers?.detach();
    if (this.update) await this.options.optimizer.detach();
    this.releaseDevice();
  }

  /** Frees every buffer and plan on the device; the model and optimizer are detached already. */
  private releaseDevice(): void {
    this.log?.dispose();
    this.update?.dispose();
    this.layerStats?.dispose();
    for (const plan of this.plans.values()) plan.tracked?.dispose();
    for (const plan of [...this.plans.values(), ...this.evalPlans.values()]) {
      plan.program.dispose();
      plan.compiled.dispose();
      this.backend.destroyBuffer(plan.x);
      if (plan.y) this.backend.destroyBuffer(plan.y);
    }
    this.plans.clear();
    this.evalPlans.clear();
    if (this.stepInfo) this.backend.destroyBuffer(this.stepInfo);
    if (this.lossBuffer) this.backend.destroyBuffer(this.lossBuffer);
    this.flat?.dispose();
    this.modelBuffers?.dispose();
    this.flat = this.modelBuffers = this.update = this.layerStats = this.log = null;
    this.stepInfo = this.lossBuffer = null;
    this.snapshotStaging?.dispose();
    this.snapshotStaging = null;
  }
}
