/**
 * Per-layer diagnostics of a training step, the vanishing/exploding-gradient monitor: on every
 * k-th step, for each parameter tensor, ‖g‖, ‖w‖, ‖Δw‖/‖w‖ and optional histograms, computed on
 * the device inside the step's own submit and read back through a step log like the loss.
 *
 * A tracked step runs two extra dispatches (kernels/layer-stats.ts): one between backward and the
 * optimizer update, which also snapshots the weights, and one after it, which measures the step
 * against that snapshot. The snapshot is a device buffer as large as the parameters, held only
 * when `layerStats` is on. Untracked steps submit the plain program: no extra dispatch.
 *
 * With `activations`, a tracked step also measures every module's output (mean, standard
 * deviation, fraction of exact zeros; kernels/activation-stats.ts), in ceil(outputs / 7) more
 * dispatches, plus one copy per output that is a strided view. The memory plan reuses a module
 * output's buffer once its last reader has run, so tracked steps run a compilation of their own
 * in which those outputs are kept to the end of the step: the plain program, and so the
 * untracked steps, stay exactly as without the option, at the cost of a second set of scratch
 * buffers (`describeStep(batch).trackedScratchBytes`).
 */
import type { Backend, Copy, Program } from '../backend/backend.js';
import { alignUp, type BufferView, type DeviceBuffer, type Launch, VIEW_ALIGN, view } from '../backend/kernel.js';
import { type CompiledGraph, type CompileRequest, compileGraph } from '../graph/compile.js';
import { contiguous } from '../graph/ops/shape.js';
import { type Graph, Tensor } from '../graph/tensor.js';
import { ACTIVATION_STRIDE, activationStatsLaunches, decodeActivationStats } from '../kernels/activation-stats.js';
import { decodeStats, layerStatsLaunches, MAX_BINS, segmentTable, type StatsSegment, statsStride } from '../kernels/layer-stats.js';
import type { FlatParameters } from './flat-parameters.js';
import { StepLog } from './step-log.js';

export interface HistogramOptions {
  /** Bins of each histogram, 2 to 256. */
  readonly bins: number;
  /**
   * The log10|g| range the gradient bins split equally. Default [-12, 2]: |g| from 1e-12 to 100.
   * Smaller magnitudes (and exact zeros) count in the first bin, larger ones (and non-finite
   * values) in the last.
   */
  readonly logGradRange?: readonly [number, number];
  /**
   * The weight bins split [-weightRange, weightRange] equally, for every tensor. Default: per
   * tensor, twice the largest |w| of its values when training starts (1 for a tensor that starts
   * at zero, such as a bias), so the histograms show how far the weights move from their
   * initial spread. Values outside count in the end bins, NaN in the last.
   */
  readonly weightRange?: number;
}

export interface LayerStatsOptions {
  /** Track steps 0, every, 2·every, ... (steps where step % every === 0). */
  readonly every: number;
  /** Also histogram log10|g| and the weights of each tensor. */
  readonly histograms?: HistogramOptions;
  /**
   * Also measure every module's output (`record.activationStats`, keyed by module path). Costs
   * a second set of scratch buffers, for the tracked steps' own compilation.
   */
  readonly activations?: boolean;
}

/**
 * The figures of one module's output on a tracked step, over all its elements (the whole
 * batch). A Linear or Conv2d whose activation was fused into it has none (its activation module
 * has them); a Flatten reports the same figures as its input.
 */
export interface ActivationStats {
  readonly mean: number;
  /** The population standard deviation (divided by the element count, as numpy's default). */
  readonly std: number;
  /** The fraction of elements exactly ±0: units of a ReLU that are dead for these samples. */
  readonly zeroFraction: number;
}

/** What a tracked step's record adds. */
export interface TrackedValues {
  readonly layerStats: Record<string, LayerStats>;
  /** With `activations`: per module path, in the order the forwards returned. */
  readonly activationStats?: Record<string, ActivationStats>;
}

/** The program of the tracked steps at one batch size, and how their figures come back. */
export interface TrackedStep {
  readonly program: Program;
  /** Where that program keeps each tensor (its own compilation's views, with `activations`). */
  readonly views: ReadonlyMap<Tensor, BufferView>;
  /** Scratch bytes of its own compilation; 0 when it shares the plain program's buffers. */
  readonly scratchBytes: number;
  /** The copies to append to a tracked step's submit, and the promise of its figures. */
  record(): { copies: Copy[]; values: Promise<TrackedValues> };
  dispose(): void;
}

