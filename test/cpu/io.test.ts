/**
 * io: the safetensors format (checked against a reading of the bytes written here, independent of
 * the decoder), torch interop both ways (fixtures from test/fixtures/gen_safetensors.py), loads
 * that are all or nothing for every kind of bad file, and the Node and browser file helpers.
 */
import { resolveObjectURL } from 'node:buffer';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDevice } from '../../src/device.js';
import * as io from '../../src/io/index.js';
import * as nn from '../../src/nn/index.js';
import * as optim from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { buildModel, type FixtureModel } from '../fixtures/safetensors/models.js';
import { expectAllClose } from '../harness.js';

const DIR = new URL('../fixtures/safetensors/', import.meta.url);
const fixtureBytes = (file: string) => new Uint8Array(readFileSync(new URL(file, DIR)));
const fixtureJson = (file: string) => JSON.parse(readFileSync(new URL(file, DIR), 'utf8'));

interface ModelCase {
  name: FixtureModel;
  file: string;
  inputShape: number[];
  batch: number;
  x: number[];
  y: number[];
}

const torchFixture: { models: (ModelCase & { dtype: string; numBatchesTracked: number })[]; special: { file: string; bits: Record<string, number[]> } } =
  fixtureJson('torch.json');
const descentFixture: { models: ModelCase[] } = fixtureJson('descent.json');

/** The header of a file, read here byte by byte rather than through the decoder under test. */
function readHeader(bytes: Uint8Array): { length: number; header: Record<string, any> } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) };
}

/** A file assembled by hand: entries with any dtype and offsets, for the bad files below. */
function rawFile(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

interface RawEntry {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A file assembled from entries of any dtype, laid out back to back. */
function assemble(entries: RawEntry[]): Uint8Array {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [at, at + e.bytes.length] };
    at += e.bytes.length;
  }
  const data = new Uint8Array(at);
  entries.reduce((o, e) => (data.set(e.bytes, o), o + e.bytes.length), 0);
  return rawFile(header, data);
}

/** The entries of a file, read by hand. */
function entriesOf(bytes: Uint8Array): RawEntry[] {
  const { length, header } = readHeader(bytes);
  return Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, v]) => ({ name, dtype: v.dtype, shape: v.shape, bytes: bytes.subarray(8 + length + v.data_offsets[0], 8 + length + v.data_offsets[1]) }));
}

/** A good file with its header edited. */
function editHeader(bytes: Uint8Array, edit: (header: Record<string, any>) => void, data?: Uint8Array): Uint8Array {
  const { length, header } = readHeader(bytes);
  edit(header);
  return rawFile(header, data ?? bytes.subarray(8 + length));
}

async function predictWith(model: nn.Module, c: ModelCase, load: (trainer: Trainer) => void): Promise<Float32Array> {
  const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, {
    loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: c.inputShape,
  });
  const x = Float32Array.from(c.x);
  await trainer.predict(x); // the parameters now live in the trainer's buffers: loading must reach them
  load(trainer);
  return trainer.predict(x);
}

function smallModel(seed: number): nn.Module {
  nn.manualSeed(seed);
  return new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm1d(4), new nn.ReLU(), new nn.Linear(4, 2));
}

async function bits(model: nn.Module): Promise<Record<string, number[]>> {
  const sd = await model.stateDict();
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, Array.from(new Uint32Array(v.buffer, v.byteOffset, v.length))]));
}

