/**
 * The optimizer base class: parameter groups with torch-like options, their validation, and the
 * optimizer state (torch names such as `exp_avg`), which lives on the host until an update plan
 * moves it to a device (see update-plan.ts). Subclasses describe their rule: its update kernel,
 * state slots, shader variants and the per-step scalars written by name before each step.
 */
import type { Backend } from '../backend/backend.js';
import type { DeviceBuffer } from '../backend/kernel.js';
import { alignUp, VIEW_ALIGN } from '../backend/kernel.js';
import { Parameter } from '../graph/parameter.js';
import type { UpdateKernel } from '../kernels/optim.js';

/** Options a parameter group may set; each optimizer adds its own. */
export interface ParamGroupOptions {
  lr?: number;
  weightDecay?: number;
  /** Coefficient of l1 * sum|w| added to the loss (overrides the update plan's default). */
  l1?: number;
  /** Coefficient of l2/2 * sum w^2 added to the loss (overrides the update plan's default). */
  l2?: number;
  [k: string]: unknown;
}

/** A group as the optimizer holds it: its parameters and every option resolved. */
export interface ParamGroup {
  params: Parameter[];
  lr: number;
  [k: string]: unknown;
}

export type ParamGroupInput<O extends ParamGroupOptions = ParamGroupOptions> = { params: Parameter[] } & O;

/** What optimizers accept, as torch: a list of parameters, or a list of groups with options. */
export type ParamsInput<O extends ParamGroupOptions = ParamGroupOptions> = Parameter[] | ParamGroupInput<O>[];

/**
 * `state` is keyed `"<param index>.<slot>"` (for example `"0.exp_avg"`), parameters numbered
 * across groups in order as torch does; `paramGroups` holds each group's options with `params`
 * as those indices; `step` counts the optimizer steps taken.
 */
export interface OptimizerStateDict {
  state: Record<string, Float32Array>;
  paramGroups: object[];
  step: number;
}

/** The kernel of a group's update and its boolean variants, as override values 0 or 1. */
export interface GroupUpdate {
  readonly kernel: UpdateKernel;
  readonly overrides: Readonly<Record<string, number>>;
}

/** Where a group's parameters sit in its flat range: each at a 64-aligned offset, in order. */
export function groupLayout(params: readonly Parameter[]): { offsets: number[]; length: number } {
  const offsets: number[] = [];
  let end = 0;
  for (const p of params) {
    offsets.push(alignUp(end, VIEW_ALIGN));
    end = offsets[offsets.length - 1]! + p.numel;
  }
  return { offsets, length: alignUp(end, VIEW_ALIGN) };
}

/** Device copies of an optimizer's state: per group, its slots back to back in one buffer. */
export interface DeviceState {
  readonly backend: Backend;
  readonly buffers: readonly DeviceBuffer[];
  /** The slots of each group's buffer, in order; slot s of group g starts at s * strides[g]. */
  readonly slots: readonly (readonly string[])[];
  readonly strides: readonly number[];
  /** Set when the buffers were freed or replaced; plans that bound them must be made again. */
  released: boolean;
}

/** One group's state on the host: each slot over the group's whole flat range. */
type GroupState = Record<string, Float32Array>;

/** What an option must be; 'betas' is a pair [beta1, beta2], each in [0, 1). */
export type OptionRule = '>= 0' | '> 0' | 'in [0, 1)' | 'in [0, 1]' | 'finite' | 'boolean' | 'betas';

type Rule = Exclude<OptionRule, 'betas'>;

function satisfies(value: unknown, rule: Rule): boolean {
  if (rule === 'boolean') return typeof value === 'boolean';
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (rule === '>= 0') return value >= 0;
  if (rule === '> 0') return value > 0;
  if (rule === 'in [0, 1)') return value >= 0 && value < 1;
  if (rule === 'in [0, 1]') return value >= 0 && value <= 1;
  return true;
}

