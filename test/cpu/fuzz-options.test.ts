/**
 * Fuzzing every optimizer and schedule constructor with fast-check: option objects whose values
 * are wrong types, NaN, infinities, negatives, huge numbers, strings, symbols, objects without a
 * prototype, missing or extra keys, or no object at all. Either the constructor throws a plain
 * Error whose message starts with the class's name and names an option, or the object is valid
 * and a training step on a tiny model (CPU backend) runs: finite loss and parameters when every
 * option is moderate, and no crash (a result or a clear Error) when the options are legal but
 * extreme (lr = 1e30, gamma = 1e300).
 *
 * The runs are seeded (FUZZ_SEED overrides the seed); a failure prints the seed and the path that
 * replays the shrunk case.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createDevice } from '../../src/device.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20251201);
const settings = (numRuns: number) => ({ seed: SEED, numRuns, timeout: 10_000 });

const counts: Record<string, { runs: number; refused: number; trained: number; finite: number }> = {};
afterAll(() => {
  console.log(`fuzz-options (seed ${SEED}):`, JSON.stringify(counts));
});

/** Messages that betray an exception from deep inside rather than a check. */
const DEEP = /Cannot read|Cannot convert|is not a function|is not iterable|Invalid array length|Maximum call stack|undefined is|null is/;

/** Options whose values are integers (steps, counts): moderate up to 12. Every other number: {0} ∪ [1e-6, 1). */
const INTEGER_OPTIONS = new Set(['stepSize', 'milestones', 'tMax', 'totalIters', 'totalSteps', 'epochs', 'stepsPerEpoch', 'patience', 'cooldown']);

function moderate(key: string, value: unknown): boolean {
  if (typeof value === 'boolean' || typeof value === 'string' || typeof value === 'function') return true;
  if (Array.isArray(value)) return value.every((v) => moderate(key, v));
  if (typeof value !== 'number') return false;
  if (INTEGER_OPTIONS.has(key)) return Number.isInteger(value) && value >= 0 && value <= 12;
  return value === 0 || (value >= 1e-6 && value < 1);
}

/** Values nobody should pass, and a few that are legal only for some options. */
const garbage = fc.constantFrom<unknown>(
  NaN, Infinity, -Infinity, -1, -0.5, -1e-300, -0, 1e30, 1e300, 2 ** 53 + 2, 1.5, 3, 1e-300,
  'abc', '0.1', '', 'cos', 'linear', 'min', 'max', 'rel', 'abs', true, false, null,
  [], [0.9], [0.9, 0.999, 0.1], [0.9, 'x'], [NaN, 0.9], [-0.1, 0.9], [1, 0.5], [0.5, Infinity], [3, 1, 2], [2, 2],
  {}, { valueOf: () => 0.1 }, new Date(0), 10n,
);
/** Values whose mere printing throws in careless code (String() of a null-prototype object, `${symbol}`). */
const hostile = fc.constantFrom<unknown>(Object.create(null), Symbol('s'), [Symbol('t'), 0.9], [Object.create(null), 0.9]);
const anyValue = fc.oneof(
  { weight: 2, arbitrary: garbage },
  { weight: 1, arbitrary: hostile },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(0, 1e-6, 0.01, 0.5, 0.9, 1, 2, 10, true, false) },
  { weight: 1, arbitrary: fc.tuple(fc.double({ min: 0, max: 0.999, noNaN: true }), fc.double({ min: 0, max: 0.999, noNaN: true })) },
);

const BOOLEAN_OPTIONS = new Set(['nesterov', 'maximize', 'amsgrad', 'centered', 'cycleMomentum', 'threePhase']);
const PAIR_OPTIONS = new Set(['betas']);

/** A value of the right type for the option, usually moderate, sometimes legal but extreme. */
function plausible(key: string): fc.Arbitrary<unknown> {
  if (BOOLEAN_OPTIONS.has(key)) return fc.boolean();
  const fraction = fc.oneof(fc.constantFrom(0, 1e-6, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999), fc.double({ min: 1e-6, max: 0.999, noNaN: true }));
  if (PAIR_OPTIONS.has(key)) return fc.tuple(fraction, fraction);
  if (INTEGER_OPTIONS.has(key)) return fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 12 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 1000, 2 ** 40) });
  return fc.oneof({ weight: 5, arbitrary: fraction }, { weight: 1, arbitrary: fc.constantFrom(1, 1.05, 2, 10, 1e30, 1e300) });
}

