/**
 * The learning-rate range test behind `Trainer.findLr` (L. N. Smith, "Cyclical Learning Rates for
 * Training Neural Networks", 2017, §3.3; the smoothed loss and the stop rule as in fastai's
 * `lr_find`): real training steps at exponentially growing rates, then everything those steps
 * changed is put back, so that training continues as if the test had never run.
 */
import type { Backend, Copy } from '../backend/backend.js';
import type { DeviceBuffer } from '../backend/kernel.js';
import type { Optimizer } from '../optim/optimizer.js';
import { batchOf, epochBatches, type Samples, targetsPerSample } from './batch.js';
import type { Scheduler, StepRecord } from './trainer.js';

export interface FindLrOptions {
  /** Rate of the first step, > 0 (default 1e-7). */
  startLr?: number;
  /** Rate of the last step, > startLr (default 10). */
  endLr?: number;
  /** Steps of the sweep, an integer >= 2 (default 100); fewer run when the loss diverges. */
  steps?: number;
  /**
   * Samples per step. Every step has this size: an epoch's last, smaller batch is skipped, and
   * the sweep starts a new shuffled epoch when one runs out.
   */
  batchSize: number;
  /**
   * β of the exponential moving average of the loss, in [0, 1) (default 0.98, as fastai; 0 keeps
   * the raw losses). The average lags the raw loss by about β / (1 − β) steps.
   */
  smoothing?: number;
  /**
   * Stop once the smoothed loss exceeds this multiple of its lowest value so far, > 1 (default 4;
   * Infinity never stops early). A non-finite loss always stops the sweep.
   */
  divergeFactor?: number;
  /** Seed of the batch order; epoch e of the samples is shuffled with seed + e, as `fit` (default 0). */
  seed?: number;
}

/** What `Trainer.findLr` returns: one entry per step that ran, in order. */
export interface LrFinding {
  /** The rate of each step: `sweepLrs(startLr, endLr, steps)`, cut where the sweep stopped. */
  readonly lrs: number[];
  /** Each step's training loss (dropout active, penalties excluded), as `StepRecord.loss`. */
  readonly losses: number[];
  /** `smoothLosses(losses, smoothing)`: the bias-corrected moving average. */
  readonly smoothed: number[];
  /**
   * `suggestLr(lrs, smoothed)`: the rate where the smoothed loss falls fastest against log lr,
   * or null when it never falls.
   */
  readonly suggestion: number | null;
  /**
   * True when the loss diverged: a non-finite loss, or a smoothed loss above divergeFactor times
   * the lowest before it. The sweep stopped at that step, which is the last entry.
   */
  readonly diverged: boolean;
}

/**
 * What the range test needs from a trainer. `Trainer.findLr` provides it; the steps are the
 * trainer's own compiled steps, so the test measures exactly the training it precedes.
 */
export interface SweepHost {
  readonly backend: Backend;
  readonly inputShape: readonly number[];
  readonly optimizer: Optimizer;
  readonly scheduler: Scheduler | undefined;
  /**
   * Waits for the steps enqueued before, then turns later `step` calls into sweep steps (no
   * schedule hooks, no history, no non-finite policy, records on a log of their own). Returns the
   * device buffers that a step changes and a later step reads, the optimizer's state aside, and
   * `leave`, which ends the sweep and puts back the trainer's step count and history.
   */
  enter(): Promise<{ buffers: readonly DeviceBuffer[]; leave(): void }>;
  /** Enqueues one step at the groups' current rates; resolves with its record. */
  step(x: Float32Array | Int32Array, y: Int32Array | Float32Array): Promise<StepRecord>;
}

/**
 * Steps enqueued ahead of the record being examined: enough to keep the device busy, few enough
 * that little work is wasted past a divergence. The result does not depend on it, since records
 * are examined in order and the sweep is cut at the first divergent one.
 */
const IN_FLIGHT = 4;

/**
 * The rates of the sweep, evenly spaced in log lr from `startLr` to `endLr`, both included:
 * lr_i = startLr · (endLr / startLr)^(i / (steps − 1)) for i = 0 … steps − 1.
 */
export function sweepLrs(startLr: number, endLr: number, steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => startLr * Math.pow(endLr / startLr, i / (steps - 1)));
}

