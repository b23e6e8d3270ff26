import { describe, expect, it } from 'vitest';
import { createDevice } from '../../src/device.js';

describe('createDevice', () => {
  it("falls back to the CPU under 'auto' when WebGPU is missing, and says why", async () => {
    const device = await createDevice({ gpu: undefined });
    expect(device.kind).toBe('cpu');
    expect(device.reason).toMatch(/fell back to the CPU: WebGPU is not available: navigator.gpu is undefined/);
  });

  it("fails clearly under 'webgpu' when WebGPU is missing", async () => {
    await expect(createDevice({ backend: 'webgpu' })).rejects.toThrow(/WebGPU is not available.*'webgpu' package/);
  });

  it('fails clearly when the adapter request returns nothing', async () => {
    const gpu = { requestAdapter: async () => null } as unknown as GPU;
    await expect(createDevice({ backend: 'webgpu', gpu })).rejects.toThrow(/requestAdapter\(\) returned no adapter/);
    const auto = await createDevice({ gpu });
    expect(auto.kind).toBe('cpu');
    expect(auto.reason).toMatch(/no adapter/);
  });

  it('rejects an unknown backend name', async () => {
    await expect(createDevice({ backend: 'metal' as never })).rejects.toThrow(/backend must be 'auto', 'webgpu' or 'cpu', got 'metal'/);
  });

  it('gives a CPU device on request', async () => {
    const device = await createDevice({ backend: 'cpu' });
    expect(device.kind).toBe('cpu');
    expect(device.backend.description).toMatch(/CPU/);
  });
});
