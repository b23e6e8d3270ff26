import activations from '../../shaders/activations.wgsl';
import source from '../../shaders/map.wgsl';
import type { BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { axisParams, axisValues, MAX_RANK, setAxisValues, withCommon } from './source.js';

/**
 * Pointwise maps over strided views with broadcasting (shaders/map.wgsl): the kernels behind the
 * Tensor API's arithmetic, comparisons, `where` and every copy of a view (transpose, expand,
 * narrow, cat).
 */

/** Codes of `unary(op, v, value, value2)`; s = value, t = value2. */
export const UNARY_OPS = {
  copy: 0,
  neg: 1,
  exp: 2,
  log: 3,
  sqrt: 4,
  rsqrt: 5,
  abs: 6,
  sign: 7,
  /** v + s */
  addScalar: 8,
  /** v · s */
  mulScalar: 9,
  /** s − v */
  rsubScalar: 10,
  /** s / v */
  rdivScalar: 11,
  /** v^s */
  powScalar: 12,
  /** s^v */
  rpowScalar: 13,
  /** min(max(v, s), t) */
  clamp: 14,
  /** 1 where s ≤ v ≤ t, else 0: the gradient mask of clamp. */
  between: 15,
  gtScalar: 16,
  ltScalar: 17,
  geScalar: 18,
  leScalar: 19,
  eqScalar: 20,
  neScalar: 21,
  /** v · σ(v) */
  silu: 22,
  /** d silu / dv */
  siluGrad: 23,
  /** log(1 + e^{s·v}) / s, or v where s·v > t (torch.nn.Softplus(beta=s, threshold=t)) */
  softplus: 24,
  /** d softplus / dv = σ(s·v), or 1 where s·v > t */
  softplusGrad: 25,
  sin: 26,
  cos: 27,
} as const;

/** Codes of `binary(op, u, v, value)`. */
export const BINARY_OPS = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  maximum: 5,
  minimum: 6,
  gt: 7,
  lt: 8,
  ge: 9,
  le: 10,
  eq: 11,
  ne: 12,
  /** u where v = 0, else s (maskedFill) */
  maskedFill: 13,
} as const;

export type UnaryOp = keyof typeof UNARY_OPS;
export type BinaryOp = keyof typeof BINARY_OPS;

export { MAX_RANK };
const WG = 256;
/** Uniform keys of the output (o) and of up to three inputs (a, b, c). */
const OPERAND_KEYS = ['o', 'a', 'b', 'c'] as const;
const params: readonly ParamSpec[] = [
  { name: 'n', type: 'u32' },
  ...axisParams('d'),
  ...OPERAND_KEYS.flatMap((t) => [{ name: `${t}_off`, type: 'u32' as const }, ...axisParams(t)]),
  { name: 'value', type: 'f32' },
  { name: 'value2', type: 'f32' },
];

const wgsl = withCommon(`${activations}\n${source}`);
const out = { name: 'out', type: 'f32', access: 'read_write' } as const;
const read = (name: string) => ({ name, type: 'f32', access: 'read' }) as const;

/** Where the elements of a tensor lie in its buffer binding. */
export interface StridedView {
  readonly view: BufferView;
  readonly strides: readonly number[];
  readonly offset: number;
}

const f32 = Math.fround;

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function power(base: number, p: number): number {
  if (p === 0) return 1;
  if (p === 1) return base;
  if (p === 2) return base * base;
  if (base >= 0 || p !== Math.floor(p)) return base < 0 ? NaN : base ** p;
  const m = (-base) ** p;
  return (p & 1) === 1 ? -m : m;
}

function softplus(v: number, beta: number, threshold: number): number {
  const z = beta * v;
  if (z > threshold) return v;
  return (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)))) / beta;
}

/** The scalar twin of `unary` in shaders/map.wgsl. */
export function unary(code: number, v: number, s: number, t: number): number {
  switch (code) {
    case 1: return -v;
    case 2: return Math.exp(v);
    case 3: return Math.log(v);
    case 4: return Math.sqrt(v);
    case 5: return 1 / Math.sqrt(v);
    case 6: return Math.abs(v);
    case 7: return Math.sign(v);
    case 8: return v + s;
    case 9: return v * s;
    case 10: return s - v;
    case 11: return s / v;
    case 12: return power(v, s);
    case 13: return power(s, v);
    case 14: return Math.min(Math.max(v, s), t);
    case 15: return v >= s && v <= t ? 1 : 0;
    case 16: return v > s ? 1 : 0;
    case 17: return v < s ? 1 : 0;
    case 18: return v >= s ? 1 : 0;
    case 19: return v <= s ? 1 : 0;
    case 20: return v === s ? 1 : 0;
    case 21: return v !== s ? 1 : 0;
    case 22: return v * sigmoid(v);
    case 23: {
      const g = sigmoid(v);
      return g * (1 + v * (1 - g));
    }
    case 24: return softplus(v, s, t);
    case 25: return s * v > t ? 1 : sigmoid(s * v);
    case 26: return Math.sin(v);
    case 27: return Math.cos(v);
    default: return v;
  }
}

