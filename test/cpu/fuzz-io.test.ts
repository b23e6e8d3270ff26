/**
 * Fuzzing the safetensors reader, `io.loadSafetensors` and `io.loadCheckpoint` with fast-check:
 * random bytes, and valid files with one corruption each (truncated, extended, a byte of the
 * header length, of the JSON or of the data changed, a field of an entry or of the metadata
 * replaced by any JSON value). Whatever the bytes, a load either succeeds with the file's values
 * or throws a plain Error whose message says what is wrong (never a TypeError or RangeError from
 * deep inside), and a failed load leaves the model, the optimizer, the schedule and the trainer
 * exactly as they were.
 *
 * The runs are seeded (FUZZ_SEED overrides the seed); a failure prints the seed and the path that
 * replays the shrunk case.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { gaussians } from '../../src/data/synthetic.js';
import { createDevice } from '../../src/device.js';
import * as io from '../../src/io/index.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20251201);
const settings = (numRuns: number) => ({ seed: SEED, numRuns, timeout: 10_000 });

/** Cases run per property, printed at the end for the record. */
const counts: Record<string, { runs: number; loaded: number; refused: number }> = {};
function count(property: string, loaded: boolean): void {
  const c = (counts[property] ??= { runs: 0, loaded: 0, refused: 0 });
  c.runs++;
  if (loaded) c.loaded++;
  else c.refused++;
}
afterAll(() => {
  console.log(`fuzz-io (seed ${SEED}):`, JSON.stringify(counts));
});

/** Messages that betray an exception from deep inside rather than a check. */
const DEEP = /Cannot read|Cannot convert|is not a function|is not iterable|is not defined|Invalid array length|Invalid typed array|out of bounds|Maximum call stack|undefined is|null is/;

function expectClearError(e: unknown, prefix: RegExp): void {
  expect(e, 'a load throws Errors only').toBeInstanceOf(Error);
  const error = e as Error;
  expect(error.constructor, `a plain Error, not ${error.constructor.name}: ${error.message}`).toBe(Error);
  expect(error.message).toMatch(prefix);
  expect(error.message).not.toMatch(DEEP);
}

// ---------------------------------------------------------------------------------------------
// Files read and assembled by hand, independently of the decoder under test.

interface Layout {
  headerLength: number;
  header: Record<string, unknown>;
}

function layoutOf(bytes: Uint8Array): Layout {
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { headerLength, header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) };
}

function assemble(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** The slots of a JSON value (object members and array elements), depth first. */
function slots(value: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): typeof out {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      slots(v, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, k]);
      slots(v, out);
    }
  }
  return out;
}

/** `value` with its `n`-th slot (modulo their number) replaced by `by`; `value` itself when it has none. */
function replaceSlot(value: unknown, n: number, by: unknown): unknown {
  const copy = structuredClone(value);
  const all = slots(copy);
  if (all.length === 0) return by;
  const [holder, key] = all[n % all.length]!;
  (holder as Record<string | number, unknown>)[key] = by;
  return copy;
}

/** JSON values a careless or hostile writer might put anywhere, next to fast-check's random JSON. */
const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    'F16', 'BF16', 'I64', 'I32', 'U8', 'BOOL', 'F64', 'f32', '', 'Adam', 'SGD', 'StepLR', '1', '2', 'NaN', 'Infinity', '__proto__',
    null, true, 0, -1, 0.5, 1e300, -0, 2 ** 53, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER,
    [], [0], [4], [4, 3], [3, 4], [4, 3, 1], [-1, 3], [1.5], ['4'], [2 ** 53, 1], [2 ** 26, 2 ** 26],
    [0, 0], [0, 48], [48, 0], [0, 2 ** 60], [0, 1e300], [1, 2, 3], {}, { dtype: 'F32', shape: [], data_offsets: [0, 4] },
  ),
);

const byte = fc.integer({ min: 0, max: 255 });

