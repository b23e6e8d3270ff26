import type { Backend, Copy, Program, Staging } from '../backend/backend.js';
import type { DeviceBuffer } from '../backend/kernel.js';

/** Where one field of a step's record comes from: `floats` values at `byteOffset` of `src`. */
export interface RecordSource {
  /** The field's name in the record. */
  readonly name: string;
  readonly src: DeviceBuffer;
  readonly byteOffset: number;
  readonly floats: number;
}

/** A step's record: each source's values under its name. */
export type StepValues = Readonly<Record<string, Float32Array>>;

interface Pending {
  readonly step: number;
  readonly fields: readonly { readonly name: string; readonly at: number; readonly floats: number }[];
  readonly resolve: (record: StepValues) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Per-step records (loss, gradient norm, ...) that come back from the device without a wait.
 *
 * Each step copies its record into slot `step % capacity` of a ring buffer on the device, inside
 * the step's own submit. When a staging buffer is free, the same submit also snapshots the ring
 * into it; the snapshot is mapped asynchronously and resolves every record it holds. Records
 * therefore arrive a step or two late, and a training loop never waits for the GPU. Two staging
 * buffers suffice in steady state; more are made only when the host races far ahead.
 */
export class StepLog {
  readonly ring: DeviceBuffer;
  private readonly stagings: Staging[] = [];
  private readonly pending: Pending[] = [];
  /** Highest step included in a snapshot already submitted. */
  private snapshotted = -1;
  private flushProgram: Program | null = null;
  private failure: Error | null = null;

  constructor(
    private readonly backend: Backend,
    readonly width: number,
    readonly capacity = 256,
  ) {
    this.ring = backend.createBuffer(width * capacity * 4, 'step-log');
    for (let i = 0; i < 2; i++) this.stagings.push(backend.createStaging(width * capacity * 4, `step-log/staging${i}`));
  }

  /**
   * The copies to append to step `step`'s submit, and the promise of its record. Call `submitted`
   * right after the run that carried the copies.
   */
  record(step: number, sources: readonly RecordSource[]): { copies: Copy[]; record: Promise<StepValues> } {
    if (this.failure) return { copies: [], record: Promise.reject(this.failure) };
    const slot = (step % this.capacity) * this.width * 4;
    const copies: Copy[] = [];
    const fields: Pending['fields'][number][] = [];
    let at = 0;
    for (const s of sources) {
      copies.push({ src: s.src, srcByteOffset: s.byteOffset, dst: this.ring, dstByteOffset: slot + at * 4, byteLength: s.floats * 4 });
      fields.push({ name: s.name, at, floats: s.floats });
      at += s.floats;
    }
    if (at > this.width) throw new Error(`step record of ${at} values exceeds its width ${this.width}`);
    const record = new Promise<StepValues>((resolve, reject) => this.pending.push({ step, fields, resolve, reject }));
    const staging = this.freeStaging(step);
    if (staging) copies.push(this.snapshot(staging, step));
    return { copies, record };
  }

  private freeStaging(step: number): Staging | null {
    const free = this.stagings.find((s) => !s.busy);
    if (free) return free;
    const oldest = this.pending.find((p) => p.step > this.snapshotted);
    if (oldest && step - oldest.step >= this.capacity - 1) {
      const extra = this.backend.createStaging(this.width * this.capacity * 4, `step-log/staging${this.stagings.length}`);
      this.stagings.push(extra);
      return extra;
    }
    return null;
  }

  private snapshot(staging: Staging, step: number): Copy {
    this.snapshotted = step;
    const upTo = step;
    queueMicrotask(() => {
      staging.read().then(
        (bytes) => this.deliver(new Float32Array(bytes), upTo),
        (e: Error) => this.fail(e),
      );
    });
    return { src: this.ring, dst: staging, byteLength: this.width * this.capacity * 4 };
  }

  private deliver(ring: Float32Array, upTo: number): void {
    while (this.pending.length > 0 && this.pending[0]!.step <= upTo) {
      const p = this.pending.shift()!;
      const slot = (p.step % this.capacity) * this.width;
      p.resolve(Object.fromEntries(p.fields.map((f) => [f.name, ring.slice(slot + f.at, slot + f.at + f.floats)])));
    }
    // Records written while every staging buffer was busy: snapshot them now, outside a step.
    const last = this.pending[this.pending.length - 1];
    if (last && last.step > this.snapshotted) {
      const staging = this.stagings.find((s) => !s.busy);
      if (staging) {
        this.flushProgram ??= this.backend.compile([], 'step-log/flush');
        this.backend.run(this.flushProgram, [this.snapshot(staging, last.step)]);
      }
    }
  }

  /** Rejects every record still in flight (device lost, trainer disposed). */
  fail(error: Error): void {
    this.failure = error;
    for (const p of this.pending.splice(0)) p.reject(error);
  }

  dispose(): void {
    this.fail(new Error('the trainer was disposed before this step finished'));
    this.flushProgram?.dispose();
    for (const s of this.stagings) s.dispose();
    this.backend.destroyBuffer(this.ring);
  }
}
