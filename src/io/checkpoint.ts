/**
 * Checkpoints: everything a Trainer needs to go on exactly as if it had never stopped, in one
 * safetensors file.
 *
 * ```text
 * <torch names>                 the model's parameters and buffers, as saveSafetensors writes them
 * optimizer.state.<i>.<slot>    the optimizer's state of parameter i (numbered across groups, as
 *                               torch's state_dict numbers them), slot by torch's name (exp_avg,
 *                               exp_avg_sq, momentum_buffer, ...), shaped like the parameter
 * __metadata__
 *   descent.checkpoint          "1", the layout's version
 *   optimizer                   JSON: { name, step, paramGroups (options, params as indices), params (names by index) }
 *   scheduler                   JSON: scheduler.stateDict(), when the trainer has a schedule with state
 *   trainer                     JSON: { step, seed, dataPosition: { epoch, batch } }
 * ```
 *
 * The step count and the seed fix every dropout mask still to come; the data position is where
 * `fit` takes the next batch. So 20 steps, a checkpoint, a fresh trainer, the checkpoint loaded
 * and 20 more steps give the parameters and losses of 40 steps run straight (bit for bit on the
 * CPU backend). The model's part is a plain safetensors state dict: torch loads it after dropping
 * the `optimizer.` keys, and `loadSafetensors(model, bytes, { strict: false })` loads it here.
 */
import type { Parameter } from '../graph/parameter.js';
import type { OptimizerStateDict } from '../optim/optimizer.js';
import type { Trainer } from '../train/trainer.js';
import { checkModelTensors, namedTensors } from './model.js';
import { decodeSafetensors, encodeSafetensors, type TensorToWrite, toFloat32 } from './safetensors.js';

const FORMAT_KEY = 'descent.checkpoint';
const FORMAT_VERSION = '1';
const STATE_PREFIX = 'optimizer.state.';
const RESERVED = [FORMAT_KEY, 'optimizer', 'scheduler', 'trainer'];

export interface SaveCheckpointOptions {
  /** Strings of your own for `__metadata__` (not the reserved keys descent.checkpoint, optimizer, scheduler, trainer). */
  metadata?: Record<string, string>;
}

/** A schedule whose state can be saved: every schedule of `optim.lr`, or one of your own. */
interface StatefulSchedule {
  stateDict(): Record<string, unknown>;
  loadStateDict(state: Record<string, unknown>): void;
}

function statefulSchedule(trainer: Trainer): StatefulSchedule | null {
  const s = trainer.options.scheduler as Partial<StatefulSchedule> | undefined;
  return typeof s?.stateDict === 'function' && typeof s.loadStateDict === 'function' ? (s as StatefulSchedule) : null;
}

/** JSON that refuses what it cannot carry (NaN and infinities would come back as null). */
function toJson(what: string, value: unknown): string {
  return JSON.stringify(value, (key, v) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`saveCheckpoint: ${what}${key ? ` '${key}'` : ''} is ${v}, which JSON cannot hold`);
    return v;
  });
}

/** Parameters in the optimizer's numbering: across groups, in order. */
function optimizerParams(trainer: Trainer): Parameter[] {
  return trainer.options.optimizer.paramGroups.flatMap((g) => g.params);
}

/**
 * The trainer's whole state as one safetensors file: model, optimizer state, schedule, step
 * count, seed and data position (see the layout above). Waits for the steps in flight first.
 *
 * ```ts
 * await trainer.fit(train, { epochs: 5, batchSize: 128, onEpoch: async () => io.saveFile('run.safetensors', await io.saveCheckpoint(trainer)) });
 * ```
 */
export async function saveCheckpoint(trainer: Trainer, { metadata = {} }: SaveCheckpointOptions = {}): Promise<Uint8Array> {
  for (const key of RESERVED) if (key in metadata) throw new Error(`saveCheckpoint: metadata key '${key}' is reserved for the checkpoint itself`);
  await trainer.idle();
  const { model } = trainer;
  const { optimizer } = trainer.options;
  const state = await model.stateDict();
  const shapes = namedTensors(model);
  const tensors: TensorToWrite[] = Object.entries(state).map(([name, data]) => {
    if (name.startsWith(STATE_PREFIX)) throw new Error(`saveCheckpoint: the model's tensor '${name}' clashes with the optimizer's keys ('${STATE_PREFIX}...')`);
    return { name, shape: shapes.get(name)!.shape, data };
  });
  const sd = await optimizer.stateDict();
  const params = optimizerParams(trainer);
  for (const [key, data] of Object.entries(sd.state)) {
    tensors.push({ name: STATE_PREFIX + key, shape: params[Number(key.split('.')[0])]!.shape, data });
  }
  const schedule = statefulSchedule(trainer);
  return encodeSafetensors(tensors, {
    ...metadata,
    [FORMAT_KEY]: FORMAT_VERSION,
    optimizer: toJson('an optimizer option', { name: optimizer.name, step: sd.step, paramGroups: sd.paramGroups, params: params.map((p) => p.name) }),
    ...(schedule ? { scheduler: toJson('the schedule state', schedule.stateDict()) } : {}),
    trainer: toJson('the trainer state', { step: trainer.stepCount, seed: trainer.seed, dataPosition: trainer.dataPosition }),
  });
}

