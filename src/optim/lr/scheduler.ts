/**
 * The shared base of the learning-rate schedules in `optim.lr`.
 *
 * Conventions follow torch.optim.lr_scheduler: a schedule is built on an optimizer after the
 * optimizer's groups have their rates; construction sets each group's rate for step 0 and leaves
 * `lastEpoch = 0`; `step()` is called once after every optimizer step, increments `lastEpoch` and
 * sets the rate for the next optimizer step. So after n calls of `step()` the rate is `lrAt(n)`.
 * A schedule only ever writes `group.lr` (and, for OneCycleLR, the group's momentum); it never
 * wraps or patches the optimizer.
 */
import type { Backend } from '../../backend/backend.js';
import type { DeviceBuffer } from '../../backend/kernel.js';
import { fail, integer, show } from './checks.js';

/** A training step's outcome, as the Trainer reports it to a schedule (a `StepRecord`). */
export interface StepSignal {
  readonly step: number;
  /** The step's training loss (dropout active, penalties excluded). */
  readonly loss: number;
  /** The step's global gradient norm, when the step computed it (NaN or absent otherwise). */
  readonly gradNorm?: number;
}

/** An epoch's outcome, as `fit` reports it to a schedule (an `EpochSummary`). */
export interface EpochSignal {
  readonly epoch: number;
  /** Mean training loss over the epoch's steps. */
  readonly loss: number;
  /** The held-out result when `fit` was given a validation set. */
  readonly validation: { readonly loss: number } | null;
}

/**
 * A running mean of squared gradient norms kept on the device (AverageGradientLR): the pair
 * [v, p] of shaders/optim/average_lr.wgsl, in a buffer the schedule owns so that it outlives any
 * one update plan.
 */
export interface AverageNormState {
  /** Weight of the old mean in v_t = beta * v_{t-1} + (1 - beta) * ||g_t||^2. */
  readonly beta: number;
  /** The pair's buffer on this backend (at least 2 floats), made on first use. */
  buffer(backend: Backend): DeviceBuffer;
}

/** What a schedule asks the Trainer to compute on the device, inside each step. */
export interface DeviceSchedule {
  /**
   * Multiply every group's rate by 1 / max(||g||, eps)^gamma of the step's own gradient; with
   * `average`, by 1 / (sqrt(v_t / (1 - beta^t)) + eps) instead (gamma unused).
   */
  readonly gradNormLR?: { readonly gamma: number; readonly eps: number; readonly average?: AverageNormState };
}

/**
 * How a schedule takes part in training. The Trainer (and `Trainer.fit`) calls these hooks and
 * knows nothing else of a schedule, so a schedule of your own only needs the hooks it uses:
 *
 * - `afterStep()`: right after each step is enqueued, before its loss is known; a rate set here
 *   is the next step's (closed-form schedules advance here).
 * - `onRecord(record)`: with each step's record, in step order, as it arrives from the device a
 *   step or two late (BoldDriver reads the loss).
 * - `afterEpoch(summary)`: by `fit` after each epoch, before `onEpoch` (ReduceLROnPlateau steps on
 *   the validation loss, else the epoch's mean training loss).
 * - `onDevice()`: once, when the Trainer plans its update, for work done inside the step
 *   (GradientNormLR scales the rate by the gradient norm with no wait on the host).
 */
export interface TrainingHooks {
  afterStep?(): void;
  onRecord?(record: StepSignal): void;
  afterEpoch?(summary: EpochSignal): void;
  onDevice?(): DeviceSchedule;
}

/** The part of an optimizer a schedule needs: one learning rate per parameter group. */
export interface OptimizerLike {
  readonly paramGroups: { lr: number }[];
}

/**
 * Each group's initial rate, recorded by the first schedule built on it (torch keeps it as
 * `group['initial_lr']`). Later schedules on the same group, such as the second half of a
 * warmup + cosine SequentialLR whose first half already lowered the rate, scale the same initial
 * rate. Kept beside the optimizer rather than written into its groups.
 */
const initialLrs = new WeakMap<object, number>();

function initialLr(group: { lr: number }): number {
  let lr = initialLrs.get(group);
  if (lr === undefined) {
    lr = group.lr;
    initialLrs.set(group, lr);
  }
  return lr;
}

/** OneCycleLR defines the initial rate itself (maxLr / divFactor), overriding any earlier record. */
export function setInitialLr(group: { lr: number }, lr: number): void {
  initialLrs.set(group, lr);
}

/** A number in a JSON state dict; non-finite values (a metric's "no best yet") travel as strings. */
export function encodeNumber(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}

export function decodeNumber(schedule: string, key: string, value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === 'Infinity' || value === '-Infinity' || value === 'NaN') return Number(value);
  fail(schedule, `state.${key}`, 'a number', value);
}

