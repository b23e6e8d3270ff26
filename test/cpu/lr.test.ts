/**
 * Learning-rate schedules against torch.optim.lr_scheduler (fixtures from test/fixtures/gen_lr.py)
 * and, for the schedules torch lacks, against their formulas written out here.
 */
import { describe, expect, it } from 'vitest';
import * as lr from '../../src/optim/lr/index.js';
import fixture from '../fixtures/lr.json';

interface FixtureCase {
  name: string;
  schedule: string;
  options: Record<string, unknown>;
  groups: number[];
  lrs: number[][];
  lastEpoch: number;
  metrics?: number[];
  momentum?: number[][];
}

const cases = (fixture as { cases: FixtureCase[] }).cases;
const STEPS = 100;

/** The same expressions as LAMBDAS in gen_lr.py. */
const LAMBDAS: Record<string, lr.LrLambda> = {
  pow097: (t) => 0.97 ** t,
  inverse: (t) => 1.0 / (1.0 + 0.05 * t),
  cosine100: (t) => 0.5 * (1.0 + Math.cos((Math.PI * t) / 100)),
};

type Group = { lr: number; momentum?: number; betas?: number[] };
type Opt = { paramGroups: Group[] };

/** Like torch.optim.SGD's groups: a rate and a momentum. */
function sgd(groups: number[]): Opt {
  return { paramGroups: groups.map((rate) => ({ lr: rate, momentum: 0 })) };
}

type Options = Record<string, unknown>;
const BUILDERS: Record<string, (opt: Opt, o: Options) => lr.LRScheduler> = {
  StepLR: (opt, o) => new lr.StepLR(opt, o as unknown as lr.StepLROptions),
  MultiStepLR: (opt, o) => new lr.MultiStepLR(opt, o as unknown as lr.MultiStepLROptions),
  ExponentialLR: (opt, o) => new lr.ExponentialLR(opt, o as unknown as lr.ExponentialLROptions),
  CosineAnnealingLR: (opt, o) => new lr.CosineAnnealingLR(opt, o as unknown as lr.CosineAnnealingLROptions),
  LinearLR: (opt, o) => new lr.LinearLR(opt, o),
  PolynomialLR: (opt, o) => new lr.PolynomialLR(opt, o),
  OneCycleLR: (opt, o) => new lr.OneCycleLR(opt, o as unknown as lr.OneCycleLROptions),
  ReduceLROnPlateau: (opt, o) => new lr.ReduceLROnPlateau(opt, o),
  LambdaLR: (opt, o) => {
    const key = o.lrLambda as string | string[];
    return new lr.LambdaLR(opt, { lrLambda: Array.isArray(key) ? key.map((k) => LAMBDAS[k]!) : LAMBDAS[key]! });
  },
  SequentialLR: (opt, o) => {
    const children = (o.schedulers as { schedule: string; options: Options }[]).map(
      (c) => build(opt, c.schedule, c.options) as lr.ClosedFormLR,
    );
    return new lr.SequentialLR(opt, { schedulers: children, milestones: o.milestones as number[] });
  },
};

function build(opt: Opt, schedule: string, options: Options): lr.LRScheduler {
  return BUILDERS[schedule]!(opt, options);
}

function advance(s: lr.LRScheduler, c: FixtureCase, t: number): void {
  if (s instanceof lr.ReduceLROnPlateau) s.step(c.metrics![t]!);
  else (s as lr.ClosedFormLR).step();
}

/** Rates (and momenta) after construction and after each of the first `steps` steps. */
function replay(c: FixtureCase, steps = STEPS) {
  const opt = sgd(c.groups);
  const s = build(opt, c.schedule, c.options);
  const lrs = [s.getLastLr()];
  const momentum = [opt.paramGroups.map((g) => g.momentum!)];
  for (let t = 0; t < steps; t++) {
    advance(s, c, t);
    lrs.push(s.getLastLr());
    momentum.push(opt.paramGroups.map((g) => g.momentum!));
    expect(opt.paramGroups.map((g) => g.lr)).toEqual(lrs[lrs.length - 1]);
  }
  return { opt, s, lrs, momentum };
}

