import type { KernelSpec } from '../kernel.js';
import type { BindingLayout } from './reflect.js';

export interface CachedPipeline {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly bindings: BindingLayout;
}

/** `@group(G) @binding(N) var<SPACE[, ACCESS]> NAME: TYPE;` with any blanks the WGSL grammar allows. */
const DECLARATION = /@group\(\s*(\d+)\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*<\s*(uniform|storage)\s*(?:,\s*(read_write|read)\s*)?>\s*(\w+)\s*:\s*([^;]+);/g;

interface Declaration {
  readonly group: number;
  readonly binding: number;
  readonly space: 'uniform' | 'storage';
  readonly access: 'read' | 'read_write';
  /** The declared type without blanks, e.g. `array<vec4<f32>>`. */
  readonly type: string;
}

const scanned = new WeakMap<KernelSpec, BindingLayout>();

/**
 * Binding numbers of the kernel's `params` and storage bindings, found by name among the WGSL's
 * `@group(0) @binding(N)` declarations. A name, access mode or element type that disagrees with
 * the TypeScript declaration throws, naming the shader and the binding. Uniform struct members
 * and override names are checked at test time by `reflectBindings` (reflect.ts), which parses
 * the WGSL fully and is too large to ship to every page.
 */
export function scanBindings(kernel: KernelSpec): BindingLayout {
  const hit = scanned.get(kernel);
  if (hit) return hit;
  const fail = (what: string): never => {
    throw new Error(`shader '${kernel.name}' (entry '${kernel.entry}'): ${what}`);
  };
  const declared = new Map<string, Declaration>();
  // A binding table in a comment must not count as a declaration.
  for (const m of kernel.wgsl.replace(/\/\/.*$/gm, '').matchAll(DECLARATION)) {
    const [, group, binding, space, access, name, type] = m as unknown as string[];
    declared.set(name!, {
      group: Number(group),
      binding: Number(binding),
      space: space as Declaration['space'],
      access: (access ?? 'read') as Declaration['access'],
      type: type!.replace(/\s+/g, '').replace(/vec4f/g, 'vec4<f32>').replace(/vec4i/g, 'vec4<i32>').replace(/vec4u/g, 'vec4<u32>'),
    });
  }
  const find = (name: string): Declaration => {
    const d = declared.get(name);
    if (!d) return fail(`binding '${name}' is not declared`);
    if (d.group !== 0) fail(`binding '${name}' is in group ${d.group}; only group 0 is used`);
    return d;
  };

  let params = -1;
  if (kernel.params.length > 0) {
    const p = declared.get('params');
    if (!p || p.space !== 'uniform') return fail(`declares params but has no 'var<uniform> params'`);
    params = find('params').binding;
  }
  const storage = kernel.bindings.map((b) => {
    const d = find(b.name);
    if (d.space !== 'storage') fail(`binding '${b.name}' must be a storage buffer`);
    if (!b.fields) {
      const want = b.lanes === 4 ? `array<vec4<${b.type}>>` : `array<${b.type}>`;
      if (d.type !== want) fail(`binding '${b.name}' (@binding(${d.binding})) is ${d.type}, TypeScript declares ${want}`);
    }
    if (d.access !== b.access) fail(`binding '${b.name}' (@binding(${d.binding})) has access '${d.access}', TypeScript declares '${b.access}'`);
    return d.binding;
  });
  const layout = { params, storage };
  scanned.set(kernel, layout);
  return layout;
}

/**
 * Shader modules, bind-group layouts and pipelines, each made once. Layouts are explicit, built
 * from the kernel's declared bindings (numbered by `scanBindings`), never 'auto'.
 */
export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly layouts = new Map<KernelSpec, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, CachedPipeline>();

  constructor(private readonly device: GPUDevice) {}

  get(kernel: KernelSpec, overrides: Readonly<Record<string, number>>): CachedPipeline {
    const constants = { ...kernel.overrides, ...overrides };
    const key = `${kernel.name}|${JSON.stringify(constants)}`;
    let cached = this.pipelines.get(key);
    if (!cached) {
      const bindings = scanBindings(kernel);
      const layout = this.layout(kernel, bindings);
      const pipeline = this.device.createComputePipeline({
        label: kernel.name,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module: this.module(kernel), entryPoint: kernel.entry, constants },
      });
      cached = { pipeline, layout, bindings };
      this.pipelines.set(key, cached);
    }
    return cached;
  }

  /** Modules are keyed by source text, so kernels that share a file share a module. */
  private module(kernel: KernelSpec): GPUShaderModule {
    let module = this.modules.get(kernel.wgsl);
    if (!module) {
      module = this.device.createShaderModule({ code: kernel.wgsl, label: kernel.name });
      this.modules.set(kernel.wgsl, module);
    }
    return module;
  }

  private layout(kernel: KernelSpec, bindings: BindingLayout): GPUBindGroupLayout {
    let layout = this.layouts.get(kernel);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      if (bindings.params >= 0) {
        entries.push({ binding: bindings.params, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
      }
      kernel.bindings.forEach((b, i) => {
        entries.push({
          binding: bindings.storage[i]!,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
        });
      });
      layout = this.device.createBindGroupLayout({ entries, label: kernel.name });
      this.layouts.set(kernel, layout);
    }
    return layout;
  }
}
