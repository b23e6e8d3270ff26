/**
 * Plans the launches of one optimizer step over flat parameter and gradient buffers: an optional
 * gradient-norm reduction (for clipping, GradientNormLR, diagnostics and the L1/L2 penalty), then
 * exactly one fused update dispatch per parameter group. Nothing here waits for the GPU: the clip
 * coefficient and the lr factor go from the reduction to the updates through the `stats` buffer.
 */
import type { Backend } from '../backend/backend.js';
import type { BufferView, DeviceBuffer, Launch } from '../backend/kernel.js';
import { alignUp, VIEW_ALIGN, view } from '../backend/kernel.js';
import { averageLrLaunch } from '../kernels/average-lr.js';
import { launch } from '../kernels/launch.js';
import { gradNormPartial, gradStats, hyperFields, OPTIM_WG, STATS, updateElems } from '../kernels/optim.js';
import type { AverageNormState } from './lr/scheduler.js';
import { groupLayout, type Optimizer, type ParamGroup } from './optimizer.js';

export { STATS };

/**
 * The training step's flat buffers. Group g covers [offset, offset + length) of both buffers,
 * offset a multiple of 64, its parameters in order each at the next 64-aligned offset (see
 * `packParameters`), padding zero in both buffers.
 */
export interface FlatLayout {
  params: DeviceBuffer;
  grads: DeviceBuffer;
  groups: { offset: number; length: number }[];
}

export interface UpdateOptions {
  /** Scale all gradients so that their total norm is at most this (torch clip_grad_norm_). */
  clipGradNorm?: number;
  /** The norm of clipGradNorm, gradNormLR and the reported norm: 2 (default) or 'inf'. */
  normType?: 2 | 'inf';
  /** Clamp every gradient element to [-clipGradValue, clipGradValue] (torch clip_grad_value_). */
  clipGradValue?: number;
  /** Default l1 of the groups that set none: l1 * sum|w| is added to the loss. */
  l1?: number;
  /** Default l2 of the groups that set none: l2/2 * sum w^2 is added to the loss. */
  l2?: number;
  /** Multiply every group's lr by 1 / max(norm, eps)^gamma (GradientNormLR), computed on the GPU. */
  gradNormLR?: {
    gamma: number;
    eps: number;
    /** AverageGradientLR: the factor is 1 / (sqrt(v_t / (1 - beta^t)) + eps) of the running mean v_t of ||g||^2 instead. */
    average?: AverageNormState;
  };
  /** Run the reduction for diagnostics even when nothing above needs it. */
  computeNorm?: boolean;
  /**
   * Leave parameters and optimizer state untouched on a step whose loss, gradient norm or
   * penalty is not finite (the reduction runs every step; `stats[STATS.skip]` says it skipped).
   * The host's step count still advances: call `optimizer.stepCount -= 1` when the skip is seen.
   */
  skipNonFinite?: boolean;
  /** The step's loss (one float), checked with `skipNonFinite`. */
  loss?: BufferView;
}

export interface UpdatePlan {
  /** Appended by the trainer after the backward launches, in the same submit. */
  readonly launches: Launch[];
  /**
   * f32 [gradNorm, clipCoef, lrFactor, penalty, skip] (indices in STATS), valid after a step when
   * the reduction runs (`reduces`); otherwise [0, 1, 1, 0, 0]. Read back asynchronously.
   */
  readonly stats: DeviceBuffer;
  /** True when the launches start with the gradient-norm reduction. */
  readonly reduces: boolean;
  /**
   * Counts the step (optimizer.stepCount + 1) and writes each group's per-step scalars by name
   * (l1, l2 and `optimizer.hyper(group, step)`: lr from paramGroups[i].lr, bias corrections...)
   * with one backend.write. Call it before each run.
   */
  beforeStep(): void;
  /** Frees the plan's buffers; the optimizer keeps its state on the device for the next plan. */
  dispose(): void;
}

/** Floats of `hyper` per group: one aligned block, so each group's view is bindable. */
const HYPER_BLOCK = VIEW_ALIGN;
const STATS_LENGTH = VIEW_ALIGN;
/** At most this many workgroups per group in the norm reduction; each thread loops over the rest. */
const MAX_PARTIALS = 256;
/**
 * The same on a software adapter (SwiftShader), where every workgroup's barriers switch between
 * its invocations on the CPU: 256 workgroups of 256 cost 50x more than the loads they share out.
 * A few long workgroups, one or two per core, do the same work for the price of the loads.
 */
const SOFTWARE_PARTIALS = 2;

/**
 * The layout `planUpdate` expects for an optimizer's groups, from `base` (a multiple of 64):
 * groups back to back, each parameter at the next 64-aligned offset. `offsets[g][j]` is the
 * absolute offset of parameter j of group g; `length` the floats the flat buffers need.
 */
