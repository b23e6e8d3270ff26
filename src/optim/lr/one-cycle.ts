import { boolean, checkKeys, fail, integer, oneOf, perGroup, real } from './checks.js';
import { ClosedFormLR, type OptimizerLike, setInitialLr } from './scheduler.js';

export interface OneCycleLROptions {
  /** Peak rate, for every group or one per group; > 0. */
  maxLr: number | readonly number[];
  /** Length of the cycle in steps. Give this, or `epochs` and `stepsPerEpoch`. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent raising the rate; in [0, 1]. Default 0.3. */
  pctStart?: number;
  /** Shape of every phase. Default 'cos'. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum inversely to the rate, in groups that have `momentum` or `betas`. Default true. */
  cycleMomentum?: boolean;
  /** Momentum at the peak rate; in [0, 1]. Default 0.85. */
  baseMomentum?: number | readonly number[];
  /** Momentum at the start and end of the cycle; in [0, 1]. Default 0.95. */
  maxMomentum?: number | readonly number[];
  /** The starting rate is maxLr / divFactor; > 0. Default 25. */
  divFactor?: number;
  /** The final rate is maxLr / divFactor / finalDivFactor; > 0. Default 1e4. */
  finalDivFactor?: number;
  /** Three phases (up, down to the start, down to the final rate) instead of two. Default false. */
  threePhase?: boolean;
}

type Level = 'initial' | 'max' | 'min';

interface Phase {
  /** Last step of the phase (fractional, as torch computes it). */
  end: number;
  lr: [Level, Level];
  momentum: ['max' | 'base', 'max' | 'base'];
}

/**
 * The 1cycle policy (Smith & Topin, "Super-Convergence"; torch.optim.lr_scheduler.OneCycleLR).
 * With initial = maxLr / divFactor and min = initial / finalDivFactor, the rate anneals
 *
 *   two phases:   initial → maxLr over steps [0, pctStart·T − 1], then maxLr → min until T − 1;
 *   three phases: initial → maxLr, maxLr → initial over the same length again, then initial → min;
 *
 * where T = totalSteps and, at fraction p of a phase from a to b,
 *   'cos':    b + (a − b) · (1 + cos(π p)) / 2        'linear':  a + (b − a) · p
 *
 * Momentum (when `cycleMomentum`) anneals the other way, maxMomentum → baseMomentum → maxMomentum
 * (in three-phase mode it stays at maxMomentum in the last phase). It is written to `group.betas[0]`
 * for groups that have `betas` (Adam-like), else to `group.momentum` for groups that have it;
 * groups with neither are left alone, where torch would refuse the optimizer.
 *
 * The rate is defined for steps 0..T: as in torch, step T extrapolates the last phase one step
 * past its end, and stepping beyond T throws.
 *
 * With maxLr = 1, totalSteps = 100 and the defaults: lr(0) = 0.04, lr(10) ≈ 0.29516,
 * lr(29) = 1, lr(50) ≈ 0.79389, lr(75) ≈ 0.26307, lr(99) = 4e-6; momentum(0) = 0.95,
 * momentum(29) = 0.85, momentum(99) = 0.95.
 */
export class OneCycleLR extends ClosedFormLR {
  readonly totalSteps: number;
  readonly annealStrategy: 'cos' | 'linear';
  readonly cycleMomentum: boolean;
  private readonly phases: Phase[];
  private readonly levels: Record<Level, number[]>;
  private readonly momenta: Record<'max' | 'base', number[]>;

