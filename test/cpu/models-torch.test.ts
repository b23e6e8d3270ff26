import { describe, it } from 'vitest';
import type { Device } from '../../src/device.js';
import { cpuBackend } from '../harness.js';
import { fixture, replay } from '../models-fixtures.js';

const device = (): Device => {
  const backend = cpuBackend();
  return { backend, kind: backend.kind, reason: 'test', dispose: () => {} };
};

describe('whole training steps match torch 1.13 (CPU backend)', () => {
  it.each(fixture.models.map((m) => [m.name, m] as const))('%s: losses, parameters, running statistics and eval output within 1e-5', async (_name, c) => {
    const trainer = await replay(device(), c, { rtol: 1e-5, atol: 1e-6 });
    await trainer.dispose();
  });
});
