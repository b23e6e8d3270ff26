/**
 * The whole training step on the CPU backend against torch 1.13 (fixtures from
 * test/fixtures/gen_trainer.py): forward, loss, backward, penalties, clipping, every optimizer and
 * the schedules driven by the Trainer, step by step.
 */
import { describe, it } from 'vitest';
import { createDevice } from '../../src/device.js';
import { expectMatchesTorch, fixture, replay } from '../trainer-fixtures.js';

// Only the summation order of the matmuls and reductions differs from torch: the largest gaps
// over the 12 steps are about 2e-7 absolute on parameters of size ~0.3, and 2e-7 relative on losses.
const TOLERANCE = { rtol: 1e-6, atol: 1e-7 };

describe('Trainer on the CPU backend follows torch step by step', () => {
  for (const c of fixture.cases) {
    it(c.name, async () => {
      const device = await createDevice({ backend: 'cpu' });
      expectMatchesTorch(c, await replay(device, c), TOLERANCE);
    });
  }
});