/**
 * An options argument over `keys`: plausible values, plausible values with one replaced by
 * garbage, any values, extra (misspelt) keys, or no object at all.
 */
function optionsFor(keys: readonly string[], special: Record<string, fc.Arbitrary<unknown>> = {}, required: string[] = []): fc.Arbitrary<unknown> {
  const good = (k: string) => special[k] ?? plausible(k);
  const plausibleRecord = fc.oneof(
    fc.record(Object.fromEntries(keys.map((k) => [k, good(k)])), { requiredKeys: [] }),
    fc.record(Object.fromEntries(keys.map((k) => [k, good(k)])), { requiredKeys: required }),
  );
  const anyRecord = fc.record(Object.fromEntries(keys.map((k) => [k, fc.oneof(good(k), anyValue)])), { requiredKeys: [] });
  return fc.oneof(
    { weight: 4, arbitrary: plausibleRecord },
    { weight: 4, arbitrary: fc.tuple(plausibleRecord, fc.constantFrom(...keys), fc.oneof(garbage, hostile)).map(([o, k, v]) => ({ ...o, [k]: v })) },
    { weight: 2, arbitrary: anyRecord },
    { weight: 1, arbitrary: fc.tuple(plausibleRecord, fc.dictionary(fc.constantFrom('lR', 'learningRate', 'beta', 'gama', 'foo', 'constructor'), anyValue, { minKeys: 1, maxKeys: 2 })).map(([a, b]) => ({ ...a, ...b })) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 'abc', 42, [], [0.1], true) },
  );
}

/** A description fast-check can always print (symbols and null-prototype objects included). */
function label(options: unknown): string {
  const show = (v: unknown): string => {
    if (typeof v === 'symbol') return v.toString();
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'function') return 'a function';
    if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
    if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
    if (typeof v === 'object' && v !== null) {
      const proto = Object.getPrototypeOf(v);
      if (proto !== null && proto !== Object.prototype) return `a ${proto.constructor.name}`;
      const entries = Object.entries(v).map(([k, x]) => `${k}: ${show(x)}`);
      return proto === null ? `Object.assign(Object.create(null), { ${entries.join(', ')} })` : `{ ${entries.join(', ')} }`;
    }
    return JSON.stringify(v) ?? String(v);
  };
  return show(options);
}

function expectNamedError(e: unknown, name: string, options: unknown, keys: readonly string[]): void {
  expect(e, 'constructors throw Errors only').toBeInstanceOf(Error);
  const error = e as Error;
  expect(error.constructor, `a plain Error, not ${error.constructor.name}: ${error.message}`).toBe(Error);
  expect(error.message.startsWith(`${name}`), `"${error.message}" starts with ${name}`).toBe(true);
  expect(error.message).not.toMatch(DEEP);
  const own = typeof options === 'object' && options !== null ? Object.keys(options) : [];
  const named = [...keys, ...own, 'options', 'lr'].some((k) => error.message.includes(k));
  expect(named, `"${error.message}" names an option`).toBe(true);
}

const X = new Float32Array([0.5, -1, 2, 1, 0.25, -0.5, -2, 1.5, 0]);
const Y = new Float32Array([1, 0, -1, 0.5, 0.25, 2]);

function tinyModel(): nn.Module {
  nn.manualSeed(1);
  return new nn.Sequential(new nn.Linear(3, 4), new nn.Tanh(), new nn.Linear(4, 2));
}

/** Two training steps; returns whether loss and parameters stayed finite. A clear Error is allowed too. */
async function train(model: nn.Module, optimizer: optim.Optimizer, scheduler?: optim.lr.TrainingHooks): Promise<{ finite: boolean; error?: Error }> {
  const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, {
    loss: new nn.MSELoss(), optimizer, scheduler, inputShape: [3], onNonFinite: 'ignore',
  });
  try {
    const losses = [await trainer.step(X, Y).loss, await trainer.step(X, Y).loss];
    const params = Object.values(await model.stateDict());
    return { finite: losses.every(Number.isFinite) && params.every((p) => p.every(Number.isFinite)) };
  } catch (e) {
    return { finite: false, error: e as Error };
  } finally {
    await trainer.dispose();
  }
}