/** Any value as text for an error message; never throws (symbols, objects without a prototype). */
function format(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(format).join(', ')}]`;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export abstract class Optimizer {
  /** Torch-like groups; schedulers set `paramGroups[i].lr` between steps. */
  readonly paramGroups: ParamGroup[];
  readonly defaults: Readonly<Record<string, unknown>>;
  /** Optimizer steps taken (torch's `state['step']`); an update plan's `beforeStep` adds one. */
  stepCount = 0;
  private hostState: GroupState[];
  private device: DeviceState | null = null;
  private readonly rules: Readonly<Record<string, OptionRule>>;

  /**
   * `defaults` lists every option of the optimizer with its default (undefined: required);
   * `options` are the caller's defaults for all groups; `rules` says what each option of a group
   * must be, checked in order after lr, l1 and l2 (then `validateGroup` checks what spans options).
   */
  protected constructor(
    readonly name: string,
    params: ParamsInput,
    defaults: Record<string, unknown>,
    options: ParamGroupOptions,
    rules: Readonly<Record<string, OptionRule>> = {},
  ) {
    this.rules = rules;
    const known = new Set([...Object.keys(defaults), 'l1', 'l2']);
    const checkKeys = (o: object, where: string): void => {
      for (const k of Object.keys(o)) {
        if (k !== 'params' && !known.has(k)) throw new Error(`${name}: unknown option '${k}'${where}`);
      }
    };
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new Error(`${name}: options must be an object such as { lr: 0.01 }, got ${format(options)}`);
    }
    checkKeys(options, '');
    this.defaults = { ...defaults, ...definedOnly(options) };
    if (!Array.isArray(params) || params.length === 0) throw new Error(`${name}: got an empty parameter list`);
    const inputs: ParamGroupInput[] = params[0] instanceof Parameter ? [{ params: params as Parameter[] }] : (params as ParamGroupInput[]);
    const seen = new Set<Parameter>();
    this.paramGroups = inputs.map((input, i) => {
      const where = inputs.length > 1 ? ` in param group ${i}` : '';
      if (!input || !Array.isArray(input.params)) throw new Error(`${name}: param group ${i} has no 'params' list`);
      checkKeys(input, where);
      for (const p of input.params) {
        if (!(p instanceof Parameter)) throw new Error(`${name}: param group ${i} holds something that is not a Parameter`);
        if (seen.has(p)) throw new Error(`${name}: parameter '${p.name}' appears more than once`);
        seen.add(p);
      }
      if (input.params.length === 0) throw new Error(`${name}: param group ${i} is empty`);
      return { ...copyOptions(this.defaults), ...copyOptions(definedOnly(input)), params: [...input.params] } as ParamGroup;
    });
    this.paramGroups.forEach((g, i) => this.validate(g, i));
    this.hostState = this.paramGroups.map((g) => this.initialState(g));
  }

  /** Names of the per-element state slots of a group, in storage order (torch's names). */
  abstract stateSlots(group: ParamGroup): readonly string[];

  /** The fused update of this optimizer (its WGSL file and twin, made by `updateKernel`). */
  protected abstract readonly kernel: UpdateKernel;

  /**
   * The group's per-step scalars for step `t` (1-based), by the names of its kernel's `hyper`
   * (the shader's `struct Hyper`); computed in float64, rounded once to f32 when written.
   */
  abstract hyper(group: ParamGroup, t: number): Readonly<Record<string, number>>;

  /**
   * The group's shader variants beyond `maximize`, by the name of the override constant each
   * sets (for example `{ nesterov: true }`).
   */
  protected variants(_group: ParamGroup): Readonly<Record<string, boolean>> {
    return {};
  }

  /** The group's update kernel and its override values: `maximize` and `variants(group)`. */
  update(group: ParamGroup): GroupUpdate {
    const flags: Record<string, boolean> = { maximize: group.maximize === true, ...this.variants(group) };
    return { kernel: this.kernel, overrides: Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, Number(v)])) };
  }

  /**
   * Which compiled kernel a group needs, as text: its name and override values. An update plan
   * compares it before every step, so that an option changed since planning that needs another
   * kernel (amsgrad, nesterov...) is an error rather than silently ignored.
   */
  variantKey(group: ParamGroup): string {
    const { kernel, overrides } = this.update(group);
    return `${kernel.name}(${Object.entries(overrides).map(([k, v]) => `${k}=${v}`).join(', ')})`;
  }

  /** Checks what the option rules cannot, such as a rule over two options; after the rules. */
  protected validateGroup(_group: ParamGroup, _index: number): void {}

  /** Initial value of a state slot (Adagrad starts its sum at initialAccumulatorValue). */
  protected initialValue(_group: ParamGroup, _slot: string): number {
    return 0;
  }

  /** Throws `<Name>: invalid <key>: <value> (must be <rule>)` when the option breaks the rule. */
  protected expect(group: ParamGroup, index: number, key: string, rule: Rule): void {
    if (satisfies(group[key], rule)) return;
    const where = this.paramGroups.length > 1 ? ` in param group ${index}` : '';
    if (group[key] === undefined) throw new Error(`${this.name}: ${key} is required${where} (it has no default)`);
    throw new Error(`${this.name}: invalid ${key}${where}: ${format(group[key])} (must be ${rule === 'boolean' ? 'a boolean' : rule})`);
  }

  /** Checks a `[beta1, beta2]` pair, each in [0, 1). */
  protected expectBetas(group: ParamGroup, index: number, key = 'betas'): void {
    const betas = group[key];
    const where = this.paramGroups.length > 1 ? ` in param group ${index}` : '';
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new Error(`${this.name}: invalid ${key}${where}: ${format(betas)} (must be a pair [beta1, beta2])`);
    }
    betas.forEach((b, k) => {
      if (!satisfies(b, 'in [0, 1)')) throw new Error(`${this.name}: invalid ${key}[${k}]${where}: ${format(b)} (must be in [0, 1))`);
    });
  }

  private validate(group: ParamGroup, index: number): void {
    this.expect(group, index, 'lr', '>= 0');
    if (group.l1 !== undefined) this.expect(group, index, 'l1', '>= 0');
    if (group.l2 !== undefined) this.expect(group, index, 'l2', '>= 0');
    for (const [key, rule] of Object.entries(this.rules)) {
      if (rule === 'betas') this.expectBetas(group, index, key);
      else this.expect(group, index, key, rule);
    }
    this.validateGroup(group, index);
  }

  private initialState(group: ParamGroup): GroupState {
    const stride = stateStride(group);
    return Object.fromEntries(this.stateSlots(group).map((slot) => [slot, new Float32Array(stride).fill(this.initialValue(group, slot))]));
  }

  /**
   * The state on `backend`, uploaded on the first call. Update plans bind these buffers; a plan
   * made later on the same backend shares them, so training continues where it stopped.
   */
  deviceState(backend: Backend): DeviceState {
    const device = this.device;
    if (!device) return (this.device = this.upload(backend, this.hostState));
    if (device.backend !== backend) {
      throw new Error(`${this.name}: the optimizer state lives on another device; await optimizer.detach() before planning on this one`);
    }
    this.paramGroups.forEach((group, g) => {
      const slots = this.stateSlots(group);
      if (slots.join() !== device.slots[g]!.join()) {
        throw new Error(
          `${this.name}: param group ${g} now keeps state [${slots.join(', ')}] but its device state holds ` +
            `[${device.slots[g]!.join(', ')}]; await optimizer.detach() and plan the update again`,
        );
      }
    });
    return device;
  }

  private upload(backend: Backend, state: readonly GroupState[]): DeviceState {
    const slots = this.paramGroups.map((group) => this.stateSlots(group));
    const strides = this.paramGroups.map(stateStride);
    const buffers = this.paramGroups.map((group, g) => {
      const packed = this.pack(group, state[g]!);
      const buffer = backend.createBuffer(packed.byteLength, `${this.name}/state/${g}`);
      backend.write(buffer, packed);
      return buffer;
    });
    return { backend, buffers, slots, strides, released: false };
  }

  /** A group's slots back to back, as its device buffer holds them (at least one slot long). */
  private pack(group: ParamGroup, state: GroupState): Float32Array {
    const slots = this.stateSlots(group);
    const stride = stateStride(group);
    const packed = new Float32Array(Math.max(1, slots.length) * stride);
    slots.forEach((slot, s) => {
      if (state[slot]) packed.set(state[slot], s * stride);
      else packed.fill(this.initialValue(group, slot), s * stride, (s + 1) * stride);
    });
    return packed;
  }

  /**
   * Brings the state back from the device and frees its buffers; plans using them stop working.
   * When the device cannot be read (lost, destroyed), the buffers are freed all the same and the
   * optimizer keeps the state it had on the host before (its last `loadStateDict`, or fresh).
   * Resolves to whether the device state was read.
   */
  async detach(): Promise<boolean> {
    const device = this.device;
    if (!device) return true;
    let read = true;
    try {
      this.hostState = await this.readDevice(device);
    } catch {
      read = false;
    }
    this.release(device);
    this.device = null;
    return read;
  }

  /**
   * Drops the device state without reading it (its device was lost) and takes as state `packed`,
   * one array per group as its device buffer held it (slot s at s * stride), and `step` as the
   * step count. Used by a Trainer resuming from its snapshot on a new device.
   */
  restorePacked(packed: readonly Float32Array[], step: number): void {
    if (packed.length !== this.paramGroups.length) throw new Error(`${this.name}: a snapshot of ${packed.length} groups for ${this.paramGroups.length}`);
    this.discardDeviceState();
    this.hostState = this.paramGroups.map((group, g) => {
      const stride = stateStride(group);
      return Object.fromEntries(this.stateSlots(group).map((slot, s) => [slot, packed[g]!.slice(s * stride, (s + 1) * stride)]));
    });
    this.stepCount = step;
  }

  /**
   * Frees the device state without reading it back: the optimizer keeps the state it had on the
   * host. For a device state just uploaded (a trainer that failed to start), or a lost device.
   */
  discardDeviceState(): void {
    if (this.device) this.release(this.device);
    this.device = null;
  }

  private release(device: DeviceState): void {
    device.released = true;
    for (const b of device.buffers) device.backend.destroyBuffer(b);
  }

  private async readDevice(device: DeviceState): Promise<GroupState[]> {
    return Promise.all(
      device.buffers.map(async (buffer, g) => {
        const data = new Float32Array(await device.backend.read(buffer));
        const stride = device.strides[g]!;
        return Object.fromEntries(device.slots[g]!.map((slot, s) => [slot, data.slice(s * stride, (s + 1) * stride)]));
      }),
    );
  }

  /** Reads the state (from the device when a plan moved it there), torch-style. */
  async stateDict(): Promise<OptimizerStateDict> {
    const groupsState = this.device ? await this.readDevice(this.device) : this.hostState;
    const state: Record<string, Float32Array> = {};
    let index = 0;
    const paramGroups = this.paramGroups.map((group, g) => {
      const { offsets } = groupLayout(group.params);
      const indices = group.params.map((p, j) => {
        for (const [slot, values] of Object.entries(groupsState[g]!)) {
          state[`${index}.${slot}`] = values.slice(offsets[j], offsets[j]! + p.numel);
        }
        return index++;
      });
      const { params: _params, ...options } = group;
      return { ...copyOptions(options), params: indices };
    });
    return { state, paramGroups, step: this.stepCount };
  }

  /**
   * Restores options, state and step count. All-or-nothing: every check runs before anything
   * changes. `state` must hold every slot of every parameter, or be empty to reset the state.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const fail: (what: string) => never = (what) => {
      throw new Error(`${this.name}.loadStateDict: ${what}`);
    };
    if (!sd || typeof sd !== 'object') fail('expected { state, paramGroups, step }');
    if (!Number.isInteger(sd.step) || sd.step < 0) fail(`step must be a non-negative integer, got ${format(sd.step)}`);
    if (!Array.isArray(sd.paramGroups) || sd.paramGroups.length !== this.paramGroups.length) {
      fail(`${Array.isArray(sd.paramGroups) ? sd.paramGroups.length : 'no'} param groups, the optimizer has ${this.paramGroups.length}`);
    }
    const groups = this.paramGroups.map((group, i) => {
      const saved = sd.paramGroups[i] as Record<string, unknown>;
      const params = saved?.params;
      if (!Array.isArray(params) || params.length !== group.params.length) {
        fail(`param group ${i} holds ${Array.isArray(params) ? params.length : 'no'} parameters, the optimizer's holds ${group.params.length}`);
      }
      const { params: _params, ...options } = saved;
      return { ...group, ...copyOptions(options), params: group.params } as ParamGroup;
    });
    groups.forEach((g, i) => this.validate(g, i));
    const state = groups.map((g) => this.initialState(g));
    const entries = sd.state ?? {};
    if (Object.keys(entries).length > 0) {
      const expected = new Set<string>();
      let index = 0;
      groups.forEach((group, g) => {
        const { offsets } = groupLayout(group.params);
        group.params.forEach((p, j) => {
          for (const slot of this.stateSlots(group)) {
            const key = `${index}.${slot}`;
            expected.add(key);
            const values = entries[key];
            if (!values) fail(`state has no entry '${key}'`);
            if (values.length !== p.numel) fail(`state '${key}' has ${values.length} values, parameter '${p.name}' has ${p.numel}`);
            state[g]![slot]!.set(values, offsets[j]);
          }
          index++;
        });
      });
      for (const key of Object.keys(entries)) if (!expected.has(key)) fail(`unexpected state entry '${key}'`);
    }
    this.paramGroups.forEach((group, i) => Object.assign(group, groups[i]));
    this.stepCount = sd.step;
    this.hostState = state;
    const device = this.device;
    if (!device) return;
    if (this.paramGroups.every((group, g) => this.stateSlots(group).join() === device.slots[g]!.join())) {
      this.paramGroups.forEach((group, g) => device.backend.write(device.buffers[g]!, this.pack(group, state[g]!)));
    } else {
      this.release(device);
      this.device = this.upload(device.backend, state);
    }
  }
}

function stateStride(group: ParamGroup): number {
  return Math.max(VIEW_ALIGN, groupLayout(group.params).length);
}

/** A copy that does not share arrays (betas) with the source. */
function copyOptions(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]));
}

function definedOnly(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'params'));
}
