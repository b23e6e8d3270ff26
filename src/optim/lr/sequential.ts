import { checkKeys, fail, integer } from './checks.js';
import { ClosedFormLR, type OptimizerLike } from './scheduler.js';

export interface SequentialLROptions {
  /** The schedules to run one after another, all built on this optimizer. */
  schedulers: readonly ClosedFormLR[];
  /** Steps at which the next schedule takes over: strictly increasing, one fewer than `schedulers`. */
  milestones: readonly number[];
}

/**
 * Runs schedules one after another (torch.optim.lr_scheduler.SequentialLR): schedule k takes over
 * at milestone k−1 and restarts from its own step 0 there:
 *
 *     lr(t) = schedulers[k].lrAt(t − milestones[k−1]),  k = number of milestones <= t
 *
 * (with milestones[−1] = 0). Every child scales the groups' initial rates, as in torch.
 * Typical use, a 5-step linear warmup then cosine annealing over the remaining 95 steps:
 *
 *     const warmup = new LinearLR(opt, { startFactor: 0.1, totalIters: 5 });
 *     const cosine = new CosineAnnealingLR(opt, { tMax: 95 });
 *     const sched = new SequentialLR(opt, { schedulers: [warmup, cosine], milestones: [5] });
 *
 * With lr0 = 0.1: lr(0) = 0.01, lr(1) = 0.028, lr(4) = 0.082, lr(5) = 0.1, lr(6) ≈ 0.099973,
 * lr(50) ≈ 0.054129, lr(100) = 0.
 */
export class SequentialLR extends ClosedFormLR {
  private readonly schedulers: readonly ClosedFormLR[];
  readonly milestones: readonly number[];

  constructor(optimizer: OptimizerLike, options: SequentialLROptions) {
    super(optimizer, 'SequentialLR');
    const o = checkKeys(this.name, options, ['schedulers', 'milestones']);
    const children = o.schedulers;
    if (!Array.isArray(children) || children.length === 0) {
      fail(this.name, 'schedulers', 'a non-empty array of schedules', children);
    }
    children.forEach((c, i) => {
      if (!(c instanceof ClosedFormLR)) {
        const expected = 'a schedule with a closed form (not ReduceLROnPlateau, BoldDriver or GradientNormLR)';
        fail(this.name, `schedulers[${i}]`, expected, c);
      }
      if (c.optimizer !== optimizer) {
        throw new Error(
          `${this.name}: schedulers[${i}] is built on another optimizer than the one given to SequentialLR`,
        );
      }
    });
    if (!Array.isArray(o.milestones) || o.milestones.length !== children.length - 1) {
      const expected = `an array of ${children.length - 1} integers (one fewer than schedulers)`;
      fail(this.name, 'milestones', expected, o.milestones);
    }
    const milestones = o.milestones.map((m, i) => integer(this.name, `milestones[${i}]`, m, 1));
    milestones.forEach((m, i) => {
      if (i > 0 && m <= milestones[i - 1]!) fail(this.name, 'milestones', 'strictly increasing', o.milestones);
    });
    this.schedulers = children as ClosedFormLR[];
    this.milestones = milestones;
    this.seek(0);
  }

  /** Which child runs at step t, and the child's own step there. */
  private locate(t: number): [ClosedFormLR, number] {
    const k = this.milestones.filter((m) => m <= t).length;
    return [this.schedulers[k]!, k === 0 ? t : t - this.milestones[k - 1]!];
  }

  protected closedForm(t: number): number[] {
    const [child, local] = this.locate(t);
    return child.lrAt(local);
  }

  override seek(step: number): void {
    this.checkStep(step);
    const [child, local] = this.locate(step);
    child.seek(local);
    this.lastEpoch = step;
    this.applyLrs(child.getLastLr());
  }

  override stateDict(): Record<string, unknown> {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  override loadStateDict(state: Record<string, unknown>): void {
    const children = state?.schedulers;
    if (!Array.isArray(children) || children.length !== this.schedulers.length) {
      fail(this.name, 'state.schedulers', `an array of ${this.schedulers.length} child states`, children);
    }
    // The children check their own state as they load it: when one refuses (or this state
    // does), the children loaded before it and the groups they wrote are put back.
    const saved = this.schedulers.map((s) => s.stateDict());
    const groups = this.optimizer.paramGroups.map((g) => ({ ...g }));
    try {
      this.schedulers.forEach((s, i) => s.loadStateDict(children[i] as Record<string, unknown>));
      super.loadStateDict(state);
    } catch (e) {
      this.schedulers.forEach((s, i) => s.loadStateDict(saved[i]!));
      this.optimizer.paramGroups.forEach((g, i) => Object.assign(g, groups[i]));
      throw e;
    }
  }
}