function tally(name: string, outcome: 'refused' | 'trained', finite = false): void {
  const c = (counts[name] ??= { runs: 0, refused: 0, trained: 0, finite: 0 });
  c.runs++;
  c[outcome]++;
  if (finite) c.finite++;
}

type OptimizerClass = new (params: optim.ParamsInput, options?: never) => optim.Optimizer;

const OPTIMIZERS: [string, OptimizerClass, string[]][] = [
  ['SGD', optim.SGD as OptimizerClass, ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'maximize', 'l1', 'l2']],
  ['Adam', optim.Adam as OptimizerClass, ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'l1', 'l2']],
  ['AdamW', optim.AdamW as OptimizerClass, ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'l1', 'l2']],
  ['RMSprop', optim.RMSprop as OptimizerClass, ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', 'maximize']],
  ['Adagrad', optim.Adagrad as OptimizerClass, ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps', 'maximize']],
  ['Adadelta', optim.Adadelta as OptimizerClass, ['lr', 'rho', 'eps', 'weightDecay', 'maximize']],
  ['Adamax', optim.Adamax as OptimizerClass, ['lr', 'betas', 'eps', 'weightDecay', 'maximize']],
  ['NAdam', optim.NAdam as OptimizerClass, ['lr', 'betas', 'eps', 'weightDecay', 'momentumDecay', 'maximize']],
  ['Lion', optim.Lion as OptimizerClass, ['lr', 'betas', 'weightDecay', 'maximize']],
];

describe('optimizer constructors: a clear Error naming the class and the option, or a working optimizer', () => {
  it.each(OPTIMIZERS)('%s', async (name, Optim, keys) => {
    const property = fc.asyncProperty(
      optionsFor(keys).map((o) => ({ o, [fc.toStringMethod]: () => label(o) })),
      fc.boolean(),
      async ({ o }, asGroups) => {
        const model = tinyModel();
        const params = model.parameters();
        let optimizer: optim.Optimizer;
        try {
          // The same options as the optimizer's defaults, or as one parameter group's own.
          optimizer = asGroups && typeof o === 'object' && o !== null && !Array.isArray(o)
            ? new Optim([{ params: params.slice(0, 2), ...(o as object) }, { params: params.slice(2) }] as never)
            : new Optim(params, o as never);
        } catch (e) {
          expectNamedError(e, name, o, keys);
          tally(name, 'refused');
          return;
        }
        const { finite, error } = await train(model, optimizer);
        if (error) {
          expect(error.constructor, `${label(o)}: ${error.message}`).toBe(Error);
          expect(error.message).not.toMatch(DEEP);
        }
        // Centered RMSprop divides by sqrt(sq - ga^2) = sqrt(alpha (1 - alpha)) |g| on its first step:
        // for a small alpha, f32 rounding can make that difference negative and the update NaN
        // (torch's formula does the same), so such alphas count as extreme.
        const centeredSmallAlpha = name === 'RMSprop' && (o as { centered?: unknown })?.centered === true && !((o as { alpha?: number }).alpha! >= 0.01);
        const tame = !centeredSmallAlpha && (typeof o !== 'object' || o === null || Object.entries(o).every(([k, v]) => moderate(k, v)));
        if (tame) expect(finite, `${name}(${label(o)}): moderate options give finite loss and parameters${error ? ` (${error.message})` : ''}`).toBe(true);
        tally(name, 'trained', finite);
      },
    );
    await fc.assert(property, settings(250));
  });
});

// ---------------------------------------------------------------------------------------------
// Schedules.

/** Stand-in for "valid child schedules built on this optimizer", resolved when the schedule is built. */
const CHILDREN = Symbol('children');
const LAMBDAS = fc.constantFrom<unknown>(
  (t: number) => 0.9 ** t,
  () => 1,
  (t: number) => 1 / (1 + t),
  () => NaN,
  () => Infinity,
  () => 'x',
  [() => 1, () => 0.5],
);

type ScheduleCase = [string, (opt: optim.Optimizer, options: never) => object, string[], Record<string, fc.Arbitrary<unknown>>, string[]?];
const lr = optim.lr;
const SCHEDULES: ScheduleCase[] = [
  ['StepLR', (o, x) => new lr.StepLR(o, x), ['stepSize', 'gamma'], {}, ['stepSize']],
  ['MultiStepLR', (o, x) => new lr.MultiStepLR(o, x), ['milestones', 'gamma'], { milestones: fc.array(fc.integer({ min: -2, max: 12 }), { maxLength: 4 }) }, ['milestones']],
  ['ExponentialLR', (o, x) => new lr.ExponentialLR(o, x), ['gamma'], {}, ['gamma']],
  ['CosineAnnealingLR', (o, x) => new lr.CosineAnnealingLR(o, x), ['tMax', 'etaMin'], {}, ['tMax']],
  ['LinearLR', (o, x) => new lr.LinearLR(o, x), ['startFactor', 'endFactor', 'totalIters'], {}],
  ['PolynomialLR', (o, x) => new lr.PolynomialLR(o, x), ['totalIters', 'power'], {}],
  ['InverseTimeLR', (o, x) => new lr.InverseTimeLR(o, x), ['k', 'beta'], {}],
  ['LambdaLR', (o, x) => new lr.LambdaLR(o, x), ['lrLambda'], { lrLambda: LAMBDAS }, ['lrLambda']],
  ['SequentialLR', (o, x) => new lr.SequentialLR(o, x), ['schedulers', 'milestones'], {
    schedulers: fc.constant(CHILDREN),
    milestones: fc.oneof(fc.tuple(fc.integer({ min: -1, max: 12 })), fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 3 })),
  }, ['schedulers', 'milestones']],
  ['OneCycleLR', (o, x) => new lr.OneCycleLR(o, x), [
    'maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum', 'baseMomentum', 'maxMomentum',
    'divFactor', 'finalDivFactor', 'threePhase',
  ], { annealStrategy: fc.constantFrom('cos', 'linear', 'COS'), divFactor: fc.constantFrom(1e-300, 25, 10, 1), finalDivFactor: fc.constantFrom(1e-310, 1e4, 100), pctStart: fc.constantFrom(0.3, 0.25, 0.5, 0, 1, 0.999), totalSteps: fc.integer({ min: 1, max: 60 }), epochs: fc.constant(undefined), stepsPerEpoch: fc.constant(undefined) }, ['maxLr', 'totalSteps']],
  ['ReduceLROnPlateau', (o, x) => new lr.ReduceLROnPlateau(o, x), ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps'], {
    mode: fc.constantFrom('min', 'max', 'MIN'), thresholdMode: fc.constantFrom('rel', 'abs', 'relative'),
  }],
  ['GradientNormLR', (o, x) => new lr.GradientNormLR(o, x), ['gamma', 'eps'], {}, ['gamma']],
  ['BoldDriver', (o, x) => new lr.BoldDriver(o, x), ['increase', 'decrease', 'minLr', 'maxLr'], { increase: fc.constantFrom(1, 1.05, 2) }],
];

