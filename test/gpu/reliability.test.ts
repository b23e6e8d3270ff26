import { describe, expect, it } from 'vitest';
import type { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';
import { createDevice, type Device } from '../../src/device.js';
import { nn, optim, Trainer } from '../../src/index.js';
import type { RecoveryReport, TrainerOptions } from '../../src/train/trainer.js';
import { countingDevice } from '../counting-device.js';
import { randomArray } from '../harness.js';

async function gpuDevice(): Promise<Device> {
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  return createDevice({ backend: 'webgpu', gpu: webgpu.create([]) as GPU });
}

const cpuDevice = (): Promise<Device> => createDevice({ backend: 'cpu', wasm: false });

function model(seed: number): nn.Sequential {
  nn.manualSeed(seed);
  return new nn.Sequential(new nn.Linear(6, 16), new nn.ReLU(), new nn.Dropout(0.25), new nn.Linear(16, 3));
}

const options = (m: nn.Module, extra: Partial<TrainerOptions> = {}): TrainerOptions => ({
  loss: new nn.CrossEntropyLoss(),
  optimizer: new optim.Adam(m.parameters(), { lr: 1e-2 }),
  inputShape: [6],
  seed: 5,
  ...extra,
});

const data = { x: randomArray(6 * 96, -1, 1, 21), y: Int32Array.from({ length: 96 }, (_, i) => (i * 7) % 3) };

describe('a lost device mid-fit', () => {
  it('is survived: fit resumes on a new device from the last snapshot and ends where an uninterrupted run ends', async () => {
    const reference = model(1);
    const plain = new Trainer(await gpuDevice(), reference, options(reference));
    await plain.fit(data, { epochs: 4, batchSize: 8 });
    const expected = await reference.stateDict();
    await plain.dispose();

    const m = model(1);
    const reports: RecoveryReport[] = [];
    const trainer = new Trainer(await gpuDevice(), m, options(m, { recovery: { every: 5, device: gpuDevice, onRecover: (r) => reports.push(r) } }));
    const lost: number[] = [];
    await trainer.fit(data, {
      epochs: 4,
      batchSize: 8,
      syncEvery: 4,
      onStep: (r) => {
        // Two losses: one mid-epoch, one later, each destroying the device the trainer runs on.
        if ((r.step === 17 && lost.length === 0) || (r.step === 33 && lost.length === 1)) {
          lost.push(r.step);
          (trainer.device.backend as WebGpuBackend).device.destroy();
        }
      },
    });
    expect(reports).toHaveLength(2);
    for (const r of reports) {
      expect(r.reason).toMatch(/destroyed/);
      expect(r.stepsLost).toBeGreaterThanOrEqual(0);
      // At most `every` steps plus those in flight (syncEvery) are run again.
      expect(r.stepsLost).toBeLessThanOrEqual(5 + 4 + 1);
      expect(r.resumedFromStep % 5).toBe(0);
    }
    expect(trainer.stepCount).toBe(4 * 12);
    expect(trainer.history.map((r) => r.step)).toEqual(Array.from({ length: 48 }, (_, i) => i));
    // Same seed, same data order, same state restored: the same weights as the run without losses.
    const got = await m.stateDict();
    for (const [name, values] of Object.entries(expected)) expect(got[name], name).toEqual(values);
    await trainer.dispose();
  });

  it('without a snapshot to go back to, fails with an error that says so', async () => {
    const m = model(2);
    const trainer = new Trainer(await gpuDevice(), m, options(m, { recovery: false }));
    await expect(
      trainer.fit(data, {
        epochs: 1,
        batchSize: 8,
        onStep: (r) => {
          if (r.step === 2) (trainer.device.backend as WebGpuBackend).device.destroy();
        },
      }),
    ).rejects.toThrow(/lost|destroyed/);
  });
});

describe("onNonFinite 'skipStep' on the device", () => {
  it('skips the NaN step exactly as the CPU twin does, without touching parameters or Adam state', async () => {
    const run = async (device: Device) => {
      const m = model(3);
      const trainer = new Trainer(device, m, options(m, { onNonFinite: 'skipStep', checkInputs: false }));
      const x = data.x.subarray(0, 48);
      const y = data.y.subarray(0, 8);
      const bad = x.slice();
      bad[7] = NaN;
      const records = [];
      records.push(await trainer.step(x, y).record);
      const before = await m.stateDict();
      const state = await trainer.options.optimizer.stateDict();
      records.push(await trainer.step(bad, y).record);
      expect(await m.stateDict()).toEqual(before);
      expect(await trainer.options.optimizer.stateDict()).toEqual(state);
      records.push(await trainer.step(x, y).record);
      const after = await m.stateDict();
      await trainer.dispose();
      return { records, after };
    };
    const gpu = await run(await gpuDevice());
    const cpu = await run(await cpuDevice());
    expect(gpu.records.map((r) => r.skipped ?? false)).toEqual([false, true, false]);
    expect(cpu.records.map((r) => r.skipped ?? false)).toEqual([false, true, false]);
    expect(gpu.records[2]!.loss).toBeCloseTo(cpu.records[2]!.loss, 5);
    for (const [name, v] of Object.entries(cpu.after)) {
      const g = gpu.after[name]!;
      for (let i = 0; i < v.length; i++) expect(Math.abs(g[i]! - v[i]!)).toBeLessThan(1e-5 + 1e-4 * Math.abs(v[i]!));
    }
  });
});

describe('resources on the GPU', () => {
  it('1,000 steps keep the buffer count and bytes flat; dispose() frees every buffer', async () => {
    const { device, live, bytes } = countingDevice(await gpuDevice());
    const m = model(4);
    const trainer = new Trainer(device, m, options(m, { clipGradNorm: 1 }));
    const x = data.x.subarray(0, 48);
    const y = data.y.subarray(0, 8);
    await trainer.step(x, y).loss;
    const [count, held] = [live.size, bytes()];
    for (let i = 0; i < 1000; i++) {
      const { record } = trainer.step(x, y);
      if (i % 16 === 15) await record;
    }
    await trainer.idle();
    expect([live.size, bytes()]).toEqual([count, held]);
    await trainer.dispose();
    expect([...live.values()]).toEqual([]);
  }, 120_000);

  it('100 trainers created and disposed on one device leak nothing', async () => {
    const { device, live } = countingDevice(await gpuDevice());
    const m = model(5);
    const optimizer = new optim.SGD(m.parameters(), { lr: 0.05, momentum: 0.9 });
    for (let i = 0; i < 100; i++) {
      const trainer = new Trainer(device, m, { loss: new nn.CrossEntropyLoss(), optimizer, inputShape: [6] });
      await trainer.step(data.x.subarray(0, 24), data.y.subarray(0, 4)).loss;
      await trainer.dispose();
    }
    expect([...live.values()]).toEqual([]);
    expect(optimizer.stepCount).toBe(100);
  }, 120_000);
});

describe('determinism on one adapter', () => {
  it('two runs with the same seed give the same loss curve bit for bit, with dropout', async () => {
    const run = async () => {
      const m = model(6);
      const trainer = new Trainer(await gpuDevice(), m, options(m));
      await trainer.fit(data, { epochs: 1, batchSize: 8, seed: 3 });
      const losses = trainer.history.map((r) => r.loss);
      await trainer.dispose();
      return losses;
    };
    const a = await run();
    expect(a).toHaveLength(12);
    expect(await run()).toEqual(a);
  });
});
