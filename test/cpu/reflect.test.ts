import { describe, expect, it } from 'vitest';
import type { KernelSpec } from '../../src/backend/kernel.js';
import { reflectBindings } from '../../src/backend/webgpu/reflect.js';
import * as elementwise from '../../src/kernels/elementwise.js';

function isKernel(v: unknown): v is KernelSpec {
  return typeof v === 'object' && v !== null && 'wgsl' in v && 'entry' in v && 'cpu' in v;
}

// Every kernel module and every optimizer (each holds its update kernel), so that a new one is
// checked without being listed here.
const modules = import.meta.glob(['../../src/kernels/**/*.ts', '../../src/optim/*.ts'], { eager: true });
const kernels = [...new Set(Object.values(modules).flatMap((m) => Object.values(m as object).filter(isKernel)))];

describe('WGSL bindings agree with the TypeScript declarations', () => {
  it('covers every kernel family', () => {
    expect(kernels.length).toBeGreaterThanOrEqual(15);
  });

  it.each(kernels.map((k) => [k.name, k] as const))('%s', (_name, kernel) => {
    const layout = reflectBindings(kernel);
    expect(layout.storage).toHaveLength(kernel.bindings.length);
    expect(new Set(layout.storage).size).toBe(kernel.bindings.length);
  });

  const base = elementwise.add;
  it('names the shader and the binding when a binding is renamed', () => {
    const wrong = { ...base, bindings: [base.bindings[0]!, { ...base.bindings[1]!, name: 'c' }, base.bindings[2]!] };
    expect(() => reflectBindings(wrong)).toThrow(/shader 'add'.*binding 'c' is not used/);
  });

  it('names the binding when its element type or access differs', () => {
    const wrongType = { ...base, bindings: base.bindings.map((b, i) => (i === 0 ? { ...b, type: 'i32' as const } : b)) };
    expect(() => reflectBindings(wrongType)).toThrow(/shader 'add'.*binding 'a'.*holds f32, TypeScript declares i32/);
    const wrongAccess = { ...base, bindings: base.bindings.map((b, i) => (i === 2 ? { ...b, access: 'read' as const } : b)) };
    expect(() => reflectBindings(wrongAccess)).toThrow(/binding 'out'.*access 'read_write', TypeScript declares 'read'/);
  });

  it('checks the uniform struct member by member', () => {
    const wrong = { ...base, params: [...base.params].reverse() };
    expect(() => reflectBindings(wrong)).toThrow(/shader 'add'.*uniform struct is/);
  });

  it('rejects a missing entry point and an unknown override', () => {
    expect(() => reflectBindings({ ...base, entry: 'nope' })).toThrow(/no compute entry point 'nope'/);
    expect(() => reflectBindings({ ...base, overrides: { tile: 4 } })).toThrow(/no override constant 'tile'/);
  });
});