interface Corruption {
  readonly what: string;
  readonly bytes: Uint8Array;
  /** Only the tensor data changed: the load must succeed. */
  readonly dataOnly: boolean;
}

/** A corruption that fast-check prints by its description rather than its bytes. */
function corrupt(what: string, bytes: Uint8Array, dataOnly = false): Corruption {
  return { what, bytes, dataOnly, [fc.toStringMethod]: () => `${what} (${bytes.length} bytes)` } as Corruption;
}

/** One random corruption of a valid file. */
function corruptions(file: Uint8Array, extra: fc.Arbitrary<Corruption>[] = []): fc.Arbitrary<Corruption> {
  const { headerLength, header } = layoutOf(file);
  const dataStart = 8 + headerLength;
  const data = file.subarray(dataStart);
  const names = Object.keys(header);
  const tensorNames = names.filter((n) => n !== '__metadata__');
  const withByte = (at: number, value: number) => {
    const out = file.slice();
    out[at] = value;
    return out;
  };
  return fc.oneof(
    fc.nat(file.length - 1).map((n) => corrupt(`truncated to ${n} bytes`, file.slice(0, n))),
    fc.uint8Array({ minLength: 1, maxLength: 16 }).map((tail) => {
      const out = new Uint8Array(file.length + tail.length);
      out.set(file);
      out.set(tail, file.length);
      return corrupt(`${tail.length} bytes appended`, out);
    }),
    fc.tuple(fc.integer({ min: 0, max: 7 }), byte).map(([at, v]) => corrupt(`header length byte ${at} = ${v}`, withByte(at, v))),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((n) => {
      const out = file.slice();
      new DataView(out.buffer).setBigUint64(0, n, true);
      return corrupt(`header length = ${n}`, out);
    }),
    fc.tuple(fc.integer({ min: 8, max: dataStart - 1 }), byte).map(([at, v]) => corrupt(`header byte ${at} = ${v}`, withByte(at, v))),
    fc.tuple(fc.integer({ min: 8, max: dataStart - 1 }), fc.integer({ min: 1, max: 40 })).map(([at, n]) => {
      // Bytes cut out of the JSON, with the length field kept consistent.
      const text = file.slice(8, dataStart);
      const json = new Uint8Array([...text.subarray(0, at - 8), ...text.subarray(at - 8 + n)]);
      const out = new Uint8Array(8 + json.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      out.set(data, 8 + json.length);
      return corrupt(`${n} header bytes cut at ${at}`, out);
    }),
    fc.tuple(fc.nat(Math.max(0, data.length - 1)), byte).map(([at, v]) => corrupt(`data byte ${at} = ${v}`, withByte(dataStart + at, v), true)),
    fc.tuple(fc.constantFrom(...tensorNames), fc.constantFrom('dtype', 'shape', 'data_offsets'), nasty).map(([name, field, v]) => {
      const edited = structuredClone(header) as Record<string, Record<string, unknown>>;
      edited[name]![field] = v;
      return corrupt(`${name}.${field} = ${JSON.stringify(v)}`, assemble(edited, data));
    }),
    fc.tuple(fc.constantFrom(...names), nasty).map(([name, v]) => {
      const edited = { ...header, [name]: v };
      return corrupt(`${name} = ${JSON.stringify(v)}`, assemble(edited, data));
    }),
    fc.tuple(fc.nat(), nasty).map(([n, v]) => corrupt(`slot ${n} of the header = ${JSON.stringify(v)}`, assemble(replaceSlot(header, n, v), data))),
    fc.constantFrom(...names).map((name) => {
      const { [name]: _, ...rest } = header;
      return corrupt(`${name} removed`, assemble(rest, data));
    }),
    fc.tuple(fc.string({ maxLength: 12 }), nasty).map(([name, v]) => corrupt(`entry ${JSON.stringify(name)} added`, assemble({ ...header, [name]: v }, data))),
    fc.string({ maxLength: 40 }).map((text) => {
      const json = new TextEncoder().encode(text);
      const out = new Uint8Array(8 + json.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      out.set(data, 8 + json.length);
      return corrupt(`header ${JSON.stringify(text)}`, out);
    }),
    ...extra,
  );
}

/** Random bytes, some behind a plausible header length. */
const randomFiles = fc.oneof(
  fc.uint8Array({ maxLength: 96 }),
  fc.tuple(fc.uint8Array({ maxLength: 64 }), fc.nat(72)).map(([rest, n]) => {
    const out = new Uint8Array(8 + rest.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
    out.set(rest, 8);
    return out;
  }),
  fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.uint8Array({ maxLength: 32 })).map(([header, data]) => assemble(header, data)),
);

// ---------------------------------------------------------------------------------------------
// Models and trainers.

function smallModel(seed: number): nn.Module {
  nn.manualSeed(seed);
  return new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm1d(4), new nn.ReLU(), new nn.Linear(4, 2));
}

const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

async function modelBits(model: nn.Module): Promise<Record<string, number[]>> {
  return Object.fromEntries(Object.entries(await model.stateDict()).map(([k, v]) => [k, bitsOf(v)]));
}

/** A successful strict load: every tensor of the model holds the file's values (F32 compared bit for bit). */
async function expectLoaded(model: nn.Module, bytes: Uint8Array, only?: (name: string) => boolean): Promise<void> {
  const { headerLength, header } = layoutOf(bytes);
  const state = await model.stateDict();
  for (const [name, values] of Object.entries(state)) {
    const entry = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
    expect(entry, `the file holds '${name}'`).toBeDefined();
    if (only && !only(name)) continue;
    if (entry.dtype !== 'F32') continue;
    const [begin, end] = entry.data_offsets;
    const raw = bytes.slice(8 + headerLength + begin, 8 + headerLength + end);
    expect(bitsOf(values), name).toEqual(bitsOf(new Float32Array(raw.buffer)));
  }
}

describe('decodeSafetensors on random bytes', () => {
  it('returns or throws a "safetensors: ..." Error', () => {
    fc.assert(
      fc.property(randomFiles, (bytes) => {
        let ok = true;
        try {
          io.decodeSafetensors(bytes);
        } catch (e) {
          ok = false;
          expectClearError(e, /^safetensors: /);
        }
        count('decodeSafetensors(random bytes)', ok);
      }),
      settings(1500),
    );
  });

  it('on corrupted files: a data byte only changes values; anything else returns consistent tensors or a clear Error', async () => {
    const file = await io.saveSafetensors(smallModel(1), { metadata: { note: 'fuzz' } });
    fc.assert(
      fc.property(corruptions(file), ({ bytes, dataOnly, what }) => {
        let decoded: io.DecodedSafetensors | null = null;
        try {
          decoded = io.decodeSafetensors(bytes);
        } catch (e) {
          expect(dataOnly, `${what} must decode`).toBe(false);
          expectClearError(e, /^safetensors: /);
        }
        if (decoded) {
          // What the decoder returns is sound: each tensor's bytes fit its dtype and shape.
          for (const [name, t] of decoded.tensors) {
            const numel = t.shape.reduce((a, b) => a * b, 1);
            const size = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, F64: 8, U64: 8, U32: 4, I16: 2, U16: 2 }[t.dtype] ?? 1;
            expect(t.bytes.length, name).toBe(numel * size);
          }
        }
        count('decodeSafetensors(corrupted file)', decoded !== null);
      }),
      settings(1500),
    );
  });
});