/** The figures of one parameter tensor on a tracked step. */
export interface LayerStats {
  /** ‖g‖ of this step's gradient, before clipping and penalties (what `trainer.gradients()` reads). */
  readonly gradNorm: number;
  /** ‖w‖ of the weights the gradient was computed at (before this step's update). */
  readonly weightNorm: number;
  /** ‖Δw‖ / ‖w‖ for the update Δw the optimizer applied this step (0 when Δw = 0). */
  readonly updateRatio: number;
  /** Counts of log10|g| per bin over `gradHistogramRange`; they sum to the tensor's elements. */
  readonly gradHistogram?: Uint32Array;
  /** Counts of the weights (before the update) per bin over `weightHistogramRange`. */
  readonly weightHistogram?: Uint32Array;
  readonly gradHistogramRange?: readonly [number, number];
  readonly weightHistogramRange?: readonly [number, number];
}

const DEFAULT_LOG_GRAD_RANGE: readonly [number, number] = [-12, 2];
/** Tracked records in flight before the log grows another staging buffer. */
const LOG_CAPACITY = 16;

/** The checks of the `layerStats` trainer option; messages name the option and the value. */
export function validateLayerStats(options: LayerStatsOptions | undefined): void {
  if (options === undefined) return;
  const fail = (what: string, value: unknown): never => {
    throw new Error(`Trainer: layerStats.${what}, got ${JSON.stringify(value)}`);
  };
  if (typeof options !== 'object' || options === null) fail('must be an object such as { every: 10 }', options);
  if (!Number.isInteger(options.every) || options.every < 1) fail('every must be an integer >= 1', options.every);
  if (options.activations !== undefined && typeof options.activations !== 'boolean') fail('activations must be true or false', options.activations);
  const h = options.histograms;
  if (h === undefined) return;
  if (typeof h !== 'object' || h === null) fail('histograms must be an object such as { bins: 32 }', h);
  if (!Number.isInteger(h.bins) || h.bins < 2 || h.bins > MAX_BINS) fail(`histograms.bins must be an integer in [2, ${MAX_BINS}]`, h.bins);
  const range = h.logGradRange;
  if (range !== undefined) {
    const ok = Array.isArray(range) && range.length === 2 && range.every((v) => Number.isFinite(v) && Math.abs(v) <= 38) && range[0]! < range[1]!;
    if (!ok) fail('histograms.logGradRange must be [lo, hi] with -38 <= lo < hi <= 38', range);
  }
  if (h.weightRange !== undefined && !(Number.isFinite(h.weightRange) && h.weightRange > 0)) {
    fail('histograms.weightRange must be a positive number', h.weightRange);
  }
}

function initialRange(data: Float32Array): number {
  let top = 0;
  for (const v of data) if (Number.isFinite(v)) top = Math.max(top, Math.abs(v));
  return top > 0 ? Math.fround(2 * top) : 1;
}

/** The buffers and launches of the statistics for one trainer's flat parameters. */
export class LayerStatsPlan {
  /** Between backward and the optimizer update. */
  readonly before: Launch;
  /** After the update. */
  readonly after: Launch;
  private readonly names: string[];
  private readonly ranges: number[];
  private readonly bins: number;
  private readonly logGradRange: readonly [number, number];
  private readonly owned: DeviceBuffer[] = [];

  /** Device bytes of the plan's own buffers (statistics, staging on the device). */
  get bytes(): number {
    return this.owned.reduce((a, b) => a + b.byteLength, 0);
  }
  private readonly out: DeviceBuffer;
  private readonly log: StepLog;
  private tracked = 0;

  constructor(
    private readonly backend: Backend,
    flat: FlatParameters,
    readonly options: LayerStatsOptions,
  ) {
    const { histograms } = options;
    this.bins = histograms?.bins ?? 0;
    this.logGradRange = histograms?.logGradRange ?? DEFAULT_LOG_GRAD_RANGE;
    this.names = flat.order.map((p) => p.name);
    this.ranges = flat.order.map((p) => Math.fround(histograms?.weightRange ?? initialRange(p.data)));
    const segments: StatsSegment[] = flat.order.map((p, t) => {
      const { offset, length } = flat.paramView(p);
      return { offset, length, range: this.ranges[t]! };
    });
    const make = (floats: number, label: string) => {
      const buffer = backend.createBuffer(alignUp(Math.max(floats, 1), VIEW_ALIGN) * 4, `layer-stats/${label}`);
      this.owned.push(buffer);
      return buffer;
    };
    const table = segmentTable(segments, this.bins);
    const segmentBuffer = make(table.length, 'segments');
    backend.write(segmentBuffer, table);
    const { params, grads } = flat.layout;
    const snapshot = make(params.byteLength / 4, 'snapshot');
    const width = statsStride(this.bins) * segments.length;
    this.out = make(width, 'out');
    const launches = layerStatsLaunches(
      { segments: view(segmentBuffer), weights: view(params), grads: view(grads), snapshot: view(snapshot), out: view(this.out) },
      segments,
      { bins: this.bins, logGradRange: this.logGradRange },
    );
    this.before = launches.before;
    this.after = launches.after;
    this.log = new StepLog(backend, width, LOG_CAPACITY);
  }

  /** Whether step `step` (0-based) is tracked. */
  tracks(step: number): boolean {
    return step % this.options.every === 0;
  }