describe('saveSafetensors writes the format', () => {
  it('8-byte little-endian header length, data aligned to 8, torch names, shapes and F32, buffers included', async () => {
    const model = smallModel(1);
    const bytes = await io.saveSafetensors(model, { metadata: { epochs: '3', note: 'é' } });
    const { length, header } = readHeader(bytes);
    expect((8 + length) % 8).toBe(0);
    expect(header.__metadata__).toEqual({ epochs: '3', note: 'é' });
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(names).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked', '3.weight', '3.bias']);
    expect(header['0.weight']).toEqual({ dtype: 'F32', shape: [4, 3], data_offsets: [0, 48] });
    expect(header['1.num_batches_tracked']).toEqual({ dtype: 'F32', shape: [], data_offsets: [128, 132] });
    expect(8 + length + header['3.bias'].data_offsets[1]).toBe(bytes.length);
    const sd = await model.stateDict();
    for (const name of names) {
      const [begin, end] = header[name].data_offsets;
      const raw = bytes.slice(8 + length + begin, 8 + length + end);
      expect(new Float32Array(raw.buffer), name).toEqual(sd[name]);
    }
  });

  it('round trip: save, load into a differently initialised model, identical bits', async () => {
    const source = smallModel(1);
    source.loadStateDict({ ...(await source.stateDict()), '1.num_batches_tracked': [7], '1.running_var': [0.5, 2, 3, -0] });
    const target = smallModel(2);
    expect(await bits(target)).not.toEqual(await bits(source));
    const result = io.loadSafetensors(target, await io.saveSafetensors(source, { metadata: { a: 'b' } }));
    expect(await bits(target)).toEqual(await bits(source));
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [], metadata: { a: 'b' } });
  });

  it('reads the values back from the device when a trainer holds the model', async () => {
    const model = smallModel(3);
    const trainer = new Trainer(await createDevice({ backend: 'cpu' }), model, {
      loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.5 }), inputShape: [3],
    });
    const before = await io.saveSafetensors(model);
    await trainer.step(new Float32Array([1, 2, 3, -1, 0, 2]), new Int32Array([0, 1])).record;
    const copy = smallModel(4);
    io.loadSafetensors(copy, await io.saveSafetensors(model));
    expect((await copy.stateDict())['1.num_batches_tracked']).toEqual(new Float32Array([1]));
    expect(await bits(copy)).toEqual(await bits(model));
    expect(await io.saveSafetensors(model)).not.toEqual(before);
  });

  it('refuses metadata that is not strings', async () => {
    await expect(io.saveSafetensors(smallModel(1), { metadata: { n: 3 as unknown as string } })).rejects.toThrow(/__metadata__ must map strings to strings, but 'n' holds 3/);
  });
});

describe('torch → Descent: files written by torch load and give torch\'s outputs', () => {
  it.each(torchFixture.models.map((c) => [`${c.name} ${c.dtype}`, c] as const))('%s', async (_, c) => {
    const model = buildModel(c.name);
    let result: io.LoadSafetensorsResult | null = null;
    const y = await predictWith(model, c, () => {
      result = io.loadSafetensors(model, fixtureBytes(c.file));
    });
    expect(result!.metadata).toEqual({ source: 'torch', model: c.name });
    expect((await model.stateDict())['1.num_batches_tracked']).toEqual(new Float32Array([c.numBatchesTracked]));
    expectAllClose(y, Float32Array.from(c.y), { rtol: 1e-5, atol: 1e-5, label: c.file });
  });

  it('F16, BF16 and I64 convert to float32 as torch converts them, bit for bit (subnormals, infinities, NaN)', () => {
    const { tensors } = io.decodeSafetensors(fixtureBytes(torchFixture.special.file));
    expect([...tensors.keys()]).toEqual(['f16', 'bf16', 'i64']);
    for (const [name, entry] of tensors) {
      const got = io.toFloat32(entry);
      expect(Array.from(new Uint32Array(got.buffer)), name).toEqual(torchFixture.special.bits[name]);
    }
  });
});

describe('Descent → torch: the committed files torch verified', () => {
  it.each(descentFixture.models.map((c) => [c.name, c] as const))('%s: loads back with the outputs torch reproduced, and re-saves to the same bytes', async (_, c) => {
    const committed = fixtureBytes(c.file);
    const model = buildModel(c.name);
    const y = await predictWith(model, c, () => io.loadSafetensors(model, committed));
    expectAllClose(y, Float32Array.from(c.y), { rtol: 1e-6, atol: 1e-6, label: c.file });
    // gen_safetensors.py checked these very bytes in torch; the encoder must still write them.
    expect(await io.saveSafetensors(model, { metadata: { source: 'descent', model: c.name } })).toEqual(committed);
  });
});