describe('schedule constructors: a clear Error naming the class and the option, or a working schedule', () => {
  it.each(SCHEDULES)('%s', async (name, build, keys, special, required = []) => {
    const property = fc.asyncProperty(
      optionsFor(keys, special, required).map((o) => ({ o, [fc.toStringMethod]: () => label(o) })),
      fc.constantFrom('SGD', 'Adam'),
      async ({ o }, which) => {
        const model = tinyModel();
        const optimizer = which === 'SGD' ? new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }) : new optim.Adam(model.parameters(), { lr: 0.01 });
        let options = o;
        if (typeof o === 'object' && o !== null && (o as Record<string, unknown>).schedulers === CHILDREN) {
          options = { ...o, schedulers: [new lr.LinearLR(optimizer, { totalIters: 2 }), new lr.ExponentialLR(optimizer, { gamma: 0.9 })] };
        }
        let schedule: object;
        try {
          schedule = build(optimizer, options as never);
        } catch (e) {
          expectNamedError(e, name, options, keys);
          tally(name, 'refused');
          return;
        }
        // A valid schedule starts every group at a finite rate the optimizer would accept.
        for (const g of optimizer.paramGroups) expect(Number.isFinite(g.lr) && g.lr >= 0, `${name}(${label(o)}): initial lr ${g.lr}`).toBe(true);
        const { finite, error } = await train(model, optimizer, schedule as optim.lr.TrainingHooks);
        if (error) {
          expect(error.constructor, `${label(o)}: ${error.message}`).toBe(Error);
          expect(error.message).not.toMatch(DEEP);
        }
        const tame = typeof options === 'object' && options !== null && Object.entries(options).every(([k, v]) => k === 'schedulers' || moderate(k, v));
        if (tame && name !== 'GradientNormLR') {
          expect(finite, `${name}(${label(o)}): moderate options give finite loss and parameters${error ? ` (${error.message})` : ''}`).toBe(true);
        }
        tally(name, 'trained', finite);
      },
    );
    await fc.assert(property, settings(200));
  });
});

