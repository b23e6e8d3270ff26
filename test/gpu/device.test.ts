import { describe, expect, it } from 'vitest';
import { createDevice } from '../../src/device.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import type { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';
import { Trainer } from '../../src/train/trainer.js';
import { gpuBackend, randomArray } from '../harness.js';

async function freshDevice() {
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  return createDevice({ backend: 'webgpu', gpu: webgpu.create([]) as GPU });
}

describe('WebGPU failures surface as clear errors', () => {
  it('a lost device refuses new steps and reads with a clear message', async () => {
    const device = await freshDevice();
    const model = new nn.Sequential(new nn.Linear(4, 3));
    const trainer = new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [4] });
    const x = randomArray(8);
    const y = new Int32Array([0, 1]);
    await trainer.step(x, y).loss;
    const gpu = (device.backend as WebGpuBackend).device;
    gpu.destroy();
    await gpu.lost;
    expect(() => trainer.step(x, y)).toThrow(/WebGPU device was lost.*create a new device/);
    await expect(model.stateDict()).rejects.toThrow(/lost/);
  });

  it('an allocation beyond the device limit names the buffer and the limit', async () => {
    const backend = await gpuBackend();
    expect(() => backend.createBuffer(backend.maxBufferBytes + 4, 'huge')).toThrow(/'huge' needs \d+ bytes, more than this device's limit of \d+/);
  });

  it('a launch that binds past the end of a buffer is rejected at compile, naming the launch', async () => {
    const backend = await gpuBackend();
    const buffer = backend.createBuffer(64, 'small');
    const { fill } = await import('../../src/kernels/elementwise.js');
    expect(() =>
      backend.compile([{ kernel: fill, bindings: { out: { buffer, offset: 0, length: 1000 } }, params: { n: 1000, value: 0 }, workgroups: [4, 1, 1], label: 'overflowing fill' }], 'bad'),
    ).toThrow(/'overflowing fill' binds 'out' past the end of 'small'/);
    backend.destroyBuffer(buffer);
  });
});

describe('disposing in the order of the quick start', () => {
  it('trainer.dispose() then device.dispose() without awaiting leaves no rejection behind', async () => {
    const device = await freshDevice();
    const model = new nn.Sequential(new nn.Linear(4, 3));
    const before = model.parameters()[0]!.data.slice();
    const trainer = new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [4] });
    await trainer.step(randomArray(8), new Int32Array([0, 1])).loss;
    const disposed = trainer.dispose();
    device.dispose();
    await expect(disposed).resolves.toBeUndefined();
    expect(model.parameters().every((p) => p.store === null)).toBe(true);
    expect(model.parameters()[0]!.data).toHaveLength(before.length);
  });
});