/** The scalar twin of `binary` in shaders/map.wgsl. */
export function binary(code: number, u: number, v: number, s: number): number {
  switch (code) {
    case 1: return u - v;
    case 2: return u * v;
    case 3: return u / v;
    case 4: return power(u, v);
    case 5: return Number.isNaN(u) || Number.isNaN(v) ? NaN : Math.max(u, v);
    case 6: return Number.isNaN(u) || Number.isNaN(v) ? NaN : Math.min(u, v);
    case 7: return u > v ? 1 : 0;
    case 8: return u < v ? 1 : 0;
    case 9: return u >= v ? 1 : 0;
    case 10: return u <= v ? 1 : 0;
    case 11: return u === v ? 1 : 0;
    case 12: return u !== v ? 1 : 0;
    case 13: return v !== 0 ? s : u;
    default: return u + v;
  }
}

/** Calls `each(o, a, b, c)` with the element offsets of every output index, in order. */
function walk(p: Readonly<Record<string, number>>, each: (o: number, a: number, b: number, c: number) => void): void {
  const d = axisValues(p, 'd');
  const [so, sa, sb, sc] = OPERAND_KEYS.map((t) => axisValues(p, t));
  const idx = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < p.n!; i++) {
    let o = p.o_off!;
    let a = p.a_off!;
    let b = p.b_off!;
    let c = p.c_off!;
    for (let k = 0; k < MAX_RANK; k++) {
      o += idx[k]! * so[k]!;
      a += idx[k]! * sa[k]!;
      b += idx[k]! * sb[k]!;
      c += idx[k]! * sc[k]!;
    }
    each(o, a, b, c);
    for (let k = MAX_RANK - 1; k >= 0; k--) {
      if (++idx[k]! < d[k]!) break;
      idx[k] = 0;
    }
  }
}

function cpuUnary({ buffers, params: p, overrides }: CpuInvocation): void {
  const { x, out: o } = buffers;
  const code = overrides.op!;
  const s = f32(p.value!);
  const t = f32(p.value2!);
  walk(p, (oi, ai) => {
    o![oi] = unary(code, x![ai]!, s, t);
  });
}

function cpuBinary({ buffers, params: p, overrides }: CpuInvocation): void {
  const { x, y, out: o } = buffers;
  const code = overrides.op!;
  const s = f32(p.value!);
  walk(p, (oi, ai, bi) => {
    o![oi] = binary(code, x![ai]!, y![bi]!, s);
  });
}

function cpuWhere({ buffers, params: p }: CpuInvocation): void {
  const { x, y, cond, out: o } = buffers;
  walk(p, (oi, ai, bi, ci) => {
    o![oi] = cond![ci]! !== 0 ? x![ai]! : y![bi]!;
  });
}

/** The twin of an element-by-element copy from binding `from` to `to`; storing converts i32 to f32. */
function copyTwin(to: string, from: string): KernelSpec['cpu'] {
  return ({ buffers, params: p }) => {
    const [o, x] = [buffers[to]!, buffers[from]!];
    walk(p, (oi, ai) => {
      o[oi] = x[ai]!;
    });
  };
}

export const mapUnary: KernelSpec = {
  name: 'map_unary',
  wgsl,
  entry: 'map_unary',
  params,
  bindings: [out, read('x')],
  overrides: { wg: WG, op: 0 },
  cpu: cpuUnary,
};

export const mapBinary: KernelSpec = {
  name: 'map_binary',
  wgsl,
  entry: 'map_binary',
  params,
  bindings: [out, read('x'), read('y')],
  overrides: { wg: WG, op: 0 },
  cpu: cpuBinary,
};

export const mapWhere: KernelSpec = {
  name: 'map_where',
  wgsl,
  entry: 'map_where',
  params,
  bindings: [out, read('x'), read('y'), read('cond')],
  cpu: cpuWhere,
  overrides: { wg: WG },
};

export const copyI32: KernelSpec = {
  name: 'copy_i32',
  wgsl,
  entry: 'copy_i32',
  params,
  bindings: [
    { name: 'out_i32', type: 'i32', access: 'read_write' },
    { name: 'x_i32', type: 'i32', access: 'read' },
  ],
  overrides: { wg: WG },
  cpu: copyTwin('out_i32', 'x_i32'),
};

export const toF32: KernelSpec = {
  name: 'to_f32',
  wgsl,
  entry: 'to_f32',
  params,
  bindings: [out, { name: 'x_i32', type: 'i32', access: 'read' }],
  overrides: { wg: WG },
  cpu: copyTwin('out', 'x_i32'),
};