/**
 * The bias-corrected exponential moving average of the losses (Adam's first-moment correction):
 * a_{−1} = 0, a_i = β·a_{i−1} + (1 − β)·loss_i and smoothed_i = a_i / (1 − β^(i+1)), so that the
 * first value is the first loss itself rather than (1 − β) times it. β = 0 returns the losses.
 */
export function smoothLosses(losses: readonly number[], beta: number): number[] {
  return losses.map(movingAverage(beta));
}

/** The smoother of `smoothLosses`, fed one loss at a time as the sweep's records arrive. */
function movingAverage(beta: number): (loss: number) => number {
  let average = 0;
  let count = 0;
  return (loss) => {
    average = beta * average + (1 - beta) * loss;
    count++;
    return average / (1 - Math.pow(beta, count));
  };
}

/**
 * The suggested rate: the start of the steepest descent of the smoothed loss against log lr.
 * For each pair of consecutive points with finite smoothed losses s_i and s_{i+1}, the slope is
 * (s_{i+1} − s_i) / (ln lr_{i+1} − ln lr_i); the suggestion is lr_i of the most negative slope
 * (the smaller rate of the steepest segment, the first such segment on a tie). Null when no
 * slope is negative (the loss never falls) or fewer than two points are finite. Since the sweep's
 * points are evenly spaced in log lr, the slope ranks the segments as the loss differences do,
 * but it is also comparable across sweeps of other lengths.
 */
export function suggestLr(lrs: readonly number[], smoothed: readonly number[]): number | null {
  if (lrs.length !== smoothed.length) throw new Error(`suggestLr: ${lrs.length} rates but ${smoothed.length} losses`);
  let best: number | null = null;
  let steepest = 0;
  for (let i = 0; i + 1 < lrs.length; i++) {
    const rise = smoothed[i + 1]! - smoothed[i]!;
    const run = Math.log(lrs[i + 1]!) - Math.log(lrs[i]!);
    const slope = rise / run;
    if (Number.isFinite(slope) && slope < steepest) {
      steepest = slope;
      best = lrs[i]!;
    }
  }
  return best;
}

interface Resolved {
  startLr: number;
  endLr: number;
  steps: number;
  batchSize: number;
  smoothing: number;
  divergeFactor: number;
  seed: number;
}

/** The options with their defaults, each checked; errors name the option and its value. */
export function resolveFindLrOptions(options: FindLrOptions, samples: number): Resolved {
  if (!options || typeof options !== 'object') throw new Error('Trainer.findLr: options must be an object with at least batchSize');
  const { startLr = 1e-7, endLr = 10, steps = 100, batchSize, smoothing = 0.98, divergeFactor = 4, seed = 0 } = options;
  const fail = (what: string, value: unknown): never => {
    throw new Error(`Trainer.findLr: ${what}, got ${String(value)}`);
  };
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (!finite(startLr) || startLr <= 0) fail('startLr must be a finite number > 0', startLr);
  if (!finite(endLr) || endLr <= startLr) fail(`endLr must be a finite number > startLr (${startLr})`, endLr);
  if (!Number.isInteger(steps) || steps < 2) fail('steps must be an integer >= 2', steps);
  if (!Number.isInteger(batchSize) || batchSize < 1) fail('batchSize must be an integer >= 1', batchSize);
  if (batchSize > samples) fail(`batchSize must be at most the number of samples (${samples})`, batchSize);
  if (!finite(smoothing) || smoothing < 0 || smoothing >= 1) fail('smoothing must be a number in [0, 1)', smoothing);
  if (typeof divergeFactor !== 'number' || !(divergeFactor > 1)) fail('divergeFactor must be a number > 1 (Infinity: never stop early)', divergeFactor);
  if (!Number.isInteger(seed) || seed < 0) fail('seed must be an integer >= 0', seed);
  return { startLr, endLr, steps, batchSize, smoothing, divergeFactor, seed };
}

/** Shuffled batches of one size, epoch after epoch, without end. */
function* endlessBatches(samples: Samples, inputShape: readonly number[], batchSize: number, seed: number): Generator<Samples> {
  for (let epoch = 0; ; epoch++) {
    yield* epochBatches(samples, inputShape, batchSize, { shuffle: true, seed: seed + epoch, dropLast: true });
  }
}

/**
 * Device-side copies of buffers, taken and put back by buffer-to-buffer copies in the device's
 * queue: no round trip through the host, and ordered after every step enqueued before.
 */