export function packParameters(
  optimizer: Optimizer,
  base = 0,
): { groups: { offset: number; length: number }[]; offsets: number[][]; length: number } {
  let at = alignUp(base, VIEW_ALIGN);
  const offsets: number[][] = [];
  const groups = optimizer.paramGroups.map((group) => {
    const layout = groupLayout(group.params);
    offsets.push(layout.offsets.map((o) => at + o));
    const range = { offset: at, length: layout.length };
    at += layout.length;
    return range;
  });
  return { groups, offsets, length: at };
}

function validateOptions(o: UpdateOptions): void {
  const fail = (what: string, value: unknown): never => {
    throw new Error(`planUpdate: ${what}, got ${JSON.stringify(value)}`);
  };
  const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;
  const nonNegative = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (o.clipGradNorm !== undefined && !positive(o.clipGradNorm)) fail('clipGradNorm must be a positive number', o.clipGradNorm);
  if (o.clipGradValue !== undefined && !positive(o.clipGradValue)) fail('clipGradValue must be a positive number', o.clipGradValue);
  if (o.normType !== undefined && o.normType !== 2 && o.normType !== 'inf') fail("normType must be 2 or 'inf'", o.normType);
  if (o.l1 !== undefined && !nonNegative(o.l1)) fail('l1 must be a number >= 0', o.l1);
  if (o.l2 !== undefined && !nonNegative(o.l2)) fail('l2 must be a number >= 0', o.l2);
  if (o.gradNormLR !== undefined) {
    if (!nonNegative(o.gradNormLR.gamma)) fail('gradNormLR.gamma must be a number >= 0', o.gradNormLR.gamma);
    if (!positive(o.gradNormLR.eps)) fail('gradNormLR.eps must be a positive number', o.gradNormLR.eps);
    const beta = o.gradNormLR.average?.beta;
    if (o.gradNormLR.average !== undefined && !(nonNegative(beta) && beta! < 1)) fail('gradNormLR.average.beta must be a number in [0, 1)', beta);
  }
}

function validateLayout(optimizer: Optimizer, layout: FlatLayout): void {
  const groups = optimizer.paramGroups;
  if (layout.groups.length !== groups.length) {
    throw new Error(`planUpdate: the layout has ${layout.groups.length} groups, ${optimizer.name} has ${groups.length}`);
  }
  if (layout.params === layout.grads) {
    throw new Error('planUpdate: params and grads must be different buffers (a dispatch may not bind one buffer as both writable and read-only)');
  }
  const floats = Math.min(layout.params.byteLength, layout.grads.byteLength) / 4;
  layout.groups.forEach(({ offset, length }, g) => {
    const { offsets, length: packed } = groupLayout(groups[g]!.params);
    const last = groups[g]!.params.length - 1;
    const end = offsets[last]! + groups[g]!.params[last]!.numel;
    if (offset % VIEW_ALIGN !== 0) throw new Error(`planUpdate: group ${g} starts at ${offset}, not a multiple of ${VIEW_ALIGN}`);
    if (length < end || length > packed) {
      throw new Error(`planUpdate: group ${g} has length ${length}; its parameters need between ${end} and ${packed}`);
    }
    if (offset + length > floats) throw new Error(`planUpdate: group ${g} ends at ${offset + length}, past the flat buffers (${floats} floats)`);
  });
}

/** The group's l1/l2: its own, else the plan's default, else 0. */
function penalties(group: ParamGroup, options: UpdateOptions): [number, number] {
  return [(group.l1 as number | undefined) ?? options.l1 ?? 0, (group.l2 as number | undefined) ?? options.l2 ?? 0];
}