/** Asserts |a − e| <= rtol · max(|a|, |e|) everywhere and names the worst entry. */
function expectRelClose(actual: number[][], expected: number[][], rtol: number, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = 0;
  let where = '';
  actual.forEach((row, t) =>
    row.forEach((a, i) => {
      const e = expected[t]![i]!;
      const err = a === e ? 0 : Number.isFinite(a - e) ? Math.abs(a - e) / Math.max(Math.abs(a), Math.abs(e)) : Infinity;
      if (err > worst) [worst, where] = [err, `step ${t}, group ${i}: ${a} vs torch ${e}`];
    }),
  );
  expect(worst, `${label}: worst relative error ${worst} at ${where}`).toBeLessThanOrEqual(rtol);
}

const closedForm = cases.filter((c) => c.schedule !== 'ReduceLROnPlateau');

describe('torch fixtures', () => {
  it('cover every torch schedule', () => {
    expect(new Set(cases.map((c) => c.schedule))).toEqual(new Set(Object.keys(BUILDERS)));
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s: rates match torch over 100 steps', (_, c) => {
    const { s, lrs, momentum } = replay(c);
    expectRelClose(lrs, c.lrs, 1e-12, c.name);
    expect(s.lastEpoch).toBe(c.lastEpoch);
    if (c.momentum) expectRelClose(momentum, c.momentum, 1e-12, `${c.name} momentum`);
  });

  it.each(closedForm.map((c) => [c.name, c] as const))('%s: lrAt(t) equals the stepped rate', (_, c) => {
    const { s, lrs } = replay(c);
    const last = s.getLastLr();
    for (let t = 0; t <= STEPS; t++) expect(s.lrAt(t)).toEqual(lrs[t]);
    expect(s.getLastLr()).toEqual(last);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s: stateDict round-trips mid-run', (_, c) => {
    const first = replay(c, 37);
    const state = JSON.parse(JSON.stringify(first.s.stateDict())) as Record<string, unknown>;
    const opt = sgd(c.groups);
    const resumed = build(opt, c.schedule, c.options);
    resumed.loadStateDict(state);
    expect(resumed.lastEpoch).toBe(37);
    const lrs = [resumed.getLastLr()];
    for (let t = 37; t < STEPS; t++) {
      advance(resumed, c, t);
      lrs.push(resumed.getLastLr());
    }
    expectRelClose(lrs, c.lrs.slice(37), 1e-12, `${c.name} resumed`);
    expect(resumed.stateDict()).toEqual(replay(c).s.stateDict());
  });
});

