import { ModuleBuffer, Parameter } from '../graph/parameter.js';
import type { Tensor } from '../graph/tensor.js';

/**
 * A layer or a composition of layers. `forward` traces the computation on symbolic tensors once
 * per input shape; the trainer compiles what it traced. Parameter names follow torch
 * (`0.weight`, `2.fn.0.bias`), so state dicts move between Descent and torch.nn.
 *
 * As torch's `__setattr__` does, fields that hold a Module, a Parameter or a buffer register
 * themselves under the field's name, in declaration order:
 *
 * ```ts
 * class Block extends nn.Module {
 *   fc = new nn.Linear(16, 16);
 *   scale = new nn.Parameter(new Float32Array(16).fill(1), [16]);
 *   forward(x: Tensor): Tensor { return this.fc.forward(x).mul(this.scale); }
 * }
 * ```
 *
 * While a model is traced, every module's `forward` runs inside a scope named after its path, so
 * errors and profiles name the layer (`3.attn.proj`) however `forward` was reached.
 */
export abstract class Module {
  training = true;

  abstract forward(x: Tensor, ...rest: Tensor[]): Tensor;

  /** Child modules with their names: every field holding a Module, in declaration order. */
  children(): [string, Module][] {
    return fieldsOf(this).filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  /** Parameters held directly by this module: its fields holding a Parameter. */
  ownParameters(): [string, Parameter][] {
    return fieldsOf(this).filter((e): e is [string, Parameter] => e[1] instanceof Parameter && !(e[1] instanceof ModuleBuffer));
  }

  /** Buffers held directly by this module (running statistics): its fields holding one. */
  ownBuffers(): [string, ModuleBuffer][] {
    return fieldsOf(this).filter((e): e is [string, ModuleBuffer] => e[1] instanceof ModuleBuffer);
  }

  /** Human-readable description, as torch prints modules: `Linear(784, 256)`. */
  describe(): string {
    return this.constructor.name;
  }

  /** Runs `forward` (kept for modules written against it: forward is scoped while tracing). */
  call(_name: string, x: Tensor): Tensor {
    return this.forward(x);
  }

  /** Every module of the tree with its path ('' for this one), parents before children. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.children()) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  namedParameters(prefix = ''): [string, Parameter][] {
    return this.collect(prefix, (m) => m.ownParameters());
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(prefix = ''): [string, ModuleBuffer][] {
    return this.collect(prefix, (m) => m.ownBuffers());
  }

  buffers(): ModuleBuffer[] {
    return this.namedBuffers().map(([, b]) => b);
  }

  private collect<T extends Parameter>(prefix: string, own: (m: Module) => [string, T][]): [string, T][] {
    const out: [string, T][] = [];
    const seen = new Set<T>();
    const walk = (m: Module, at: string): void => {
      for (const [n, p] of own(m)) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([at + n, p]);
      }
      for (const [name, child] of m.children()) walk(child, `${at}${name}.`);
    };
    walk(this, prefix);
    for (const [name, p] of out) p.name ||= name;
    return out;
  }

  /** Training mode (dropout active, batch statistics) for this module and its children. */
  train(mode = true): this {
    this.training = mode;
    for (const [, child] of this.children()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameter and buffer values by torch name, read from the device when a trainer holds them. */
  async stateDict(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const [name, p] of this.namedState()) out[name] = await p.read();
    return out;
  }

  /** Parameters and buffers in torch's state-dict order (per module: parameters, then buffers). */
  private namedState(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [path, m] of this.namedModules()) {
      const at = path ? `${path}.` : '';
      for (const [n, p] of [...m.ownParameters(), ...m.ownBuffers()]) out.push([at + n, p]);
    }
    this.namedParameters();
    this.namedBuffers();
    const seen = new Set<Parameter>();
    return out.filter(([, p]) => {
      const fresh = !seen.has(p);
      seen.add(p);
      return fresh;
    });
  }

  /**
   * Loads values by torch name and layout, buffers included. All-or-nothing: every name and
   * length is checked before anything is written. With `strict` (default), missing and
   * unexpected keys are errors.
   */
  loadStateDict(state: Record<string, ArrayLike<number>>, { strict = true } = {}): void {
    const named = this.namedState();
    const problems: string[] = [];
    const known = new Set(named.map(([n]) => n));
    for (const [name, p] of named) {
      const v = state[name];
      if (v === undefined) {
        if (strict) problems.push(`missing key '${name}'`);
      } else if (v.length !== p.numel) {
        problems.push(`'${name}' has ${v.length} values, expected ${p.numel} for shape [${p.shape.join(', ')}]`);
      }
    }
    if (strict) for (const k of Object.keys(state)) if (!known.has(k)) problems.push(`unexpected key '${k}'`);
    if (problems.length > 0) throw new Error(`loadStateDict: ${problems.join('; ')}`);
    for (const [name, p] of named) {
      const v = state[name];
      if (v !== undefined) p.write(Float32Array.from(v));
    }
  }
}

/** Own enumerable fields in declaration order (class fields are defined in that order). */
function fieldsOf(m: Module): [string, unknown][] {
  return Object.entries(m).filter(([k]) => k !== 'training');
}

/**
 * Runs `body` with every module's `forward` scoped by its full path in the graph's labels, so that
 * an error raised deep in a user-defined module names the layer (`blocks.1.attn`), however its
 * forward was reached (through a ModuleList, a ModuleDict, or a direct call). Each output is
 * recorded in the graph's `moduleOutputs` under that path (for activation statistics). The
 * wrappers are own properties that shadow the prototype's `forward` and are removed afterwards.
 */
export function withModuleScopes<T>(model: Module, body: () => T): T {
  const wrapped: Module[] = [];
  for (const [path, m] of model.namedModules()) {
    if (Object.prototype.hasOwnProperty.call(m, 'forward')) continue;
    const forward = m.forward;
    const scoped = (...args: Tensor[]): Tensor => {
      const g = args[0]!.graph;
      const out = g.scopeAt(path, () => forward.apply(m, args as [Tensor, ...Tensor[]]));
      if (path) g.moduleOutputs.set(path, out);
      return out;
    };
    Object.defineProperty(m, 'forward', { value: scoped, configurable: true, enumerable: false, writable: true });
    wrapped.push(m);
  }
  try {
    return body();
  } finally {
    for (const m of wrapped) delete (m as { forward?: unknown }).forward;
  }
}