export function planUpdate(backend: Backend, optimizer: Optimizer, layout: FlatLayout, options: UpdateOptions = {}): UpdatePlan {
  validateOptions(options);
  validateLayout(optimizer, layout);
  const groups = optimizer.paramGroups;
  const state = optimizer.deviceState(backend);
  const normInf = Number(options.normType === 'inf');
  const reduces =
    options.clipGradNorm !== undefined ||
    options.gradNormLR !== undefined ||
    options.computeNorm === true ||
    options.skipNonFinite === true ||
    groups.some((g) => penalties(g, options).some((p) => p > 0));

  const owned: DeviceBuffer[] = [];
  const make = (floats: number, label: string): DeviceBuffer => {
    const buffer = backend.createBuffer(floats * 4, `${optimizer.name}/${label}`);
    owned.push(buffer);
    return buffer;
  };
  const hyper = make(groups.length * HYPER_BLOCK, 'hyper');
  const stats = make(STATS_LENGTH, 'stats');
  const initialStats = new Float32Array(STATS_LENGTH);
  initialStats[STATS.clipCoef] = 1;
  initialStats[STATS.lrFactor] = 1;
  backend.write(stats, initialStats);
  const hyperView = (g: number) => view(hyper, g * HYPER_BLOCK, HYPER_BLOCK);

  const launches: Launch[] = [];
  if (reduces) {
    const most = backend.software ? SOFTWARE_PARTIALS : MAX_PARTIALS;
    const counts = layout.groups.map(({ length }) => Math.min(most, Math.max(1, Math.ceil(length / (OPTIM_WG * 4)))));
    const total = counts.reduce((a, b) => a + b, 0);
    const partials = make(alignUp(2 * total, VIEW_ALIGN), 'partials');
    let base = 0;
    layout.groups.forEach(({ offset, length }, g) => {
      launches.push(launch(gradNormPartial, {
        bindings: {
          weights: view(layout.params, offset, length),
          grads: view(layout.grads, offset, length),
          hyper: hyperView(g),
          partials: view(partials),
        },
        params: { n: length, base },
        overrides: { norm_inf: normInf },
        workgroups: [counts[g]!, 1, 1],
        label: `${optimizer.name}/grad_norm/${g}`,
      }));
      base += counts[g]!;
    });
    const loss = options.loss ?? view(make(VIEW_ALIGN, 'no-loss'));
    launches.push(launch(gradStats, {
      bindings: { partials: view(partials), loss, stats: view(stats) },
      params: {
        count: total,
        max_norm: options.clipGradNorm ?? 0,
        gamma: options.gradNormLR?.gamma ?? 0,
        eps: options.gradNormLR?.eps ?? 1,
      },
      overrides: {
        norm_inf: normInf,
        clip_by_norm: Number(options.clipGradNorm !== undefined),
        scale_lr: Number(options.gradNormLR !== undefined),
        check_finite: Number(options.skipNonFinite === true),
      },
      workgroups: [1, 1, 1],
      label: `${optimizer.name}/grad_stats`,
    }));
    const average = options.gradNormLR?.average;
    if (average) {
      // Overwrites the lr factor grad_stats wrote with the running-mean one, before any update reads it.
      launches.push(averageLrLaunch(view(average.buffer(backend)), view(stats), average.beta, options.gradNormLR!.eps, `${optimizer.name}/average_lr`));
    }
  }

  const fields: string[][] = [];
  layout.groups.forEach(({ offset, length }, g) => {
    const { kernel, overrides } = optimizer.update(groups[g]!);
    fields.push(hyperFields(kernel));
    if (fields[g]!.length > HYPER_BLOCK) throw new Error(`planUpdate: ${kernel.name} has more than ${HYPER_BLOCK} scalars`);
    // Vectorised kernels (vec4 lanes) update `elems` vec4s per invocation, tuned to the device.
    const lanes = kernel.bindings.find((b) => b.name === 'weights')?.lanes ?? 1;
    const elems = lanes === 4 ? updateElems(backend.software) : 1;
    launches.push(launch(kernel, {
      bindings: {
        weights: view(layout.params, offset, length),
        grads: view(layout.grads, offset, length),
        state: view(state.buffers[g]!),
        hyper: hyperView(g),
        stats: view(stats),
      },
      params: { n: length, stride: state.strides[g]!, clip_value: options.clipGradValue ?? 0 },
      overrides: {
        ...overrides,
        clip_by_norm: Number(options.clipGradNorm !== undefined),
        clip_by_value: Number(options.clipGradValue !== undefined),
        scale_lr: Number(options.gradNormLR !== undefined),
        skip_nonfinite: Number(options.skipNonFinite === true),
        ...(lanes === 4 ? { elems } : {}),
      },
      threads: Math.ceil(length / (elems * lanes)),
      label: `${optimizer.name}/update/${g}`,
    }));
  });

  const variants = groups.map((g) => optimizer.variantKey(g));
  const scratch = new Float32Array(groups.length * HYPER_BLOCK);
  let disposed = false;

  return {
    launches,
    stats,
    reduces,
    beforeStep() {
      if (disposed) throw new Error(`${optimizer.name}: beforeStep() on a disposed update plan`);
      if (state.released) throw new Error(`${optimizer.name}: the optimizer's device state was replaced; plan the update again`);
      for (let g = 0; g < groups.length; g++) {
        if (optimizer.variantKey(groups[g]!) !== variants[g]) {
          throw new Error(`${optimizer.name}: an option of param group ${g} that selects the update kernel changed; plan the update again`);
        }
      }
      optimizer.stepCount += 1;
      for (let g = 0; g < groups.length; g++) {
        const [l1, l2] = penalties(groups[g]!, options);
        const values = { ...optimizer.hyper(groups[g]!, optimizer.stepCount), l1, l2 };
        writeHyper(scratch, g * HYPER_BLOCK, fields[g]!, values, optimizer.name);
      }
      backend.write(hyper, scratch);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const b of owned) backend.destroyBuffer(b);
    },
  };
}

/**
 * Writes a group's scalars at `at` in the order of the members of its shader's `struct Hyper`.
 * A member the optimizer gave no value for is an error, not a silent zero.
 */
function writeHyper(out: Float32Array, at: number, fields: readonly string[], values: Readonly<Record<string, number>>, who: string): void {
  fields.forEach((name, i) => {
    const v = values[name];
    if (typeof v !== 'number') throw new Error(`${who}: hyper() gave no value for '${name}'`);
    out[at + i] = v;
  });
}