  constructor(optimizer: OptimizerLike, options: OneCycleLROptions) {
    super(optimizer, 'OneCycleLR');
    const o = checkKeys(this.name, options, [
      'maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum',
      'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase',
    ]);
    const groups = this.base.length;
    if (o.totalSteps !== undefined) {
      if (o.epochs !== undefined || o.stepsPerEpoch !== undefined) {
        fail(this.name, 'totalSteps', 'given alone, without epochs and stepsPerEpoch', o.totalSteps);
      }
      this.totalSteps = integer(this.name, 'totalSteps', o.totalSteps, 1);
    } else {
      if (o.epochs === undefined && o.stepsPerEpoch === undefined) {
        throw new Error(`${this.name}: give totalSteps, or epochs and stepsPerEpoch`);
      }
      this.totalSteps =
        integer(this.name, 'epochs', o.epochs, 1) * integer(this.name, 'stepsPerEpoch', o.stepsPerEpoch, 1);
    }
    const pctStart = real(this.name, 'pctStart', o.pctStart ?? 0.3, { ge: 0, le: 1 });
    this.annealStrategy = oneOf(this.name, 'annealStrategy', o.annealStrategy ?? 'cos', ['cos', 'linear']);
    this.cycleMomentum = boolean(this.name, 'cycleMomentum', o.cycleMomentum ?? true);
    const divFactor = real(this.name, 'divFactor', o.divFactor ?? 25, { gt: 0 });
    const finalDivFactor = real(this.name, 'finalDivFactor', o.finalDivFactor ?? 1e4, { gt: 0 });
    const threePhase = boolean(this.name, 'threePhase', o.threePhase ?? false);
    const maxLrs = perGroup(this.name, 'maxLr', o.maxLr, groups, { gt: 0 });
    this.momenta = {
      base: perGroup(this.name, 'baseMomentum', o.baseMomentum ?? 0.85, groups, { ge: 0, le: 1 }),
      max: perGroup(this.name, 'maxMomentum', o.maxMomentum ?? 0.95, groups, { ge: 0, le: 1 }),
    };

    const T = this.totalSteps;
    const rise = pctStart * T - 1;
    this.phases = threePhase
      ? [
          { end: rise, lr: ['initial', 'max'], momentum: ['max', 'base'] },
          { end: 2 * pctStart * T - 2, lr: ['max', 'initial'], momentum: ['base', 'max'] },
          { end: T - 1, lr: ['initial', 'min'], momentum: ['max', 'max'] },
        ]
      : [
          { end: rise, lr: ['initial', 'max'], momentum: ['max', 'base'] },
          { end: T - 1, lr: ['max', 'min'], momentum: ['base', 'max'] },
        ];
    // A phase of zero or negative length would divide by zero or run backwards.
    this.phases.forEach((p, i) => {
      const start = i === 0 ? 0 : this.phases[i - 1]!.end;
      if (!(p.end > start)) {
        const phase = `phase ${i + 1} of ${this.phases.length} is empty with totalSteps = ${T}`;
        fail(this.name, 'pctStart', `such that every phase has steps (${phase})`, pctStart);
      }
    });

    const initial = maxLrs.map((m) => m / divFactor);
    const min = initial.map((lr) => lr / finalDivFactor);
    // Each factor may be finite and the rates they make still overflow to Infinity.
    const worst = Math.max(...initial, ...min);
    if (!Number.isFinite(worst)) {
      const option = initial.every(Number.isFinite) ? 'finalDivFactor' : 'divFactor';
      fail(this.name, option, `such that maxLr / divFactor / finalDivFactor is a finite rate (it makes ${worst})`, option === 'divFactor' ? divFactor : finalDivFactor);
    }
    this.levels = { initial, max: maxLrs, min };
    this.optimizer.paramGroups.forEach((g, i) => setInitialLr(g, initial[i]!));
    this.base = initial.slice();
    this.seek(0);
  }

  private anneal(start: number, end: number, pct: number): number {
    return this.annealStrategy === 'cos'
      ? end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1)
      : (end - start) * pct + start;
  }

  /** The phase that holds step t and the fraction of it covered. */
  private locate(t: number): [Phase, number] {
    if (t > this.totalSteps) {
      throw new Error(`${this.name}: step ${t} is past the end of the cycle (totalSteps = ${this.totalSteps})`);
    }
    let start = 0;
    for (const [i, phase] of this.phases.entries()) {
      if (t <= phase.end || i === this.phases.length - 1) return [phase, (t - start) / (phase.end - start)];
      start = phase.end;
    }
    throw new Error('unreachable');
  }

  protected closedForm(t: number): number[] {
    const [phase, pct] = this.locate(t);
    const [from, to] = phase.lr;
    return this.base.map((_, i) => this.anneal(this.levels[from][i]!, this.levels[to][i]!, pct));
  }

  /** The momentum (or beta1) the cycle sets at step t, one per group. */
  momentumAt(step: number): number[] {
    this.checkStep(step);
    const [phase, pct] = this.locate(step);
    const [from, to] = phase.momentum;
    return this.base.map((_, i) => this.anneal(this.momenta[from][i]!, this.momenta[to][i]!, pct));
  }

  override seek(step: number): void {
    super.seek(step);
    this.applyMomentum();
  }

  override loadStateDict(state: Record<string, unknown>): void {
    // Checked before anything changes: past the cycle, the momentum below would throw half-loaded.
    const lastEpoch = (state as Record<string, unknown> | null)?.lastEpoch;
    if (typeof lastEpoch === 'number' && lastEpoch > this.totalSteps) {
      fail(this.name, 'state.lastEpoch', `at most totalSteps = ${this.totalSteps}`, lastEpoch);
    }
    super.loadStateDict(state);
    this.applyMomentum();
  }

  private applyMomentum(): void {
    if (!this.cycleMomentum) return;
    const momenta = this.momentumAt(this.lastEpoch);
    this.optimizer.paramGroups.forEach((group, i) => {
      const g = group as { betas?: readonly number[]; momentum?: number };
      if (Array.isArray(g.betas)) g.betas = [momenta[i]!, ...g.betas.slice(1)];
      else if (typeof g.momentum === 'number') g.momentum = momenta[i]!;
    });
  }
}