describe('loadSafetensors: loaded with the file\'s values, or a clear Error and the model untouched', () => {
  it.each([
    ['a bare model', false],
    ['a model held by a trainer (parameters on the device)', true],
  ] as const)('%s', async (_, held) => {
    const file = await io.saveSafetensors(smallModel(1));
    const victim = smallModel(2);
    if (held) {
      const trainer = new Trainer(await createDevice({ backend: 'cpu' }), victim, {
        loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(victim.parameters(), { lr: 0.1 }), inputShape: [3],
      });
      await trainer.predict(new Float32Array([1, 2, 3]));
    }
    const pristine = await io.saveSafetensors(victim);
    const property = fc.asyncProperty(fc.oneof({ weight: 1, arbitrary: randomFiles.map((bytes) => corrupt('random bytes', bytes)) }, { weight: 6, arbitrary: corruptions(file) }), async ({ bytes, dataOnly, what }) => {
      const before = await modelBits(victim);
      let loaded = false;
      try {
        io.loadSafetensors(victim, bytes);
        loaded = true;
      } catch (e) {
        expect(dataOnly, `${what} must load`).toBe(false);
        expectClearError(e, /^loadSafetensors: .*Nothing was loaded\.$/s);
        expect(await modelBits(victim), `${what}: a failed load changes nothing`).toEqual(before);
      }
      if (loaded) {
        await expectLoaded(victim, bytes);
        io.loadSafetensors(victim, pristine);
      }
      count(`loadSafetensors(${held ? 'held' : 'bare'})`, loaded);
    });
    await fc.assert(property, settings(held ? 1000 : 1500));
  });
});

