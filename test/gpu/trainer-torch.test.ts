/**
 * The whole training step on WebGPU against torch 1.13 (fixtures from test/fixtures/gen_trainer.py):
 * forward, loss, backward, penalties, clipping, every optimizer and the schedules driven by the
 * Trainer, step by step. The WGSL kernels reduce in another order than torch's CPU kernels and a
 * driver may contract a*b+c into fma; 1e-4 leaves room for real GPUs (SwiftShader lands within a
 * few 1e-7, like the CPU twins).
 */
import { describe, it } from 'vitest';
import type { Device } from '../../src/device.js';
import { gpuBackend } from '../harness.js';
import { expectMatchesTorch, fixture, replay } from '../trainer-fixtures.js';

const TOLERANCE = { rtol: 1e-4, atol: 1e-6 };

async function device(): Promise<Device> {
  const backend = await gpuBackend();
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
}

describe('Trainer on WebGPU follows torch step by step', () => {
  for (const c of fixture.cases) {
    it(c.name, async () => {
      expectMatchesTorch(c, await replay(await device(), c), TOLERANCE);
    });
  }
});
