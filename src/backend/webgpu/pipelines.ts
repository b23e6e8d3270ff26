import type { KernelSpec } from '../kernel.js';
import { type BindingLayout, reflectBindings } from './reflect.js';

export interface CachedPipeline {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly bindings: BindingLayout;
}

/**
 * Shader modules, bind-group layouts and pipelines, each made once. Layouts are explicit, built
 * from the kernel's declared bindings (checked against the WGSL by reflection), never 'auto'.
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
      const bindings = reflectBindings(kernel);
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