/**
 * Strides of `v` read as a tensor of `shape` (the output's), right-aligned as in numpy
 * broadcasting: a missing leading dimension or one of size 1 against a larger one reads with
 * stride 0. Padded to MAX_RANK.
 */
function broadcastStrides(shape: readonly number[], vShape: readonly number[], v: StridedView, label: string): number[] {
  const pad = MAX_RANK - shape.length;
  const out = new Array<number>(MAX_RANK).fill(0);
  for (let d = 0; d < shape.length; d++) {
    const vd = d - (shape.length - vShape.length);
    if (vd < 0) continue;
    const n = vShape[vd]!;
    if (n !== shape[d] && n !== 1) throw new Error(`${label}: cannot broadcast [${vShape.join(', ')}] to [${shape.join(', ')}]`);
    out[pad + d] = n === 1 ? 0 : v.strides[vd]!;
  }
  return out;
}

/** The uniform values of a map over `shape`: its extents, then each operand's offset and strides. */
function layoutParams(shape: readonly number[], operands: readonly MapOperand[], label: string): Record<string, number> {
  if (shape.length > MAX_RANK) throw new Error(`${label}: tensors of rank ${shape.length} exceed the maximum rank ${MAX_RANK}`);
  const p: Record<string, number> = { n: shape.reduce((a, b) => a * b, 1), value: 0, value2: 0 };
  setAxisValues(p, 'd', [...new Array<number>(MAX_RANK - shape.length).fill(1), ...shape]);
  OPERAND_KEYS.forEach((key, i) => {
    const op = operands[i];
    p[`${key}_off`] = op ? op.at.offset : 0;
    setAxisValues(p, key, op ? broadcastStrides(shape, op.shape, op.at, label) : new Array<number>(MAX_RANK).fill(0));
  });
  return p;
}

/** The element count a strided view of `shape` reaches in its binding. */
function extent(shape: readonly number[], v: StridedView): number {
  if (shape.some((n) => n === 0)) return 0;
  return v.offset + shape.reduce((acc, n, d) => acc + (n - 1) * v.strides[d]!, 0) + 1;
}

export interface MapOperand {
  readonly shape: readonly number[];
  readonly at: StridedView;
}

/**
 * A launch of `kernel` over the shape of the output `out`, `[binding, operand]`; the inputs, in
 * the order of the uniform's a, b, c, broadcast to it.
 */
function mapLaunch(
  kernel: KernelSpec,
  out: readonly [string, MapOperand],
  inputs: readonly (readonly [string, MapOperand])[],
  { value = 0, value2 = 0, op }: { value?: number; value2?: number; op?: number },
  label: string | undefined,
): Launch {
  const all = [out, ...inputs];
  const p = layoutParams(out[1].shape, all.map(([, m]) => m), label ?? kernel.name);
  return launch(kernel, {
    bindings: Object.fromEntries(all.map(([name, m]) => [name, m.at.view])),
    params: { ...p, value, value2 },
    ...(op === undefined ? {} : { overrides: { op } }),
    threads: p.n!,
    needs: Object.fromEntries(all.map(([name, m]) => [name, extent(m.shape, m.at)])),
    label,
  });
}

/** out = unary(op)(x) over `out.shape`; x broadcasts to it. */
export function unaryLaunch(op: UnaryOp, x: MapOperand, o: MapOperand, value = 0, value2 = 0, label?: string): Launch {
  return mapLaunch(mapUnary, ['out', o], [['x', x]], { value, value2, op: UNARY_OPS[op] }, label);
}

/** An integer copy of a strided view (token ids, class indices) into `o`. */
export function copyI32Launch(x: MapOperand, o: MapOperand, label?: string): Launch {
  return mapLaunch(copyI32, ['out_i32', o], [['x_i32', x]], {}, label);
}

/** The integer tensor `x` as floats. */
export function toF32Launch(x: MapOperand, o: MapOperand, label?: string): Launch {
  return mapLaunch(toF32, ['out', o], [['x_i32', x]], {}, label);
}

/** out = binary(op)(x, y) over `out.shape`, x and y broadcasting to it. */
export function binaryLaunch(op: BinaryOp, x: MapOperand, y: MapOperand, o: MapOperand, value = 0, label?: string): Launch {
  return mapLaunch(mapBinary, ['out', o], [['x', x], ['y', y]], { value, op: BINARY_OPS[op] }, label);
}

/** out = cond ? x : y over `out.shape`, all three broadcasting to it. */
export function whereLaunch(cond: MapOperand, x: MapOperand, y: MapOperand, o: MapOperand, label?: string): Launch {
  return mapLaunch(mapWhere, ['out', o], [['x', x], ['y', y], ['cond', cond]], {}, label);
}
