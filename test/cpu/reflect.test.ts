import { describe, expect, it } from 'vitest';
import { minifyWgsl } from '../../scripts/wgsl-minify.mjs';
import type { KernelSpec } from '../../src/backend/kernel.js';
import { scanBindings } from '../../src/backend/webgpu/pipelines.js';
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
    expect(layout.params >= 0).toBe(kernel.params.length > 0);
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

// Pages number bindings with scanBindings, over WGSL minified by the bundler; both must give
// exactly what the full parse gives for the source as written.
describe('the pipeline cache numbers bindings as the WGSL parser does', () => {
  it.each(kernels.map((k) => [k.name, k] as const))('%s', (_name, kernel) => {
    const want = reflectBindings(kernel);
    expect(scanBindings(kernel)).toEqual(want);
    const minified = { ...kernel, wgsl: minifyWgsl(kernel.wgsl) };
    expect(scanBindings(minified)).toEqual(want);
    expect(reflectBindings(minified)).toEqual(want);
  });

  const base = elementwise.add;
  it('numbers bindings by name, whatever their order in the file', () => {
    const swapped = {
      ...base,
      wgsl: base.wgsl.replace('@binding(3) var<storage, read> a', '@binding(9) var<storage, read> a').replace('@binding(4) var<storage, read> b', '@binding(3) var<storage, read> b'),
    };
    const layout = scanBindings(swapped);
    expect(layout.storage).toEqual([9, 3, 1]);
    expect(layout.params).toBe(0);
  });

  it('ignores declarations in comments', () => {
    const commented = { ...base, wgsl: `// @group(0) @binding(7) var<storage, read> a: array<f32>;\n${base.wgsl}` };
    expect(scanBindings(commented).storage[0]).toBe(3);
  });

  it('names the shader and the binding when a name, type, access or params disagree', () => {
    const renamed = { ...base, bindings: [base.bindings[0]!, { ...base.bindings[1]!, name: 'c' }, base.bindings[2]!] };
    expect(() => scanBindings(renamed)).toThrow(/shader 'add' \(entry 'add'\): binding 'c' is not declared/);
    const wrongType = { ...base, bindings: base.bindings.map((b, i) => (i === 0 ? { ...b, type: 'i32' as const } : b)) };
    expect(() => scanBindings(wrongType)).toThrow(/binding 'a' \(@binding\(3\)\) is array<f32>, TypeScript declares array<i32>/);
    const lanes = { ...base, bindings: base.bindings.map((b, i) => (i === 0 ? { ...b, lanes: 4 as const } : b)) };
    expect(() => scanBindings(lanes)).toThrow(/binding 'a'.*TypeScript declares array<vec4<f32>>/);
    const wrongAccess = { ...base, bindings: base.bindings.map((b, i) => (i === 2 ? { ...b, access: 'read' as const } : b)) };
    expect(() => scanBindings(wrongAccess)).toThrow(/binding 'out'.*access 'read_write', TypeScript declares 'read'/);
    const noParams = { ...base, wgsl: base.wgsl.replace('var<uniform> params', 'var<uniform> settings') };
    expect(() => scanBindings(noParams)).toThrow(/shader 'add'.*no 'var<uniform> params'/);
    const asUniform = { ...base, wgsl: base.wgsl.replace('var<storage, read> a:', 'var<uniform> a:') };
    expect(() => scanBindings(asUniform)).toThrow(/binding 'a' must be a storage buffer/);
    const group = { ...base, wgsl: base.wgsl.replace('@group(0) @binding(3)', '@group(1) @binding(3)') };
    expect(() => scanBindings(group)).toThrow(/binding 'a' is in group 1/);
  });

  it('reads the access mode storage takes by default and the vec4 shorthands', () => {
    const plain = { ...base, wgsl: base.wgsl.replace('var<storage, read> a: array<f32>', 'var<storage> a : array< f32 >') };
    expect(scanBindings(plain).storage[0]).toBe(3);
    const vec = {
      ...base,
      bindings: base.bindings.map((b, i) => (i === 0 ? { ...b, lanes: 4 as const } : b)),
      wgsl: base.wgsl.replace('a: array<f32>', 'a: array<vec4f>'),
    };
    expect(scanBindings(vec).storage[0]).toBe(3);
  });
});

describe('minifyWgsl', () => {
  it('drops comments, nested block comments and blank lines', () => {
    const src = '// head\n\nfn f() -> f32 { /* a /* b */ c */ return 1.0; } // tail\n  \n';
    expect(minifyWgsl(src)).toBe('fn f()->f32{return 1.0;}');
  });

  it('keeps the blanks that separate tokens, and the lines', () => {
    expect(minifyWgsl('let a = b - -c;\nvar x: vec2<f32> = v;\nlet y = a >> 2u;')).toBe('let a=b- -c;\nvar x:vec2<f32> =v;\nlet y=a>>2u;');
    expect(minifyWgsl('let z = a / /* c */ b;')).toBe('let z=a/b;');
  });
});