describe('loadSafetensors is all or nothing', () => {
  const model = smallModel(1);
  let good: Uint8Array;
  const goodFile = async () => (good ??= await io.saveSafetensors(smallModel(9)));
  const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

  const cases: [string, () => Promise<Uint8Array>, RegExp][] = [
    ['a file shorter than the header length', async () => (await goodFile()).slice(0, 5), /holds 5 bytes, fewer than the 8 of the header length/],
    ['a header length past the end of the file', async () => {
      const bytes = (await goodFile()).slice();
      new DataView(bytes.buffer).setBigUint64(0, 1n << 40n, true);
      return bytes;
    }, /header length is 1099511627776 bytes, but only \d+ follow it/],
    ['a header that is not JSON', async () => {
      const bytes = (await goodFile()).slice();
      bytes[20] = 0x7b; // '{' inside a key: the JSON no longer parses
      bytes[21] = 0x7b;
      return bytes;
    }, /header is not valid JSON/],
    ['a header that is not an object', async () => rawFile([] as unknown as Record<string, unknown>, new Uint8Array()), /header must be a JSON object starting with '\{'/],
    ['an entry without data_offsets', async () => editHeader(await goodFile(), (h) => delete h['0.bias'].data_offsets), /tensor '0.bias': data_offsets must be \[begin, end\]/],
    ['an unknown dtype', async () => editHeader(await goodFile(), (h) => void (h['0.bias'].dtype = 'F9')), /tensor '0.bias': unknown dtype 'F9'/],
    ['a parameter stored as I64', async () => assemble(entriesOf(await goodFile()).map((e) =>
      e.name === '0.bias' ? { ...e, dtype: 'I64', bytes: new Uint8Array(new BigInt64Array([1n, 2n, 3n, 4n]).buffer) } : e,
    )), /tensor '0.bias' has dtype I64, but a parameter loads from F32, F16, BF16/],
    ['a wrong shape', async () => editHeader(await goodFile(), (h) => void (h['0.weight'].shape = [3, 4])), /tensor '0.weight' has shape \[3, 4\], the model expects \[4, 3\]/],
    ['a missing tensor', async () => assemble(entriesOf(await goodFile()).filter((e) => e.name !== '3.bias')), /missing tensor '3.bias' \(the model's \[2\]\)/],
    ['an unexpected tensor', async () => assemble([...entriesOf(await goodFile()), { name: 'head.weight', dtype: 'F32', shape: [1], bytes: f32([1]) }]), /unexpected tensor 'head.weight'/],
    ['a truncated file', async () => (await goodFile()).slice(0, -4), /tensor '3.bias': data_offsets \[\d+, \d+\] run past the end of the data \(\d+ bytes\): the file is truncated/],
    ['offsets out of range', async () => editHeader(await goodFile(), (h) => void (h['1.bias'].data_offsets = [1000, 1016])), /tensor '1.bias': data_offsets \[1000, 1016\] run past the end/],
    ['overlapping offsets', async () => editHeader(await goodFile(), (h) => {
      h['0.bias'].data_offsets = [32, 48];
    }), /tensors '0.weight' and '0.bias' overlap/],
    ['bytes that belong to no tensor', async () => {
      const all = await goodFile();
      const { length } = readHeader(all);
      const data = new Uint8Array(all.length - 8 - length + 4);
      data.set(all.subarray(8 + length));
      return editHeader(all, () => undefined, data);
    }, /bytes \d+ to \d+ at the end of the data belong to no tensor/],
    ['offsets that do not match the dtype and shape', async () => editHeader(await goodFile(), (h) => void (h['0.weight'].shape = [4, 2])), /tensor '0.weight': data_offsets \[0, 48\] hold 48 bytes, but F32 \[4, 2\] takes 32/],
    ['metadata that is not strings', async () => editHeader(await goodFile(), (h) => void (h.__metadata__ = { epochs: 3 })), /__metadata__ must map strings to strings, but 'epochs' holds 3/],
    ['header bytes that are not UTF-8', async () => {
      const bytes = (await goodFile()).slice();
      bytes[12] = 0xff;
      return bytes;
    }, /header is not valid UTF-8/],
  ];

  it.each(cases)('%s: a clear error, the model unchanged', async (_, make, message) => {
    const before = await bits(model);
    const bad = await make();
    expect(() => io.loadSafetensors(model, bad)).toThrow(message);
    expect(() => io.loadSafetensors(model, bad)).toThrow(/Nothing was loaded/);
    expect(await bits(model)).toEqual(before);
  });

  it('has at least eight distinct kinds of bad file', () => {
    expect(new Set(cases.map(([, , m]) => m.source)).size).toBeGreaterThanOrEqual(8);
  });

  it('lists every problem at once', async () => {
    const entries = entriesOf(await goodFile()).filter((e) => e.name !== '0.bias' && e.name !== '3.weight');
    expect(() => io.loadSafetensors(model, assemble([...entries, { name: 'x', dtype: 'F32', shape: [], bytes: f32([0]) }]))).toThrow(
      "loadSafetensors: missing tensor '0.bias' (the model's [4]); missing tensor '3.weight' (the model's [2, 4]); unexpected tensor 'x' (the model has no such parameter or buffer). Nothing was loaded.",
    );
  });

  it('without strict: loads what matches and reports the missing and unexpected tensors', async () => {
    const source = smallModel(5);
    const sd = await source.stateDict();
    const target = smallModel(6);
    const before = await target.stateDict();
    const shapes = new Map([...target.namedParameters(), ...target.namedBuffers()].map(([n, p]) => [n, p.shape]));
    const file = io.encodeSafetensors([
      ...Object.entries(sd).filter(([n]) => !n.startsWith('3.')).map(([name, data]) => ({ name, data, shape: shapes.get(name)! })),
      { name: 'extra', shape: [2], data: new Float32Array([1, 2]) },
    ]);
    expect(() => io.loadSafetensors(target, file)).toThrow(/missing tensor '3.weight'/);
    const result = io.loadSafetensors(target, file, { strict: false });
    expect(result.missingKeys).toEqual(['3.weight', '3.bias']);
    expect(result.unexpectedKeys).toEqual(['extra']);
    const after = await target.stateDict();
    expect(after['0.weight']).toEqual(sd['0.weight']);
    expect(after['3.weight']).toEqual(before['3.weight']);
    // A shape mismatch stays an error without strict.
    const wrong = editHeader(file, (h) => void (h['0.weight'].shape = [3, 4]));
    expect(() => io.loadSafetensors(target, wrong, { strict: false })).toThrow(/'0.weight' has shape \[3, 4\]/);
  });

  it('loads F16 and BF16 into a model, and refuses F64 for a parameter', async () => {
    const one = new nn.Sequential(new nn.Linear(1, 1, { bias: false }));
    const weight = (dtype: string, bytes: number[]) => assemble([{ name: '0.weight', dtype, shape: [1, 1], bytes: new Uint8Array(bytes) }]);
    io.loadSafetensors(one, weight('F16', [0x00, 0x3c]));
    expect((await one.stateDict())['0.weight']).toEqual(new Float32Array([1]));
    io.loadSafetensors(one, weight('BF16', [0x20, 0xc0]));
    expect((await one.stateDict())['0.weight']).toEqual(new Float32Array([-2.5]));
    expect(() => io.loadSafetensors(one, weight('F64', [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]))).toThrow(/'0.weight' has dtype F64, but a parameter loads from F32, F16, BF16/);
    expect((await one.stateDict())['0.weight']).toEqual(new Float32Array([-2.5]));
  });

  it('accepts the empty tensors the format allows', () => {
    const { tensors } = io.decodeSafetensors(rawFile({ e: { dtype: 'F32', shape: [0, 3], data_offsets: [0, 0] }, a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32([2])));
    expect(io.toFloat32(tensors.get('e')!)).toEqual(new Float32Array(0));
    expect(io.toFloat32(tensors.get('a')!)).toEqual(new Float32Array([2]));
  });
});

describe('files in Node', () => {
  it('saveFile and readFile round-trip bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'descent-io-'));
    try {
      const bytes = await io.saveSafetensors(smallModel(1));
      await io.saveFile(join(dir, 'm.safetensors'), bytes);
      const back = await io.readFile(join(dir, 'm.safetensors'));
      expect(back).toBeInstanceOf(Uint8Array);
      expect(back).toEqual(bytes);
      await expect(io.readFile(join(dir, 'missing.safetensors'))).rejects.toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('files in the browser (DOM and OPFS stand-ins)', () => {
  afterEach(() => void vi.unstubAllGlobals());

  /** A document whose elements record what is done to them. */
  function fakeDocument() {
    const made: Record<string, any>[] = [];
    const document = {
      body: { append: (el: any) => void (el.appended = true) },
      createElement: (tag: string) => {
        const listeners: Record<string, () => void> = {};
        const el: Record<string, any> = {
          tag, style: {}, clicks: 0,
          addEventListener: (type: string, fn: () => void) => void (listeners[type] = fn),
          fire: (type: string) => listeners[type]?.(),
          click: () => void el.clicks++,
          remove: () => void (el.removed = true),
        };
        made.push(el);
        return el;
      },
    };
    return { document, made };
  }

  it('download clicks a link to a blob of the bytes, named as asked', async () => {
    const { document, made } = fakeDocument();
    vi.stubGlobal('document', document);
    const bytes = new Uint8Array([1, 2, 3, 250]);
    io.download(bytes, 'model.safetensors');
    const a = made[0]!;
    expect([a.tag, a.download, a.clicks, a.appended, a.removed]).toEqual(['a', 'model.safetensors', 1, true, true]);
    // The URL is revoked on the next turn, once the browser has started the download.
    expect(new Uint8Array(await resolveObjectURL(a.href)!.arrayBuffer())).toEqual(bytes);
    await new Promise((r) => setTimeout(r, 0));
    expect(resolveObjectURL(a.href)).toBeUndefined();
  });

  it('openFile resolves with the chosen file\'s bytes and rejects when cancelled', async () => {
    const { document, made } = fakeDocument();
    vi.stubGlobal('document', document);
    const chosen = io.openFile();
    const input = made[0]!;
    expect([input.tag, input.type, input.accept, input.clicks]).toEqual(['input', 'file', '.safetensors', 1]);
    input.files = [new Blob([new Uint8Array([9, 8, 7])])];
    input.fire('change');
    expect(await chosen).toEqual(new Uint8Array([9, 8, 7]));
    const cancelled = io.openFile({ accept: '.bin' });
    made[1]!.fire('cancel');
    await expect(cancelled).rejects.toThrow(/file picker was cancelled/);
  });

  it('saveToOpfs and loadFromOpfs keep a file in the origin private file system', async () => {
    const files = new Map<string, Uint8Array>();
    const root = {
      getFileHandle: async (name: string, options?: { create?: boolean }) => {
        if (!files.has(name) && !options?.create) throw Object.assign(new Error('not found'), { name: 'NotFoundError' });
        if (!files.has(name)) files.set(name, new Uint8Array());
        return {
          createWritable: async () => {
            const parts: Uint8Array[] = [];
            return { write: async (b: Uint8Array) => void parts.push(b.slice()), close: async () => void files.set(name, parts[0] ?? new Uint8Array()) };
          },
          getFile: async () => new Blob([files.get(name)! as Uint8Array<ArrayBuffer>]),
        };
      },
    };
    vi.stubGlobal('navigator', { storage: { getDirectory: async () => root } });
    const bytes = await io.saveSafetensors(smallModel(2));
    await io.saveToOpfs('run.safetensors', bytes);
    expect(await io.loadFromOpfs('run.safetensors')).toEqual(bytes);
    await expect(io.loadFromOpfs('other.safetensors')).rejects.toThrow(/no file 'other.safetensors' in the origin private file system \(NotFoundError\)/);
  });

  it('say what is missing outside a browser', async () => {
    vi.stubGlobal('navigator', {});
    expect(() => io.download(new Uint8Array(1), 'x')).toThrow(/io.download: needs a page/);
    await expect(io.openFile()).rejects.toThrow(/io.openFile: needs a page/);
    await expect(io.saveToOpfs('x', new Uint8Array(1))).rejects.toThrow(/no origin private file system/);
  });
});
