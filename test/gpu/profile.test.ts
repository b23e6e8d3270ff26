import { describe, expect, it } from 'vitest';
import { createDevice } from '../../src/device.js';
import { nn, optim, Trainer } from '../../src/index.js';
import { randomArray } from '../harness.js';

async function trainer(backend: 'webgpu' | 'cpu') {
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  const device = await createDevice(backend === 'webgpu' ? { backend, gpu: webgpu.create([]) as GPU } : { backend });
  nn.manualSeed(1);
  const model = new nn.Sequential(new nn.Linear(12, 32), new nn.ReLU(), new nn.Linear(32, 4));
  return new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer: new optim.Adam(model.parameters(), { lr: 1e-2 }), inputShape: [12], clipGradNorm: 1 });
}

describe('Trainer.profileStep', () => {
  const x = randomArray(8 * 12, -1, 1, 3);
  const y = Int32Array.from({ length: 8 }, (_, i) => i % 4);

  it('times every dispatch of a real step with GPU timestamps', async () => {
    const t = await trainer('webgpu');
    await t.step(x, y).loss;
    const { dispatches, totalMs } = await t.profileStep(x, y);
    expect(dispatches.map((d) => d.kernel)).toEqual(t.describeStep(8).kernels);
    for (const d of dispatches) {
      expect(Number.isFinite(d.ms)).toBe(true);
      expect(d.ms).toBeGreaterThanOrEqual(0);
    }
    expect(totalMs).toBeGreaterThan(0);
    expect(totalMs).toBeCloseTo(dispatches.reduce((a, d) => a + d.ms, 0), 9);
    // It was a training step like the others: counted and recorded.
    expect(t.stepCount).toBe(2);
    await t.idle();
    expect(t.history.map((r) => r.step)).toEqual([0, 1]);
    await t.dispose();
  });

  it('on a device without timestamps, says so', async () => {
    const t = await trainer('cpu');
    await expect(t.profileStep(x, y)).rejects.toThrow(/Trainer\.profileStep: CPU .* has no GPU timestamps \('timestamp-query'\)/);
    expect(t.stepCount).toBe(0);
  });
});
