/**
 * A model's parameters and buffers as a safetensors file, under torch's state-dict names and in
 * torch's layouts (Linear weight [out, in], Conv2d weight [out, in, kh, kw], ...), so that
 * `safetensors.torch.load_file` + `load_state_dict` takes what Descent writes, and back.
 */
import type { Parameter } from '../graph/parameter.js';
import { ModuleBuffer } from '../graph/parameter.js';
import type { Module } from '../nn/module.js';
import { decodeSafetensors, encodeSafetensors, type TensorEntry, toFloat32 } from './safetensors.js';

export interface SaveSafetensorsOptions {
  /** Strings stored in the file's `__metadata__` (a training recipe, a version, ...). */
  metadata?: Record<string, string>;
}

export interface LoadSafetensorsOptions {
  /** Missing and unexpected tensors are errors (default true); otherwise they are reported. */
  strict?: boolean;
}

export interface LoadSafetensorsResult {
  /** The model's tensors the file lacks (only without `strict`). */
  readonly missingKeys: string[];
  /** The file's tensors the model lacks (only without `strict`). */
  readonly unexpectedKeys: string[];
  readonly metadata: Readonly<Record<string, string>>;
}

/** Dtypes a parameter loads from; module buffers (num_batches_tracked is torch's int64) also take I64 and I32. */
const PARAMETER_DTYPES = ['F32', 'F16', 'BF16'];
const BUFFER_DTYPES = [...PARAMETER_DTYPES, 'I64', 'I32'];

/** The model's parameters and buffers by torch state-dict name. */
export function namedTensors(model: Module): Map<string, Parameter> {
  return new Map<string, Parameter>([...model.namedParameters(), ...model.namedBuffers()]);
}

/**
 * The model's parameters and buffers as a safetensors file: float32, torch names and shapes
 * (BatchNorm's `num_batches_tracked` as a float32 of shape [], which torch's `load_state_dict`
 * copies into its int64 counter). Values are read from the device when a trainer holds them.
 *
 * ```ts
 * const bytes = await io.saveSafetensors(model, { metadata: { epochs: '10' } });
 * await io.saveFile('model.safetensors', bytes);   // or io.download(bytes, 'model.safetensors')
 * ```
 */
export async function saveSafetensors(model: Module, { metadata = {} }: SaveSafetensorsOptions = {}): Promise<Uint8Array> {
  const state = await model.stateDict();
  const tensors = namedTensors(model);
  return encodeSafetensors(
    Object.entries(state).map(([name, data]) => ({ name, shape: tensors.get(name)!.shape, data })),
    metadata,
  );
}

/**
 * Checks the file's tensors against the model and returns the values to write, converted to
 * float32; writes nothing. Every problem is listed in one error: missing and unexpected tensors
 * (with `strict`), shapes and dtypes, each naming the tensor and what the model expects.
 */
export function checkModelTensors(
  model: Module,
  tensors: ReadonlyMap<string, TensorEntry>,
  { strict, who }: { strict: boolean; who: string },
): { values: Record<string, Float32Array>; missingKeys: string[]; unexpectedKeys: string[] } {
  const named = namedTensors(model);
  const problems: string[] = [];
  const missingKeys: string[] = [];
  const accepted: [string, TensorEntry][] = [];
  for (const [name, p] of named) {
    const entry = tensors.get(name);
    const expected = `[${p.shape.join(', ')}]`;
    if (!entry) {
      missingKeys.push(name);
      if (strict) problems.push(`missing tensor '${name}' (the model's ${expected})`);
      continue;
    }
    const dtypes = p instanceof ModuleBuffer ? BUFFER_DTYPES : PARAMETER_DTYPES;
    const kind = p instanceof ModuleBuffer ? 'buffer' : 'parameter';
    const problem =
      (!dtypes.includes(entry.dtype) && `tensor '${name}' has dtype ${entry.dtype}, but a ${kind} loads from ${dtypes.join(', ')}`) ||
      (entry.shape.join() !== p.shape.join() && `tensor '${name}' has shape [${entry.shape.join(', ')}], the model expects ${expected}`);
    if (problem) problems.push(problem);
    else accepted.push([name, entry]);
  }
  const unexpectedKeys = [...tensors.keys()].filter((k) => !named.has(k));
  if (strict) for (const k of unexpectedKeys) problems.push(`unexpected tensor '${k}' (the model has no such parameter or buffer)`);
  if (problems.length > 0) throw new Error(`${who}: ${problems.join('; ')}. Nothing was loaded.`);
  const values = Object.fromEntries(accepted.map(([name, entry]) => [name, toFloat32(entry)]));
  return { values, missingKeys, unexpectedKeys };
}

/**
 * Loads a safetensors file into the model (on the device too, when a trainer holds it), all or
 * nothing: the file's header, offsets and dtypes, and the names and shapes against the model, are
 * all checked before any value is written; on any error the model is left untouched. F32, F16 and
 * BF16 load (converted to float32 exactly); buffers also take torch's int64 counters.
 *
 * ```ts
 * io.loadSafetensors(model, await io.readFile('model.safetensors'));
 * const { missingKeys } = io.loadSafetensors(backbone, bytes, { strict: false });
 * ```
 */
export function loadSafetensors(model: Module, bytes: Uint8Array, { strict = true }: LoadSafetensorsOptions = {}): LoadSafetensorsResult {
  let file;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    throw new Error(`loadSafetensors: ${(e as Error).message}. Nothing was loaded.`);
  }
  const { values, missingKeys, unexpectedKeys } = checkModelTensors(model, file.tensors, { strict, who: 'loadSafetensors' });
  model.loadStateDict(values, { strict: false });
  return { missingKeys, unexpectedKeys, metadata: file.metadata };
}