/**
 * Restores a `saveCheckpoint` file into a trainer built like the one that saved it (same model,
 * optimizer and schedule classes and options): parameters, buffers, optimizer state and options,
 * schedule, step count, seed and data position; the next `fit` goes on with the next batch.
 * All or nothing: the file, the model's tensors, the optimizer's and the schedule's state are all
 * checked before the model changes, and nothing changes when any check fails.
 */
export async function loadCheckpoint(trainer: Trainer, bytes: Uint8Array): Promise<void> {
  const fail = (what: string): never => {
    throw new Error(`loadCheckpoint: ${what}. Nothing was loaded.`);
  };
  const file = (() => {
    try {
      return decodeSafetensors(bytes);
    } catch (e) {
      return fail((e as Error).message);
    }
  })();
  const meta = file.metadata;
  if (meta[FORMAT_KEY] === undefined) fail(`the file has no '${FORMAT_KEY}' in its __metadata__, so it is not a checkpoint (load model weights with io.loadSafetensors)`);
  if (meta[FORMAT_KEY] !== FORMAT_VERSION) fail(`checkpoint layout version '${meta[FORMAT_KEY]}' is not the one this version reads ('${FORMAT_VERSION}')`);
  const parse = (key: string): Record<string, unknown> => {
    const text = meta[key];
    if (text === undefined) fail(`the checkpoint has no '${key}' in its __metadata__`);
    try {
      const value: unknown = JSON.parse(text!);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // reported below
    }
    return fail(`__metadata__.${key} is not a JSON object`);
  };

  const modelTensors = new Map([...file.tensors].filter(([name]) => !name.startsWith(STATE_PREFIX)));
  const { values } = checkModelTensors(trainer.model, modelTensors, { strict: true, who: 'loadCheckpoint' });

  const { optimizer } = trainer.options;
  const saved = parse('optimizer');
  if (saved.name !== optimizer.name) fail(`the checkpoint's optimizer is ${String(saved.name)}, the trainer's is ${optimizer.name}`);
  const params = optimizerParams(trainer);
  const names = saved.params;
  if (!Array.isArray(names) || names.length !== params.length) {
    fail(`the checkpoint's optimizer holds ${Array.isArray(names) ? names.length : 'no list of'} parameters, the trainer's holds ${params.length}`);
  }
  params.forEach((p, i) => {
    if ((names as unknown[])[i] !== p.name) fail(`parameter ${i} of the checkpoint's optimizer is '${String((names as unknown[])[i])}', the trainer's is '${p.name}'`);
  });
  const state: Record<string, Float32Array> = {};
  for (const [name, entry] of file.tensors) {
    if (!name.startsWith(STATE_PREFIX)) continue;
    const key = name.slice(STATE_PREFIX.length);
    const p = params[Number(key.split('.')[0])];
    if (!/^\d+\.[^.]+$/.test(key) || !p) fail(`tensor '${name}' names no parameter of the optimizer (expected ${STATE_PREFIX}<0..${params.length - 1}>.<slot>)`);
    if (!['F32', 'F16', 'BF16'].includes(entry.dtype)) fail(`tensor '${name}' has dtype ${entry.dtype}, optimizer state loads from F32, F16 or BF16`);
    if (entry.shape.join() !== p!.shape.join()) fail(`tensor '${name}' has shape [${entry.shape.join(', ')}], parameter '${p!.name}' is [${p!.shape.join(', ')}]`);
    state[key] = toFloat32(entry);
  }
  const optimizerState = { state, paramGroups: saved.paramGroups, step: saved.step } as OptimizerStateDict;

  const position = parse('trainer');
  const count = (what: string, v: unknown, limit = Number.MAX_SAFE_INTEGER): number =>
    Number.isInteger(v) && (v as number) >= 0 && (v as number) <= limit ? (v as number) : fail(`__metadata__.trainer: ${what} must be an integer in [0, ${limit}], got ${JSON.stringify(v)}`);
  const data = (position.dataPosition ?? {}) as Record<string, unknown>;
  const step = count('step', position.step);
  const seed = count('seed', position.seed, 2 ** 32 - 1);
  const dataPosition = { epoch: count('dataPosition.epoch', data.epoch), batch: count('dataPosition.batch', data.batch) };

  const schedule = statefulSchedule(trainer);
  if (schedule && meta.scheduler === undefined) fail("the trainer has a schedule, but the checkpoint holds no 'scheduler' state");
  if (!schedule && meta.scheduler !== undefined) fail('the checkpoint holds a schedule\'s state, but the trainer has no schedule with loadStateDict');
  const scheduleState = schedule ? parse('scheduler') : null;

  // The optimizer and the schedule check their own state as they load it; if the schedule
  // refuses, it and the optimizer get their state back (a schedule of one's own may have
  // changed part of itself before refusing), so a failure still changes nothing.
  await trainer.idle();
  const before = await optimizer.stateDict();
  const scheduleBefore = schedule?.stateDict();
  try {
    optimizer.loadStateDict(optimizerState);
  } catch (e) {
    fail((e as Error).message);
  }
  if (schedule) {
    try {
      schedule.loadStateDict(scheduleState!);
    } catch (e) {
      schedule.loadStateDict(scheduleBefore!);
      optimizer.loadStateDict(before);
      fail((e as Error).message);
    }
  }
  trainer.model.loadStateDict(values, { strict: false });
  trainer.stepCount = step;
  trainer.seed = seed;
  trainer.dataPosition = dataPosition;
}