function numbers(schedule: string, key: string, value: unknown, length: number): number[] {
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'number')) {
    fail(schedule, `state.${key}`, `an array of ${length} numbers`, value);
  }
  return value.slice();
}

export abstract class LRScheduler {
  readonly optimizer: OptimizerLike;
  /** The schedule's name, used in error messages and to tag its state dict. */
  readonly name: string;
  /** Steps taken: 0 after construction, n after n calls of `step()` (torch's `last_epoch`). */
  lastEpoch = 0;
  /** The rate each group's schedule scales (torch's `base_lrs`). */
  protected base: number[];
  protected lastLr: number[];

  /**
   * `base: 'initial'` takes each group's recorded initial rate (torch's `_LRScheduler`);
   * `'current'` takes the rate as it is now (torch's ReduceLROnPlateau).
   */
  protected constructor(optimizer: OptimizerLike, name: string, base: 'initial' | 'current' = 'initial') {
    const groups = (optimizer as OptimizerLike | undefined)?.paramGroups;
    if (!Array.isArray(groups) || groups.length === 0 || !groups.every((g) => typeof g?.lr === 'number')) {
      fail(name, 'optimizer.paramGroups', 'a non-empty array of groups with a numeric lr', groups);
    }
    groups.forEach((g, i) => {
      if (!Number.isFinite(g.lr) || g.lr < 0) {
        fail(name, `optimizer.paramGroups[${i}].lr`, 'a finite number >= 0', g.lr);
      }
    });
    this.optimizer = optimizer;
    this.name = name;
    this.base = groups.map((g) => (base === 'initial' ? initialLr(g) : g.lr));
    this.lastLr = groups.map((g) => g.lr);
  }

  /** The rates set by the last construction, `step()` or state load, one per group. */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  /** The base rates, one per group. */
  get baseLrs(): number[] {
    return this.base.slice();
  }

  /**
   * The rates at step `step` (what `getLastLr()` returns after `step` calls of `step()`),
   * computed without stepping. Schedules driven by training signals have no closed form and throw.
   */
  abstract lrAt(step: number): number[];

  /** Plain JSON: the schedule's name, `lastEpoch`, base and last rates, and its own state. */
  stateDict(): Record<string, unknown> {
    return { schedule: this.name, lastEpoch: this.lastEpoch, baseLrs: this.baseLrs, lastLr: this.getLastLr() };
  }

  /**
   * Restores a `stateDict()` taken from the same schedule with the same options, and sets each
   * group's rate to the restored last rate so the next optimizer step uses it.
   */
  loadStateDict(state: Record<string, unknown>): void {
    if (typeof state !== 'object' || state === null) fail(this.name, 'state', 'an object from stateDict()', state);
    if (state.schedule !== this.name) {
      throw new Error(`${this.name}.loadStateDict: the state is from ${show(state.schedule)}, not ${this.name}`);
    }
    const n = this.base.length;
    const lastEpoch = integer(this.name, 'state.lastEpoch', state.lastEpoch, 0);
    const baseLrs = numbers(this.name, 'baseLrs', state.baseLrs, n);
    const lastLr = numbers(this.name, 'lastLr', state.lastLr, n);
    this.lastEpoch = lastEpoch;
    this.base = baseLrs;
    this.applyLrs(lastLr);
  }

  protected applyLrs(lrs: readonly number[]): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = lrs[i]!;
    });
    this.lastLr = lrs.slice();
  }

  protected checkStep(step: number): void {
    integer(this.name, 'lrAt(step): step', step, 0);
  }
}

/**
 * A schedule with a closed form: the rate at step t is a pure function of t and the options.
 * `step()` evaluates that closed form at `lastEpoch + 1` rather than updating the previous rate
 * recursively as torch's `get_lr` does; both agree to a few ulps (the tests compare with torch's
 * `step()` output to 1e-12 relative).
 */
export abstract class ClosedFormLR extends LRScheduler {
  /** The closed form for a valid step (an integer >= 0). */
  protected abstract closedForm(t: number): number[];

  lrAt(step: number): number[] {
    this.checkStep(step);
    return this.closedForm(step);
  }

  step(): void {
    this.seek(this.lastEpoch + 1);
  }

  /** Training hook: one `step()` per training step. */
  afterStep(): void {
    this.step();
  }

  /**
   * Jumps to `step` and sets the groups' rates to `lrAt(step)`, as torch's deprecated
   * `step(epoch)` does with its closed form. Subclasses call `seek(0)` at the end of their
   * constructor; SequentialLR drives its children with it.
   */
  seek(step: number): void {
    const lrs = this.lrAt(step);
    this.lastEpoch = step;
    this.applyLrs(lrs);
  }
}
