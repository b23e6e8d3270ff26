import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import type { KernelSpec } from '../kernel.js';

/** Binding numbers of a kernel's entry point, read from its WGSL. */
export interface BindingLayout {
  /** Binding number of `var<uniform> params`, or -1 when the kernel has no params. */
  readonly params: number;
  /** Binding numbers of the storage buffers, in the order of `kernel.bindings`. */
  readonly storage: readonly number[];
}

const cache = new WeakMap<KernelSpec, BindingLayout>();

interface ReflectedType {
  name: string;
  format?: { name: string; format?: { name: string } };
  members?: { name: string; type: { name: string } }[];
}

/**
 * Reads the resources used by the kernel's entry point and compares them with what the
 * TypeScript side declares: names, element types, access modes, the uniform struct's members and
 * the override constants. A mismatch would otherwise be a silent wrong answer, so it throws an
 * error naming the shader and the binding. The tests run it over every kernel; pages do not
 * (the WGSL parser would add some 40 KB gzipped to every page): the pipeline cache numbers
 * bindings with the light `scanBindings` of pipelines.ts, which the tests hold to the same answers.
 */
export function reflectBindings(kernel: KernelSpec): BindingLayout {
  const hit = cache.get(kernel);
  if (hit) return hit;
  const fail = (what: string): never => {
    throw new Error(`shader '${kernel.name}' (entry '${kernel.entry}'): ${what}`);
  };
  let reflect: WgslReflect;
  try {
    reflect = new WgslReflect(kernel.wgsl);
  } catch (e) {
    return fail(`WGSL does not parse: ${(e as Error).message}`);
  }
  const entry = reflect.entry.compute.find((e) => e.name === kernel.entry);
  if (!entry) return fail(`no compute entry point '${kernel.entry}'`);

  const used = new Map(entry.resources.map((r) => [r.name, r]));
  for (const r of entry.resources) {
    if (r.group !== 0) fail(`binding '${r.name}' is in group ${r.group}; only group 0 is used`);
  }
  // The reflection library also counts a module-level binding as used when a helper function has
  // a local of the same name, so extra names are not an error here; a binding the entry point
  // really uses without a declaration fails pipeline creation against the explicit layout.

  let params = -1;
  if (kernel.params.length > 0) {
    const p = used.get('params');
    if (!p || p.resourceType !== 0) return fail(`declares params but uses no 'var<uniform> params'`);
    const members = (p.type as unknown as ReflectedType).members?.map((m) => `${m.name}: ${m.type.name}`) ?? [];
    const want = kernel.params.map((q) => `${q.name}: ${q.type}`);
    if (members.join(', ') !== want.join(', ')) {
      fail(`uniform struct is {${members.join(', ')}}, TypeScript declares {${want.join(', ')}}`);
    }
    params = p.binding;
  }

  const storage = kernel.bindings.map((b) => {
    const r = used.get(b.name);
    if (!r) return fail(`binding '${b.name}' is not used by the entry point`);
    if (r.resourceType !== 1) fail(`binding '${b.name}' must be a storage buffer`);
    const t = r.type as unknown as ReflectedType;
    if (b.fields) {
      const members = t.members?.map((m) => `${m.name}: ${m.type.name}`) ?? [];
      const want = b.fields.map((q) => `${q.name}: ${q.type}`);
      if (members.join(', ') !== want.join(', ')) {
        fail(`binding '${b.name}' (@binding(${r.binding})) is the struct {${members.join(', ')}}, TypeScript declares {${want.join(', ')}}`);
      }
    } else {
      const elem = t.format?.format ? `${t.format.name}<${t.format.format.name}>` : (t.format?.name ?? t.name);
      const want = b.lanes === 4 ? `vec4<${b.type}>` : b.type;
      if (elem !== want) fail(`binding '${b.name}' (@binding(${r.binding})) holds ${elem}, TypeScript declares ${want}`);
    }
    if (r.access !== b.access) fail(`binding '${b.name}' (@binding(${r.binding})) has access '${r.access}', TypeScript declares '${b.access}'`);
    return r.binding;
  });

  const overrides = new Set(reflect.overrides.map((o) => o.name));
  for (const name of Object.keys(kernel.overrides ?? {})) {
    if (!overrides.has(name)) fail(`no override constant '${name}'`);
  }
  const layout = { params, storage };
  cache.set(kernel, layout);
  return layout;
}