describe('cases the fuzzer found, kept as plain tests', () => {
  it('OneCycleLR refuses factors whose rates overflow (seed 7: maxLr 1e300, divFactor 1e-300)', () => {
    const optimizer = new optim.SGD(tinyModel().parameters(), { lr: 0.1, momentum: 0.9 });
    expect(() => new lr.OneCycleLR(optimizer, { maxLr: 1e300, totalSteps: 3, pctStart: 0.5, divFactor: 1e-300 })).toThrow(/^OneCycleLR: divFactor must be such that .* got 1e-300$/);
    expect(() => new lr.OneCycleLR(optimizer, { maxLr: 1, totalSteps: 10, finalDivFactor: 1e-310 })).toThrow(/^OneCycleLR: finalDivFactor must be such that/);
  });

  it('optimizers print any bad value, and refuse an options argument that is not an object', () => {
    const params = tinyModel().parameters();
    expect(() => new optim.Adam(params, { lr: Object.create(null) })).toThrow(/^Adam: invalid lr: \[object Object\]/);
    expect(() => new optim.Adam(params, { betas: [Symbol('s'), 0.9] as never })).toThrow(/^Adam: invalid betas\[0\]: Symbol\(s\)/);
    expect(() => new optim.SGD(params, null as never)).toThrow(/^SGD: options must be an object such as \{ lr: 0.01 \}, got null/);
    expect(() => new optim.SGD(params, [0.1] as never)).toThrow(/^SGD: options must be an object/);
  });

  it('a schedule that refuses a state leaves itself and the optimizer as they were (SequentialLR, OneCycleLR)', () => {
    const optimizer = new optim.SGD(tinyModel().parameters(), { lr: 0.1, momentum: 0.9 });
    const seq = new lr.SequentialLR(optimizer, { schedulers: [new lr.LinearLR(optimizer, { totalIters: 2 }), new lr.ExponentialLR(optimizer, { gamma: 0.9 })], milestones: [2] });
    const good = seq.stateDict() as { schedulers: Record<string, unknown>[] };
    const before = JSON.stringify([seq.stateDict(), optimizer.paramGroups.map((g) => [g.lr, g.momentum])]);
    expect(() => seq.loadStateDict({ ...good, schedule: 'X', schedulers: [{ ...good.schedulers[0], lastEpoch: 1 }, good.schedulers[1]] })).toThrow(/the state is from "X"/);
    expect(JSON.stringify([seq.stateDict(), optimizer.paramGroups.map((g) => [g.lr, g.momentum])])).toBe(before);

    const cycle = new lr.OneCycleLR(optimizer, { maxLr: 0.05, totalSteps: 20 });
    const state = JSON.stringify([cycle.stateDict(), optimizer.paramGroups.map((g) => [g.lr, g.momentum])]);
    expect(() => cycle.loadStateDict({ ...cycle.stateDict(), lastEpoch: 50 })).toThrow(/^OneCycleLR: state.lastEpoch must be at most totalSteps = 20, got 50/);
    expect(JSON.stringify([cycle.stateDict(), optimizer.paramGroups.map((g) => [g.lr, g.momentum])])).toBe(state);
  });
});
