/** What a run has measured so far: per-step records as they arrive, and per-epoch evaluations. */
import type { StepRecord } from '../../src/index.js';

/**
 * An exponential moving average with bias correction (as Adam corrects its moments, and as
 * TensorBoard smooths curves): s ← βs + (1 − β)v, shown as s / (1 − βⁿ), so the first points
 * are not pulled towards zero.
 */
export class Smoother {
  private s = 0;
  private n = 0;
  constructor(readonly beta: number) {}
  next(v: number): number {
    if (!Number.isFinite(v)) return NaN;
    this.s = this.beta * this.s + (1 - this.beta) * v;
    this.n++;
    return this.s / (1 - this.beta ** this.n);
  }
}

export interface EpochResult {
  readonly epoch: number;
  readonly accuracy: number;
  readonly loss: number;
}

export class Metrics {
  readonly loss: number[] = [];
  readonly smoothLoss: number[] = [];
  readonly lr: number[] = [];
  readonly gradNorm: number[] = [];
  readonly smoothGradNorm: number[] = [];
  readonly epochs: EpochResult[] = [];
  private readonly lossSmoother = new Smoother(0.95);
  private readonly normSmoother = new Smoother(0.9);

  constructor(
    /** Steps the run plans, the length of the x axis. */
    readonly totalSteps: number,
    /** Epochs the run plans (fractional when a step limit ends it inside an epoch). */
    readonly totalEpochs: number,
    /** The schedule's rate for every planned step, or null when it follows training signals. */
    readonly plannedLr: number[] | null,
  ) {}

  /** Records arrive in step order. */
  addStep(r: StepRecord): void {
    this.loss[r.step] = r.loss;
    this.smoothLoss[r.step] = this.lossSmoother.next(r.loss);
    this.lr[r.step] = r.lr;
    this.gradNorm[r.step] = r.gradNorm;
    this.smoothGradNorm[r.step] = this.normSmoother.next(r.gradNorm);
  }

  addEpoch(e: EpochResult): void {
    this.epochs.push(e);
  }

  get steps(): number {
    return this.loss.length;
  }
}