// ---------------------------------------------------------------------------------------------
// Checkpoints.

const data = gaussians({ n: 24, classes: 3, seed: 1 });

type Schedule = 'StepLR' | 'OneCycleLR' | 'SequentialLR' | 'ReduceLROnPlateau' | 'BoldDriver' | 'none';

async function setup(schedule: Schedule, init: number, optimizer: 'Adam' | 'SGD' | 'RMSprop' = 'Adam') {
  nn.manualSeed(init);
  const model = new nn.Sequential(new nn.Linear(2, 4), new nn.BatchNorm1d(4), new nn.ReLU(), new nn.Dropout(0.3), new nn.Linear(4, 3));
  const opt =
    optimizer === 'Adam' ? new optim.Adam(model.parameters(), { lr: 0.02 })
    : optimizer === 'SGD' ? new optim.SGD(model.parameters(), { lr: 0.02, momentum: 0.9 })
    : new optim.RMSprop(model.parameters(), { lr: 0.01, momentum: 0.5, centered: true });
  const lr = optim.lr;
  const scheduler =
    schedule === 'StepLR' ? new lr.StepLR(opt, { stepSize: 3, gamma: 0.7 })
    : schedule === 'OneCycleLR' ? new lr.OneCycleLR(opt, { maxLr: 0.05, totalSteps: 20 })
    : schedule === 'SequentialLR' ? new lr.SequentialLR(opt, { schedulers: [new lr.LinearLR(opt, { totalIters: 2 }), new lr.ExponentialLR(opt, { gamma: 0.9 })], milestones: [2] })
    : schedule === 'ReduceLROnPlateau' ? new lr.ReduceLROnPlateau(opt, { patience: 1 })
    : schedule === 'BoldDriver' ? new lr.BoldDriver(opt)
    : undefined;
  const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, { loss: new nn.CrossEntropyLoss(), optimizer: opt, scheduler, inputShape: [2], seed: init });
  return { model, optimizer: opt, scheduler, trainer };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Everything a load may change, as exact bits. */
async function snapshot({ model, optimizer, scheduler, trainer }: Setup) {
  const sd = await optimizer.stateDict();
  return {
    model: await modelBits(model),
    optimizerState: Object.fromEntries(Object.entries(sd.state).map(([k, v]) => [k, bitsOf(v)])),
    optimizerGroups: JSON.stringify(sd.paramGroups),
    liveGroups: JSON.stringify(optimizer.paramGroups.map(({ params, ...o }) => ({ ...o, params: params.length }))),
    optimizerStep: sd.step,
    scheduler: JSON.stringify(scheduler?.stateDict() ?? null),
    step: trainer.stepCount,
    seed: trainer.seed,
    dataPosition: { ...trainer.dataPosition },
  };
}

