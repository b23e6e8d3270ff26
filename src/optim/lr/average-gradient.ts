import type { Backend } from '../../backend/backend.js';
import type { DeviceBuffer } from '../../backend/kernel.js';
import { AVERAGE_STATE, averageStep } from '../../kernels/average-lr.js';
import { checkKeys, integer, real } from './checks.js';
import { type DeviceSchedule, LRScheduler, type OptimizerLike, type StepSignal, decodeNumber, encodeNumber } from './scheduler.js';

export interface AverageGradientLROptions {
  /** Weight of the old mean in the running mean of squared gradient norms; in [0, 1). Default 0.9. */
  beta?: number;
  /** Added to the root of the mean, so a vanishing gradient cannot blow the rate up; > 0. Default 1e-8. */
  eps?: number;
}

/**
 * The "average-gradient" decay (not in torch): the base rate divided by the root of a running
 * mean of the squared global gradient norm,
 *
 *     v_t   = beta * v_{t-1} + (1 - beta) * ||g_t||^2,     v_0 = 0
 *     lr(t) = lr0 / (sqrt(v_t / (1 - beta^t)) + eps)
 *
 * for steps t = 1, 2, ... where ||g_t|| is the L2 norm over all parameters' gradients of step t
 * itself (with the L1/L2 penalty terms, before clipping). Dividing by 1 - beta^t removes the
 * bias of starting the mean at zero, as Adam does, so the first step's rate is lr0 / (||g_1|| + eps).
 * Where GradientNormLR follows each step's norm, this follows its recent average: a rate that
 * falls while the gradients are large and recovers slowly as they shrink.
 *
 * The norm is only known on the device, so (v, beta^t) live in a small device buffer that the
 * trainer's step updates after the norm reduction (shaders/optim/average_lr.wgsl) and the update
 * kernels read the factor from there, with no wait on the CPU. `group.lr` stays at lr0 (and
 * `getLastLr()` reports it); the trainer's records carry the rate actually used. The schedule
 * keeps a copy of (v, beta^t) on the host, advanced with the same f32 roundings from each
 * record's norm as the records arrive, for `stateDict()`; `loadStateDict()` writes it back to the
 * device. A step whose norm is not finite (a diverged or skipped step) leaves the mean as it was.
 *
 * With lr0 = 0.1, beta = 0.9: norms 2 then 1 give rates 0.1 / 2 = 0.05, then
 * v_2 = 0.09 * 4 + 0.1 * 1 = 0.46, 1 - beta^2 = 0.19, rate 0.1 / sqrt(0.46 / 0.19) = 0.0643.
 *
 * The rate depends on the gradients, so `lrAt` is unavailable (it throws).
 */
export class AverageGradientLR extends LRScheduler {
  readonly beta: number;
  readonly eps: number;
  /** Host copy of v_t, the running mean of squared norms, as of the last record seen. */
  private mean = 0;
  /** Host copy of beta^t. */
  private decay = 1;
  /** Records folded into the host copy. */
  normsObserved = 0;
  private device: { backend: Backend; buffer: DeviceBuffer } | null = null;

  constructor(optimizer: OptimizerLike, options: AverageGradientLROptions = {}) {
    super(optimizer, 'AverageGradientLR');
    const o = checkKeys(this.name, options, ['beta', 'eps']);
    this.beta = real(this.name, 'beta', o.beta ?? 0.9, { ge: 0, lt: 1 });
    this.eps = real(this.name, 'eps', o.eps ?? 1e-8, { gt: 0 });
    this.applyLrs(this.base);
  }

  /** The running mean of squared norms v_t and beta^t, as of the last record seen. */
  get running(): { mean: number; decay: number } {
    return { mean: this.mean, decay: this.decay };
  }

  /** The rates the next step would use if its gradient norm were `norm`, one per group. */
  lrForNorm(norm: number): number[] {
    const { factor } = averageStep(this.mean, this.decay, norm, this.beta, this.eps);
    return this.base.map((lr) => lr * factor);
  }

  /** Counts the step; the base rates stay. */
  step(): void {
    this.lastEpoch += 1;
  }

  /** Training hook: counts the step. */
  afterStep(): void {
    this.step();
  }

  /** Training hook: folds each step's norm into the host copy of the running mean. */
  onRecord(record: StepSignal): void {
    this.observeNorm(record.gradNorm ?? NaN);
  }

  /** Folds the next step's gradient norm into the host copy, as the device does. */
  observeNorm(norm: number): void {
    if (typeof norm !== 'number') throw new Error(`${this.name}: observeNorm(norm): norm must be a number, got ${String(norm)}`);
    const next = averageStep(this.mean, this.decay, norm, this.beta, this.eps);
    this.mean = next.v;
    this.decay = next.p;
    this.normsObserved += 1;
  }

  /** Training hook: the running mean the trainer's step keeps and applies on the device. */
  onDevice(): DeviceSchedule {
    return {
      gradNormLR: {
        gamma: 1,
        eps: this.eps,
        average: { beta: this.beta, buffer: (backend) => this.buffer(backend) },
      },
    };
  }

  private buffer(backend: Backend): DeviceBuffer {
    if (this.device?.backend !== backend) {
      this.device = { backend, buffer: backend.createBuffer(64 * 4, `${this.name}/running`) };
      this.writeDevice();
    }
    return this.device.buffer;
  }

  private writeDevice(): void {
    if (!this.device) return;
    const pair = new Float32Array(AVERAGE_STATE);
    pair[0] = this.mean;
    pair[1] = this.decay;
    this.device.backend.write(this.device.buffer, pair);
  }

  lrAt(_step: number): never {
    throw new Error(`${this.name}.lrAt is unavailable: the rate depends on the gradient norms of the steps so far (use lrForNorm(norm))`);
  }

  override stateDict(): Record<string, unknown> {
    return {
      ...super.stateDict(),
      mean: encodeNumber(this.mean),
      decay: encodeNumber(this.decay),
      normsObserved: this.normsObserved,
    };
  }

  /** Restores the running mean too, on the host and in the device buffer (the next step reads it). */
  override loadStateDict(state: Record<string, unknown>): void {
    const mean = decodeNumber(this.name, 'mean', state?.mean);
    const decay = decodeNumber(this.name, 'decay', state?.decay);
    if (!(decay >= 0 && decay <= 1)) throw new Error(`${this.name}.loadStateDict: state.decay must be in [0, 1], got ${decay}`);
    const normsObserved = integer(this.name, 'state.normsObserved', state?.normsObserved, 0);
    super.loadStateDict(state);
    this.mean = Math.fround(mean);
    this.decay = Math.fround(decay);
    this.normsObserved = normsObserved;
    this.writeDevice();
  }
}