  /**
   * The program of the tracked steps for a training graph compiled as `plain` from `request`,
   * `update` being the optimizer's launches: `before` between backward and the update, `after`
   * behind it. With `activations`, the launches of a compilation of its own that keeps every
   * measured module output, then the launches that measure them.
   */
  trackedStep(request: CompileRequest, plain: CompiledGraph, update: readonly Launch[]): TrackedStep {
    const label = `${request.label}+layer-stats`;
    const measured = this.options.activations ? measuredOutputs(request.graph) : [];
    if (measured.length > 0) return activationStep(this.backend, this, { ...request, label }, measured, update);
    const program = this.backend.compile([...plain.launches, this.before, ...update, this.after], label);
    return {
      program,
      views: plain.views,
      scratchBytes: 0,
      record: () => {
        const { copies, values } = this.record();
        return { copies, values: values.then((layerStats) => ({ layerStats })) };
      },
      dispose: () => program.dispose(),
    };
  }

  /**
   * The copies to append to a tracked step's submit (after the launches of the program that
   * holds `before` and `after`), and the promise of its figures by parameter name.
   */
  record(): { copies: Copy[]; values: Promise<Record<string, LayerStats>> } {
    const width = statsStride(this.bins) * this.names.length;
    const { copies, record } = this.log.record(this.tracked++, [{ name: 'stats', src: this.out, byteOffset: 0, floats: width }]);
    return { copies, values: record.then(({ stats }) => this.decode(stats!)) };
  }

  private decode(values: Float32Array): Record<string, LayerStats> {
    const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const out: Record<string, LayerStats> = {};
    this.names.forEach((name, t) => {
      const s = decodeStats(words, t, this.bins);
      const r = this.ranges[t]!;
      out[name] = {
        gradNorm: s.gradNorm,
        weightNorm: s.weightNorm,
        updateRatio: s.deltaNorm === 0 ? 0 : s.deltaNorm / s.weightNorm,
        ...(this.bins > 0
          ? { gradHistogram: s.gradHistogram, weightHistogram: s.weightHistogram, gradHistogramRange: this.logGradRange, weightHistogramRange: [-r, r] as const }
          : {}),
      };
    });
    return out;
  }

  /** Rejects records still in flight and frees the device buffers. */
  dispose(): void {
    this.log.dispose();
    for (const b of this.owned) this.backend.destroyBuffer(b);
  }
}

/** The module outputs to measure, by path: float tensors with elements; strided views copied dense. */
function measuredOutputs(graph: Graph): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  for (const [path, t] of graph.moduleOutputs) {
    if (!(t instanceof Tensor) || t.dtype !== 'f32' || t.numel === 0) continue;
    out.push([path, t.isDense ? t : graph.scopeAt(path, () => contiguous(t))]);
  }
  return out;
}

/** A tracked step that also measures module outputs (see the top of this file). */
function activationStep(
  backend: Backend,
  stats: LayerStatsPlan,
  request: CompileRequest,
  measured: readonly [string, Tensor][],
  update: readonly Launch[],
): TrackedStep {
  const compiled = compileGraph(backend, { ...request, outputs: [...request.outputs, ...measured.map(([, t]) => t)] });
  // One measurement per storage: a Flatten's output and its input, or a Sequential's and its last
  // layer's, are the same elements.
  const tensors: BufferView[] = [];
  const slots = measured.map(([path, t]): [string, number] => {
    const v = { ...compiled.views.get(t)!, length: t.numel };
    const seen = tensors.findIndex((u) => u.buffer === v.buffer && u.offset === v.offset && u.length === v.length);
    return [path, seen >= 0 ? seen : tensors.push(v) - 1];
  });
  const width = ACTIVATION_STRIDE * tensors.length;
  const out = backend.createBuffer(alignUp(width, VIEW_ALIGN) * 4, `${request.label}/activations`);
  const launches = activationStatsLaunches(tensors, view(out));
  const program = backend.compile([...compiled.launches, ...launches, stats.before, ...update, stats.after], request.label);
  const log = new StepLog(backend, width, LOG_CAPACITY);
  let count = 0;
  const decode = (values: Float32Array): Record<string, ActivationStats> => {
    const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
    return Object.fromEntries(slots.map(([path, slot]) => [path, decodeActivationStats(words, slot, tensors[slot]!.length)]));
  };
  return {
    program,
    views: compiled.views,
    scratchBytes: compiled.scratchBytes,
    record: () => {
      const layer = stats.record();
      const own = log.record(count++, [{ name: 'activations', src: out, byteOffset: 0, floats: width }]);
      const values = Promise.all([layer.values, own.record]).then(([layerStats, { activations }]) => ({ layerStats, activationStats: decode(activations!) }));
      return { copies: [...layer.copies, ...own.copies], values };
    },
    dispose: () => {
      log.dispose();
      program.dispose();
      compiled.dispose();
      backend.destroyBuffer(out);
    },
  };
}
