import type { Backend } from '../src/backend/backend.js';
import type { DeviceBuffer } from '../src/backend/kernel.js';
import type { Device } from '../src/device.js';

/**
 * `device` with a backend that keeps a register of the buffers and staging buffers alive: their
 * labels in `live`, their bytes through `bytes()`. Everything else goes to the real backend.
 */
export function countingDevice(device: Device): { device: Device; live: Map<number | object, string>; bytes: () => number } {
  const live = new Map<number | object, string>();
  const sizes = new Map<number | object, number>();
  const inner = device.backend;
  const backend: Backend = Object.create(inner);
  backend.createBuffer = (byteLength, label) => {
    const b = inner.createBuffer(byteLength, label);
    live.set(b.id, label);
    sizes.set(b.id, b.byteLength);
    return b;
  };
  backend.destroyBuffer = (b: DeviceBuffer) => {
    live.delete(b.id);
    sizes.delete(b.id);
    inner.destroyBuffer(b);
  };
  backend.createStaging = (byteLength, label) => {
    const s = inner.createStaging(byteLength, label);
    live.set(s, label);
    sizes.set(s, 0);
    const dispose = s.dispose.bind(s);
    s.dispose = () => {
      live.delete(s);
      sizes.delete(s);
      dispose();
    };
    return s;
  };
  const bytes = () => [...sizes.values()].reduce((a, b) => a + b, 0);
  return { device: { ...device, backend }, live, bytes };
}