/** Corruptions aimed at the checkpoint's JSON metadata: any slot of optimizer, scheduler or trainer replaced. */
function metadataEdits(file: Uint8Array): fc.Arbitrary<Corruption>[] {
  const { headerLength, header } = layoutOf(file);
  const data = file.subarray(8 + headerLength);
  const meta = header.__metadata__ as Record<string, string>;
  const keys = Object.keys(meta);
  const jsonKeys = keys.filter((k) => k !== 'descent.checkpoint');
  const withMeta = (m: Record<string, unknown>) => assemble({ ...header, __metadata__: m }, data);
  return [
    fc.tuple(fc.constantFrom(...jsonKeys), fc.nat(), nasty).map(([key, n, v]) =>
      corrupt(`__metadata__.${key}: slot ${n} = ${JSON.stringify(v)}`, withMeta({ ...meta, [key]: JSON.stringify(replaceSlot(JSON.parse(meta[key]!), n, v)) }))),
    fc.tuple(fc.constantFrom(...keys), fc.oneof(fc.string({ maxLength: 20 }), fc.json({ maxDepth: 2 }), nasty)).map(([key, v]) =>
      corrupt(`__metadata__.${key} = ${JSON.stringify(v)}`, withMeta({ ...meta, [key]: v }))),
    fc.constantFrom(...keys).map((key) => {
      const { [key]: _, ...rest } = meta;
      return corrupt(`__metadata__.${key} removed`, withMeta(rest));
    }),
  ];
}

describe('loadCheckpoint: loaded, or a clear Error and the trainer untouched (never a partial load)', () => {
  const X = Float32Array.from(data.x.slice(0, 16));
  const Y = Int32Array.from(data.y.slice(0, 8));

  it.each([
    ['StepLR', 'Adam', 400],
    ['OneCycleLR', 'Adam', 400],
    ['SequentialLR', 'SGD', 400],
    ['ReduceLROnPlateau', 'RMSprop', 300],
    ['BoldDriver', 'Adam', 300],
    ['none', 'SGD', 300],
  ] as const)('Adam/SGD/RMSprop + %s', async (schedule, optimizer, runs) => {
    const source = await setup(schedule, 3, optimizer);
    await source.trainer.fit(data, { batchSize: 8, seed: 3, maxSteps: 7 });
    const file = await io.saveCheckpoint(source.trainer);

    let victim = await setup(schedule, 5, optimizer);
    await victim.trainer.fit(data, { batchSize: 8, seed: 4, maxSteps: 2 });
    const property = fc.asyncProperty(
      fc.oneof(
        { weight: 1, arbitrary: randomFiles.map((bytes) => corrupt('random bytes', bytes)) },
        { weight: 4, arbitrary: corruptions(file) },
        { weight: 4, arbitrary: fc.oneof(...metadataEdits(file)) },
      ),
      async ({ bytes, dataOnly, what }) => {
        const before = await snapshot(victim);
        let loaded = false;
        try {
          await io.loadCheckpoint(victim.trainer, bytes);
          loaded = true;
        } catch (e) {
          expect(dataOnly, `${what} must load`).toBe(false);
          expectClearError(e, /^loadCheckpoint: .*Nothing was loaded\.$/s);
          expect(await snapshot(victim), `${what}: a failed load changes nothing`).toEqual(before);
        }
        if (loaded) {
          await expectLoaded(victim.model, bytes);
          // The trainer goes on: a step either runs or refuses with a clear Error.
          try {
            await victim.trainer.step(X, Y).record;
          } catch (e) {
            expect(e, `${what}: the step after the load`).toBeInstanceOf(Error);
            expect((e as Error).constructor, `${what}: ${(e as Error).message}`).toBe(Error);
          }
          await victim.trainer.dispose();
          victim = await setup(schedule, 5, optimizer);
        }
        count(`loadCheckpoint(${optimizer} + ${schedule})`, loaded);
      },
    );
    await fc.assert(property, settings(runs));
  });
});
