/**
 * AverageGradientLR's step on the device (shaders/optim/average_lr.wgsl): folds the step's global
 * gradient norm into a running mean of squared norms and writes the rate factor the update
 * kernels read, so the schedule never waits for the GPU.
 */
import source from '../../shaders/optim/average_lr.wgsl';
import type { BufferView, KernelSpec, Launch } from '../backend/kernel.js';
import { launch } from './launch.js';
import { f, STATS, statsSource } from './optim.js';
import { withCommon } from './source.js';

/** Floats of the running pair [v, p]. */
export const AVERAGE_STATE = 2;

/** One (v, p) update, rounded as the shader rounds; `stepAverage` and the schedule's mirror share it. */
export function averageStep(v: number, p: number, norm: number, beta: number, eps: number): { v: number; p: number; factor: number } {
  const b = f(beta);
  const nextV = Number.isFinite(norm) ? f(f(b * v) + f(f(1 - b) * f(norm * norm))) : v;
  const nextP = Number.isFinite(norm) ? f(b * p) : p;
  const factor = f(1 / f(f(Math.sqrt(f(nextV / f(1 - nextP)))) + f(eps)));
  return { v: nextV, p: nextP, factor };
}

/** The members of the WGSL `struct GradStats`, in the order of `STATS`. */
const STATS_FIELDS = Object.entries(STATS)
  .sort(([, a], [, b]) => a - b)
  .map(([name]) => ({ name: name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), type: 'f32' as const }));

export const averageLr: KernelSpec = {
  name: 'optim/average_lr',
  wgsl: withCommon(`${statsSource}\n${source}`),
  entry: 'average_lr',
  params: [
    { name: 'beta', type: 'f32' },
    { name: 'eps', type: 'f32' },
  ],
  bindings: [
    { name: 'running', type: 'f32', access: 'read_write' },
    {
      name: 'stats',
      type: 'f32',
      access: 'read_write',
      fields: STATS_FIELDS,
    },
  ],
  overrides: { wg: 1 },
  cpu({ buffers, params }) {
    const running = buffers.running as Float32Array;
    const stats = buffers.stats as Float32Array;
    const next = averageStep(running[0]!, running[1]!, stats[STATS.gradNorm]!, params.beta!, params.eps!);
    running[0] = next.v;
    running[1] = next.p;
    stats[STATS.lrFactor] = next.factor;
  },
};

/** The launch that turns `stats.grad_norm` into `stats.lr_factor` through the running pair. */
export function averageLrLaunch(running: BufferView, stats: BufferView, beta: number, eps: number, label: string): Launch {
  return launch(averageLr, {
    bindings: { running, stats },
    params: { beta, eps },
    needs: { running: AVERAGE_STATE, stats: STATS_FIELDS.length },
    workgroups: [1, 1, 1],
    label,
  });
}
