/**
 * A trainable tensor. `data` holds the host value used to initialise a trainer; once a trainer
 * owns the parameter, the live value is on the device and `read()` fetches it.
 */
export class Parameter {
  /** Set by the trainer that holds this parameter's live value on a device. */
  store: ParameterStore | null = null;

  constructor(
    public data: Float32Array,
    readonly shape: readonly number[],
    public name = '',
  ) {
    const numel = shape.reduce((a, b) => a * b, 1);
    if (data.length !== numel) {
      throw new Error(`parameter '${name}': ${data.length} values for shape [${shape.join(', ')}] (${numel} expected)`);
    }
  }

  get numel(): number {
    return this.data.length;
  }

  /** The current value: from the device when a trainer holds it, else the host copy. */
  async read(): Promise<Float32Array> {
    return this.store ? this.store.read() : this.data.slice();
  }

  /** Replaces the value, on the device too when a trainer holds it. */
  write(values: Float32Array): void {
    if (values.length !== this.numel) {
      throw new Error(`parameter '${this.name}': got ${values.length} values, shape [${this.shape.join(', ')}] holds ${this.numel}`);
    }
    this.data = values.slice();
    this.store?.write(this.data);
  }
}

export interface ParameterStore {
  read(): Promise<Float32Array>;
  write(values: Float32Array): void;
}

/**
 * A tensor of model state that is not trained, as torch's registered buffers (BatchNorm's
 * `running_mean`, `running_var`, `num_batches_tracked`): saved in state dicts beside the
 * parameters, never handed to an optimizer. Kernels may update it in place during a training
 * step (through `Graph.effect`); `read()` then fetches the live value from the device.
 */
export class ModuleBuffer extends Parameter {
  readonly isBuffer = true;
}
