import type { Tensor } from '../graph/tensor.js';
import type { Parameter } from './parameter.js';

/**
 * A layer or a composition of layers. `forward` traces the computation on symbolic tensors once
 * per input shape; the trainer compiles what it traced. Parameter names follow torch
 * (`0.weight`, `2.fn.0.bias`), so state dicts move between Descent and torch.nn.
 */
export abstract class Module {
  training = true;

  abstract forward(x: Tensor): Tensor;

  /** Child modules with their names. */
  children(): [string, Module][] {
    return [];
  }

  /** Parameters held directly by this module. */
  ownParameters(): [string, Parameter][] {
    return [];
  }

  /** Human-readable description, as torch prints modules: `Linear(784, 256)`. */
  describe(): string {
    return this.constructor.name;
  }

  /** Traces `forward` with the child's name in the graph's labels, so errors name the layer. */
  call(name: string, x: Tensor): Tensor {
    return x.graph.scope(name, () => this.forward(x));
  }

  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = this.ownParameters().map(([n, p]) => [prefix + n, p]);
    for (const [name, child] of this.children()) out.push(...child.namedParameters(`${prefix}${name}.`));
    for (const [name, p] of out) p.name ||= name;
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Training mode (dropout active) for this module and its children. */
  train(mode = true): this {
    this.training = mode;
    for (const [, child] of this.children()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameter values by torch name, read from the device when a trainer holds them. */
  async stateDict(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const [name, p] of this.namedParameters()) out[name] = await p.read();
    return out;
  }

  /**
   * Loads values by torch name and layout. All-or-nothing: every name and length is checked
   * before anything is written. With `strict` (default), missing and unexpected keys are errors.
   */
  loadStateDict(state: Record<string, ArrayLike<number>>, { strict = true } = {}): void {
    const named = this.namedParameters();
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
