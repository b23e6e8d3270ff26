import { add } from '../graph/ops/arith.js';
import { flatten } from '../graph/ops/shape.js';
import type { Tensor } from '../graph/tensor.js';
import { Module } from './module.js';

/** Applies modules in order; parameters are named by position (`0.weight`), as in torch. */
export class Sequential extends Module {
  readonly layers: readonly Module[];
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module)) throw new Error(`Sequential: argument ${i} is not a Module`);
    });
    this.layers = layers;
  }
  override children(): [string, Module][] {
    return this.layers.map((m, i) => [String(i), m]);
  }
  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, m) => m.forward(h), x);
  }
}

/** y = x + fn(x): a skip connection around `fn` (parameters named `fn.*`). */
export class Residual extends Module {
  constructor(readonly fn: Module) {
    super();
  }
  override children(): [string, Module][] {
    return [['fn', this.fn]];
  }
  forward(x: Tensor): Tensor {
    const y = this.fn.forward(x);
    return x.graph.scope('Residual', () => add(x, y));
  }
}

/** torch.nn.Flatten: dims startDim..endDim merged (default: all after the batch). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
    for (const [name, v] of [['startDim', startDim], ['endDim', endDim]] as const) {
      if (!Number.isInteger(v)) throw new Error(`Flatten: ${name} must be an integer, got ${v}`);
    }
  }
  forward(x: Tensor): Tensor {
    return x.graph.scope('Flatten', () => flatten(x, this.startDim, this.endDim));
  }
}

/**
 * Holds modules in a list, registered as `0`, `1`, ... (torch.nn.ModuleList). It has no forward
 * of its own: the module that holds it calls its entries.
 */
export class ModuleList extends Module {
  private readonly items: Module[] = [];
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  append(module: Module): this {
    if (!(module instanceof Module)) throw new Error(`ModuleList: entry ${this.items.length} is not a Module`);
    this.items.push(module);
    return this;
  }
  get length(): number {
    return this.items.length;
  }
  at(index: number): Module {
    const m = this.items.at(index);
    if (!m) throw new Error(`ModuleList: index ${index} is out of range for ${this.items.length} modules`);
    return m;
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.items[Symbol.iterator]();
  }
  override children(): [string, Module][] {
    return this.items.map((m, i) => [String(i), m]);
  }
  forward(): Tensor {
    throw new Error('ModuleList has no forward: call its modules from the module that holds it');
  }
}

/** Holds modules by name, in insertion order (torch.nn.ModuleDict). */
export class ModuleDict extends Module {
  private readonly items = new Map<string, Module>();
  constructor(modules: Record<string, Module> = {}) {
    super();
    for (const [k, m] of Object.entries(modules)) this.set(k, m);
  }
  set(key: string, module: Module): this {
    if (!(module instanceof Module)) throw new Error(`ModuleDict: entry '${key}' is not a Module`);
    if (key === '' || key.includes('.')) throw new Error(`ModuleDict: key '${key}' must be non-empty and contain no '.'`);
    this.items.set(key, module);
    return this;
  }
  get(key: string): Module {
    const m = this.items.get(key);
    if (!m) throw new Error(`ModuleDict: no module '${key}' (keys: ${[...this.items.keys()].join(', ')})`);
    return m;
  }
  has(key: string): boolean {
    return this.items.has(key);
  }
  keys(): string[] {
    return [...this.items.keys()];
  }
  override children(): [string, Module][] {
    return [...this.items.entries()];
  }
  forward(): Tensor {
    throw new Error('ModuleDict has no forward: call its modules from the module that holds it');
  }
}