class DeviceSnapshot {
  private readonly copies: { live: DeviceBuffer; saved: DeviceBuffer }[];

  constructor(private readonly backend: Backend, buffers: readonly DeviceBuffer[]) {
    this.copies = [...new Set(buffers)].map((live) => ({ live, saved: backend.createBuffer(live.byteLength, `findLr/${live.label}`) }));
    this.run(this.copies.map(({ live, saved }) => ({ src: live, dst: saved, byteLength: live.byteLength })));
  }

  /** Writes the saved contents back, after every step enqueued so far. */
  restore(): void {
    this.run(this.copies.map(({ live, saved }) => ({ src: saved, dst: live, byteLength: live.byteLength })));
  }

  async dispose(): Promise<void> {
    await this.backend.idle();
    for (const { saved } of this.copies) this.backend.destroyBuffer(saved);
  }

  private run(copies: Copy[]): void {
    const program = this.backend.compile([], 'findLr/copy');
    this.backend.run(program, copies);
    program.dispose();
  }
}

/** What the sweep changes on the host: the optimizer's step count and groups, and the schedule. */
function hostState(optimizer: Optimizer, scheduler: Scheduler | undefined): () => void {
  const stepCount = optimizer.stepCount;
  const groups = optimizer.paramGroups.map(({ params: _params, ...options }) => copyOptions(options));
  const schedule = scheduler as { stateDict?: () => Record<string, unknown>; loadStateDict?: (s: Record<string, unknown>) => void } | undefined;
  const saved = typeof schedule?.stateDict === 'function' && typeof schedule.loadStateDict === 'function' ? schedule.stateDict() : null;
  return () => {
    optimizer.stepCount = stepCount;
    // A schedule's load sets the groups' rates to its own last rates; the groups' saved options,
    // written after it, are the ones the next step must see.
    if (saved) schedule!.loadStateDict!(saved);
    optimizer.paramGroups.forEach((group, g) => Object.assign(group, copyOptions(groups[g]!)));
  };
}

function copyOptions(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]));
}

/**
 * Runs the range test on `host`: see `Trainer.findLr`. Every change is undone in a `finally`, so
 * an error in the middle of the sweep (a bad batch, a lost device) also leaves the trainer as it was.
 */
export async function findLr(host: SweepHost, samples: Samples, options: FindLrOptions): Promise<LrFinding> {
  const n = batchOf(samples.x, host.inputShape, 'findLr');
  targetsPerSample(samples, n, 'Trainer.findLr');
  const o = resolveFindLrOptions(options, n);
  const schedule = sweepLrs(o.startLr, o.endLr, o.steps);
  const { optimizer, backend } = host;

  const { buffers, leave } = await host.enter();
  let restoreHost: (() => void) | null = null;
  let snapshot: DeviceSnapshot | null = null;
  const inFlight: Promise<StepRecord>[] = [];
  const losses: number[] = [];
  const smoothed: number[] = [];
  let diverged = false;
  try {
    restoreHost = hostState(optimizer, host.scheduler);
    snapshot = new DeviceSnapshot(backend, [...buffers, ...optimizer.deviceState(backend).buffers]);
    const batches = endlessBatches(samples, host.inputShape, o.batchSize, o.seed);
    const smooth = movingAverage(o.smoothing);
    let lowest = Infinity;
    let enqueued = 0;
    while (!diverged && losses.length < o.steps) {
      while (enqueued < o.steps && inFlight.length < IN_FLIGHT) {
        for (const group of optimizer.paramGroups) group.lr = schedule[enqueued]!;
        const { x, y } = batches.next().value as Samples;
        inFlight.push(host.step(x, y));
        enqueued++;
      }
      const { loss } = await inFlight.shift()!;
      const value = smooth(loss);
      losses.push(loss);
      smoothed.push(value);
      diverged = !Number.isFinite(loss) || value > o.divergeFactor * lowest;
      lowest = Math.min(lowest, value);
    }
  } finally {
    await Promise.allSettled(inFlight);
    leave();
    snapshot?.restore();
    try {
      restoreHost?.();
    } finally {
      await snapshot?.dispose();
    }
  }
  await backend.health();
  const lrs = schedule.slice(0, losses.length);
  return { lrs, losses, smoothed, suggestion: suggestLr(lrs, smoothed), diverged };
}