describe('schedules torch lacks', () => {
  const groups = [0.1, 0.01];

  it('InverseTimeLR {k}: lr0 / (1 + k t)', () => {
    const s = new lr.InverseTimeLR(sgd(groups), { k: 0.3 });
    for (let t = 0; t <= STEPS; t++) {
      expectRelClose([s.getLastLr()], [groups.map((g) => g / (1 + 0.3 * t))], 1e-15, `t=${t}`);
      expect(s.lrAt(t)).toEqual(s.getLastLr());
      s.step();
    }
  });

  it('InverseTimeLR {beta}: lr0 / t^beta, lr0 at t = 0', () => {
    const s = new lr.InverseTimeLR(sgd(groups), { beta: 0.75 });
    for (let t = 0; t <= STEPS; t++) {
      const expected = groups.map((g) => (t === 0 ? g : g * Math.exp(-0.75 * Math.log(t))));
      expectRelClose([s.getLastLr()], [expected], 1e-14, `t=${t}`);
      expect(s.lrAt(t)).toEqual(s.getLastLr());
      s.step();
    }
  });

  it('GradientNormLR: factor 1 / max(norm, eps)^gamma, base rate kept, trainer settings exposed', () => {
    const opt = sgd(groups);
    const s = new lr.GradientNormLR(opt, { gamma: 0.5 });
    expect(s.gradientNormGamma).toBe(0.5);
    expect(s.eps).toBe(1e-12);
    for (const [norm, gamma, eps] of [[4, 0.5, 1e-12], [0.25, 1, 1e-12], [3, 0, 1e-6], [0, 2, 1e-3], [1e-9, 1, 1e-6], [7.5, 1.3, 1e-12]] as const) {
      const expected = Math.exp(-gamma * Math.log(norm > eps ? norm : eps));
      expectRelClose([[lr.GradientNormLR.factor(norm, gamma, eps)]], [[expected]], 1e-14, `norm ${norm}`);
    }
    expect(s.lrForNorm(4)).toEqual([0.05, 0.005]);
    for (let t = 0; t < 10; t++) s.step();
    expect(s.lastEpoch).toBe(10);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual(groups);
    expect(s.getLastLr()).toEqual(groups);
    expect(() => s.lrAt(3)).toThrow(/GradientNormLR\.lrAt is unavailable: the rate depends on each step's gradient norm/);
  });

  /** The bold-driver rule written out independently. */
  function boldReference(losses: number[], lr0: number, up: number, down: number, lo: number, hi: number): number[] {
    const out: number[] = [];
    let rate = lr0;
    let prev: number | undefined;
    for (const loss of losses) {
      if (!Number.isFinite(loss)) rate = Math.min(hi, Math.max(lo, rate * down));
      else {
        if (prev !== undefined) rate = Math.min(hi, Math.max(lo, rate * (loss <= prev ? up : down)));
        prev = loss;
      }
      out.push(rate);
    }
    return out;
  }

  it('BoldDriver: grows on a non-rising loss, cuts on a rise, clamps, takes losses late', () => {
    const losses = [1, 0.9, 0.8, 0.85, 0.7, 0.7, 0.72, NaN, 0.69, 0.6, 0.5, 0.4, 0.3, 0.31, 0.2, 0.1, 0.05, Infinity, 0.04];
    const opt = sgd(groups);
    const s = new lr.BoldDriver(opt, { increase: 1.2, decrease: 0.4, minLr: 0.004, maxLr: 0.15 });
    expect(opt.paramGroups.map((g) => g.lr)).toEqual(groups);
    const lag = 2;
    const seen: number[][] = [];
    for (let step = 0; step < losses.length + lag; step++) {
      s.step(); // the step's rate was enqueued; its loss resolves `lag` steps later
      if (step >= lag) {
        s.observeLoss(losses[step - lag]!);
        seen.push(opt.paramGroups.map((g) => g.lr));
      }
    }
    expect(s.lastEpoch).toBe(losses.length + lag);
    expect(s.lossesObserved).toBe(losses.length);
    groups.forEach((g, i) => {
      const expected = boldReference(losses, g, 1.2, 0.4, 0.004, 0.15);
      expectRelClose(seen.map((r) => [r[i]!]), expected.map((x) => [x]), 1e-15, `group ${i}`);
    });
    expect(() => s.lrAt(0)).toThrow(/BoldDriver\.lrAt is unavailable/);
  });

  it('BoldDriver: the default example in its doc comment', () => {
    const s = new lr.BoldDriver(sgd([0.1]));
    const rates = [1.0, 0.9, 0.8, 0.85, 0.7].map((loss) => (s.observeLoss(loss), s.getLastLr()[0]!));
    expectRelClose(rates.map((r) => [r]), [[0.1], [0.105], [0.11025], [0.055125], [0.05788125]], 1e-15, 'doc');
  });

  it('BoldDriver and GradientNormLR: stateDict round-trips', () => {
    const a = new lr.BoldDriver(sgd(groups));
    [2, 1.5, 1.7, 1.2].forEach((l) => (a.step(), a.observeLoss(l)));
    const b = new lr.BoldDriver(sgd(groups));
    b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
    for (const l of [1.1, 1.3, 0.9]) [a, b].forEach((s) => (s.step(), s.observeLoss(l)));
    expect(b.stateDict()).toEqual(a.stateDict());
    const g = new lr.GradientNormLR(sgd(groups), { gamma: 1 });
    g.step();
    const h = new lr.GradientNormLR(sgd(groups), { gamma: 1 });
    h.loadStateDict(JSON.parse(JSON.stringify(g.stateDict())));
    expect(h.stateDict()).toEqual(g.stateDict());
  });
});

describe('behaviour beyond the fixtures', () => {
  it('OneCycleLR cycles beta1 of Adam-like groups, leaves groups without momentum alone, and stops at totalSteps', () => {
    const c = cases.find((x) => x.name === 'onecycle-cos')!;
    const adam = { paramGroups: [{ lr: 0.1, betas: [0.9, 0.999] }] };
    const plain = { paramGroups: [{ lr: 0.1 }] };
    const withBetas = new lr.OneCycleLR(adam, { maxLr: 1.0, totalSteps: 100 });
    const without = new lr.OneCycleLR(plain, { maxLr: 1.0, totalSteps: 100 });
    for (let t = 0; t <= STEPS; t++) {
      expectRelClose([[adam.paramGroups[0]!.betas[0]!]], [c.momentum![t]!], 1e-12, `beta1 at ${t}`);
      expect(adam.paramGroups[0]!.betas[1]).toBe(0.999);
      expect(withBetas.momentumAt(t)).toEqual([adam.paramGroups[0]!.betas[0]]);
      expect(Object.keys(plain.paramGroups[0]!)).toEqual(['lr']);
      if (t < STEPS) [withBetas, without].forEach((s) => s.step());
    }
    expect(() => withBetas.step()).toThrow('OneCycleLR: step 101 is past the end of the cycle (totalSteps = 100)');
    expect(withBetas.lastEpoch).toBe(100);
    const off = sgd([0.1]);
    new lr.OneCycleLR(off, { maxLr: 1.0, totalSteps: 100, cycleMomentum: false }).step();
    expect(off.paramGroups[0]!.momentum).toBe(0);
  });

  it('ReduceLROnPlateau counts a NaN metric as a bad step and has no closed form', () => {
    const opt = sgd([0.1]);
    const s = new lr.ReduceLROnPlateau(opt, { patience: 1 });
    [1, NaN, NaN].forEach((m) => s.step(m));
    expect(opt.paramGroups[0]!.lr).toBeCloseTo(0.01, 15);
    expect(s.lastEpoch).toBe(3);
    expect(() => s.lrAt(1)).toThrow(/ReduceLROnPlateau\.lrAt is unavailable/);
    expect(s.stateDict().best).toBe(1);
    expect(new lr.ReduceLROnPlateau(sgd([0.1])).stateDict().best).toBe('Infinity');
  });

  it('a second schedule on the same groups scales their initial rates, as torch initial_lr', () => {
    const opt = sgd([0.1]);
    new lr.LinearLR(opt, { startFactor: 0.1 });
    expect(opt.paramGroups[0]!.lr).toBeCloseTo(0.01, 15);
    const cos = new lr.CosineAnnealingLR(opt, { tMax: 10 });
    expect(cos.baseLrs).toEqual([0.1]);
  });
});

const opt = () => sgd([0.1, 0.01]);
const step = (o: Opt) => new lr.StepLR(o, { stepSize: 3 });
const VALIDATION: [string, () => unknown, string | RegExp][] = [
  ['no groups', () => new lr.StepLR({ paramGroups: [] }, { stepSize: 1 }), 'StepLR: optimizer.paramGroups must be a non-empty array of groups with a numeric lr, got []'],
  ['negative group lr', () => new lr.ExponentialLR({ paramGroups: [{ lr: -1 }] }, { gamma: 0.9 }), 'ExponentialLR: optimizer.paramGroups[0].lr must be a finite number >= 0, got -1'],
  ['options missing', () => new lr.StepLR(opt(), undefined as never), 'StepLR: options must be an object, got undefined'],
  ['unknown option', () => new lr.StepLR(opt(), { stepSize: 3, step_size: 3 } as never), "StepLR: unknown option 'step_size' (known: stepSize, gamma)"],
  ['StepLR stepSize', () => new lr.StepLR(opt(), { stepSize: 0 }), 'StepLR: stepSize must be an integer >= 1, got 0'],
  ['StepLR stepSize fractional', () => new lr.StepLR(opt(), { stepSize: 2.5 }), 'StepLR: stepSize must be an integer >= 1, got 2.5'],
  ['StepLR gamma', () => new lr.StepLR(opt(), { stepSize: 2, gamma: 0 }), 'StepLR: gamma must be a finite number > 0, got 0'],
  ['MultiStepLR milestones', () => new lr.MultiStepLR(opt(), { milestones: 30 as never }), 'MultiStepLR: milestones must be an array of integers >= 0, got 30'],
  ['MultiStepLR negative milestone', () => new lr.MultiStepLR(opt(), { milestones: [-1] }), 'MultiStepLR: milestones[0] must be an integer >= 0, got -1'],
  ['MultiStepLR order', () => new lr.MultiStepLR(opt(), { milestones: [30, 10] }), 'MultiStepLR: milestones must be in non-decreasing order, got [30,10]'],
  ['MultiStepLR gamma', () => new lr.MultiStepLR(opt(), { milestones: [1], gamma: NaN }), 'MultiStepLR: gamma must be a finite number > 0, got NaN'],
  ['ExponentialLR gamma', () => new lr.ExponentialLR(opt(), {} as never), 'ExponentialLR: gamma must be a finite number > 0, got undefined'],
  ['ExponentialLR gamma infinite', () => new lr.ExponentialLR(opt(), { gamma: Infinity }), 'ExponentialLR: gamma must be a finite number > 0, got Infinity'],
  ['CosineAnnealingLR tMax', () => new lr.CosineAnnealingLR(opt(), { tMax: 0 }), 'CosineAnnealingLR: tMax must be an integer >= 1, got 0'],
  ['CosineAnnealingLR etaMin', () => new lr.CosineAnnealingLR(opt(), { tMax: 5, etaMin: -0.1 }), 'CosineAnnealingLR: etaMin must be a finite number >= 0, got -0.1'],
  ['LinearLR startFactor', () => new lr.LinearLR(opt(), { startFactor: 0 }), 'LinearLR: startFactor must be a finite number > 0 and <= 1, got 0'],
  ['LinearLR endFactor', () => new lr.LinearLR(opt(), { endFactor: 2 }), 'LinearLR: endFactor must be a finite number >= 0 and <= 1, got 2'],
  ['LinearLR totalIters', () => new lr.LinearLR(opt(), { totalIters: 0 }), 'LinearLR: totalIters must be an integer >= 1, got 0'],
  ['PolynomialLR totalIters', () => new lr.PolynomialLR(opt(), { totalIters: -2 }), 'PolynomialLR: totalIters must be an integer >= 1, got -2'],
  ['PolynomialLR power', () => new lr.PolynomialLR(opt(), { power: -1 }), 'PolynomialLR: power must be a finite number >= 0, got -1'],
  ['InverseTimeLR both', () => new lr.InverseTimeLR(opt(), { k: 1, beta: 1 } as never), 'InverseTimeLR: give exactly one of k and beta, got both'],
  ['InverseTimeLR neither', () => new lr.InverseTimeLR(opt(), {} as never), 'InverseTimeLR: give exactly one of k and beta, got neither'],
  ['InverseTimeLR k', () => new lr.InverseTimeLR(opt(), { k: -1 }), 'InverseTimeLR: k must be a finite number >= 0, got -1'],
  ['InverseTimeLR beta', () => new lr.InverseTimeLR(opt(), { beta: NaN }), 'InverseTimeLR: beta must be a finite number >= 0, got NaN'],
  ['LambdaLR lrLambda', () => new lr.LambdaLR(opt(), { lrLambda: 3 as never }), 'LambdaLR: lrLambda must be a function or an array of 2 functions (one per parameter group), got 3'],
  ['LambdaLR lrLambda count', () => new lr.LambdaLR(opt(), { lrLambda: [() => 1] }), /LambdaLR: lrLambda must be a function or an array of 2 functions/],
  ['LambdaLR result', () => new lr.LambdaLR(opt(), { lrLambda: () => NaN }), 'LambdaLR: lrLambda(0) returned NaN, not a finite number'],
  ['LambdaLR result per group', () => new lr.LambdaLR(opt(), { lrLambda: [() => 1, (t) => (t > 2 ? Infinity : 1)] }).lrAt(3), 'LambdaLR: lrLambda[1](3) returned Infinity, not a finite number'],
  ['SequentialLR schedulers', () => new lr.SequentialLR(opt(), { schedulers: [], milestones: [] }), 'SequentialLR: schedulers must be a non-empty array of schedules, got []'],
  ['SequentialLR plateau child', () => { const o = opt(); return new lr.SequentialLR(o, { schedulers: [step(o), new lr.ReduceLROnPlateau(o) as never], milestones: [3] }); }, /SequentialLR: schedulers\[1\] must be a schedule with a closed form .*, got a ReduceLROnPlateau$/],
  ['SequentialLR other optimizer', () => new lr.SequentialLR(opt(), { schedulers: [step(opt())], milestones: [] }), 'SequentialLR: schedulers[0] is built on another optimizer than the one given to SequentialLR'],
  ['SequentialLR milestone count', () => { const o = opt(); return new lr.SequentialLR(o, { schedulers: [step(o), step(o)], milestones: [] }); }, 'SequentialLR: milestones must be an array of 1 integers (one fewer than schedulers), got []'],
  ['SequentialLR milestone order', () => { const o = opt(); return new lr.SequentialLR(o, { schedulers: [step(o), step(o), step(o)], milestones: [5, 5] }); }, 'SequentialLR: milestones must be strictly increasing, got [5,5]'],
  ['SequentialLR milestone zero', () => { const o = opt(); return new lr.SequentialLR(o, { schedulers: [step(o), step(o)], milestones: [0] }); }, 'SequentialLR: milestones[0] must be an integer >= 1, got 0'],
  ['OneCycleLR maxLr', () => new lr.OneCycleLR(opt(), { maxLr: 0, totalSteps: 10 }), 'OneCycleLR: maxLr must be a finite number > 0, got 0'],
  ['OneCycleLR maxLr per group', () => new lr.OneCycleLR(opt(), { maxLr: [1], totalSteps: 10 }), 'OneCycleLR: maxLr must be a number or an array of 2 numbers (one per parameter group), got [1]'],
  ['OneCycleLR no length', () => new lr.OneCycleLR(opt(), { maxLr: 1 }), 'OneCycleLR: give totalSteps, or epochs and stepsPerEpoch'],
  ['OneCycleLR both lengths', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10, epochs: 2 }), 'OneCycleLR: totalSteps must be given alone, without epochs and stepsPerEpoch, got 10'],
  ['OneCycleLR totalSteps', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 0 }), 'OneCycleLR: totalSteps must be an integer >= 1, got 0'],
  ['OneCycleLR epochs', () => new lr.OneCycleLR(opt(), { maxLr: 1, stepsPerEpoch: 10 }), 'OneCycleLR: epochs must be an integer >= 1, got undefined'],
  ['OneCycleLR stepsPerEpoch', () => new lr.OneCycleLR(opt(), { maxLr: 1, epochs: 3, stepsPerEpoch: 1.5 }), 'OneCycleLR: stepsPerEpoch must be an integer >= 1, got 1.5'],
  ['OneCycleLR pctStart', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10, pctStart: 1.5 }), 'OneCycleLR: pctStart must be a finite number >= 0 and <= 1, got 1.5'],
  ['OneCycleLR empty phase', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10, pctStart: 0.1 }), 'OneCycleLR: pctStart must be such that every phase has steps (phase 1 of 2 is empty with totalSteps = 10), got 0.1'],
  ['OneCycleLR three-phase overlap', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 100, pctStart: 0.6, threePhase: true }), /OneCycleLR: pctStart must be such that every phase has steps \(phase 3 of 3/],
  ['OneCycleLR annealStrategy', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10, annealStrategy: 'exp' as never }), "OneCycleLR: annealStrategy must be one of 'cos', 'linear', got \"exp\""],
  ['OneCycleLR divFactor', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10, divFactor: 0 }), 'OneCycleLR: divFactor must be a finite number > 0, got 0'],
  ['OneCycleLR finalDivFactor', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10, finalDivFactor: -1 }), 'OneCycleLR: finalDivFactor must be a finite number > 0, got -1'],
  ['OneCycleLR threePhase', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10, threePhase: 'yes' as never }), 'OneCycleLR: threePhase must be true or false, got "yes"'],
  ['OneCycleLR cycleMomentum', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10, cycleMomentum: 1 as never }), 'OneCycleLR: cycleMomentum must be true or false, got 1'],
  ['OneCycleLR baseMomentum', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10, baseMomentum: [0.8, 2] }), 'OneCycleLR: baseMomentum[1] must be a finite number >= 0 and <= 1, got 2'],
  ['OneCycleLR maxMomentum', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10, maxMomentum: -0.5 }), 'OneCycleLR: maxMomentum must be a finite number >= 0 and <= 1, got -0.5'],
  ['ReduceLROnPlateau mode', () => new lr.ReduceLROnPlateau(opt(), { mode: 'mean' as never }), "ReduceLROnPlateau: mode must be one of 'min', 'max', got \"mean\""],
  ['ReduceLROnPlateau factor', () => new lr.ReduceLROnPlateau(opt(), { factor: 1 }), 'ReduceLROnPlateau: factor must be a finite number >= 0 and < 1, got 1'],
  ['ReduceLROnPlateau patience', () => new lr.ReduceLROnPlateau(opt(), { patience: -1 }), 'ReduceLROnPlateau: patience must be an integer >= 0, got -1'],
  ['ReduceLROnPlateau threshold', () => new lr.ReduceLROnPlateau(opt(), { threshold: -1e-4 }), 'ReduceLROnPlateau: threshold must be a finite number >= 0, got -0.0001'],
  ['ReduceLROnPlateau thresholdMode', () => new lr.ReduceLROnPlateau(opt(), { thresholdMode: 'pct' as never }), "ReduceLROnPlateau: thresholdMode must be one of 'rel', 'abs', got \"pct\""],
  ['ReduceLROnPlateau cooldown', () => new lr.ReduceLROnPlateau(opt(), { cooldown: 1.5 }), 'ReduceLROnPlateau: cooldown must be an integer >= 0, got 1.5'],
  ['ReduceLROnPlateau minLr count', () => new lr.ReduceLROnPlateau(opt(), { minLr: [0.1] }), 'ReduceLROnPlateau: minLr must be a number or an array of 2 numbers (one per parameter group), got [0.1]'],
  ['ReduceLROnPlateau minLr', () => new lr.ReduceLROnPlateau(opt(), { minLr: -1 }), 'ReduceLROnPlateau: minLr must be a finite number >= 0, got -1'],
  ['ReduceLROnPlateau eps', () => new lr.ReduceLROnPlateau(opt(), { eps: -1 }), 'ReduceLROnPlateau: eps must be a finite number >= 0, got -1'],
  ['ReduceLROnPlateau metric', () => new lr.ReduceLROnPlateau(opt()).step('0.5' as never), 'ReduceLROnPlateau: step(metric): metric must be a number, got "0.5"'],
  ['GradientNormLR gamma', () => new lr.GradientNormLR(opt(), { gamma: -1 }), 'GradientNormLR: gamma must be a finite number >= 0, got -1'],
  ['GradientNormLR eps', () => new lr.GradientNormLR(opt(), { gamma: 1, eps: 0 }), 'GradientNormLR: eps must be a finite number > 0, got 0'],
  ['BoldDriver increase', () => new lr.BoldDriver(opt(), { increase: 0.9 }), 'BoldDriver: increase must be a finite number >= 1, got 0.9'],
  ['BoldDriver decrease', () => new lr.BoldDriver(opt(), { decrease: 0 }), 'BoldDriver: decrease must be a finite number > 0 and <= 1, got 0'],
  ['BoldDriver minLr', () => new lr.BoldDriver(opt(), { minLr: -1 }), 'BoldDriver: minLr must be a finite number >= 0, got -1'],
  ['BoldDriver maxLr', () => new lr.BoldDriver(opt(), { minLr: 0.1, maxLr: 0.01 }), 'BoldDriver: maxLr must be a number >= 0.1, got 0.01'],
  ['BoldDriver loss', () => new lr.BoldDriver(opt()).observeLoss(null as never), 'BoldDriver: observeLoss(loss): loss must be a number, got null'],
  ['lrAt negative', () => step(opt()).lrAt(-1), 'StepLR: lrAt(step): step must be an integer >= 0, got -1'],
  ['lrAt fractional', () => step(opt()).lrAt(0.5), 'StepLR: lrAt(step): step must be an integer >= 0, got 0.5'],
  ['OneCycleLR lrAt past the end', () => new lr.OneCycleLR(opt(), { maxLr: 1, totalSteps: 10 }).lrAt(11), 'OneCycleLR: step 11 is past the end of the cycle (totalSteps = 10)'],
  ['load another schedule', () => step(opt()).loadStateDict(new lr.ExponentialLR(opt(), { gamma: 0.9 }).stateDict()), 'StepLR.loadStateDict: the state is from "ExponentialLR", not StepLR'],
  ['load bad lastEpoch', () => step(opt()).loadStateDict({ ...step(opt()).stateDict(), lastEpoch: -3 }), 'StepLR: state.lastEpoch must be an integer >= 0, got -3'],
  ['load wrong group count', () => step(opt()).loadStateDict({ ...step(opt()).stateDict(), baseLrs: [0.1] }), 'StepLR: state.baseLrs must be an array of 2 numbers, got [0.1]'],
  ['load plateau state', () => new lr.ReduceLROnPlateau(opt()).loadStateDict({ ...new lr.ReduceLROnPlateau(opt()).stateDict(), best: 'low' }), 'ReduceLROnPlateau: state.best must be a number, got "low"'],
];

describe('option validation', () => {
  it.each(VALIDATION)('%s', (_, make, message) => {
    expect(make).toThrow(message);
  });
});
