import activations from '../../shaders/activations.wgsl';
import source from '../../shaders/matmul.wgsl';
import { ACTIVATIONS, type Activation, actForward, actGrad } from './activations.js';
import type { BufferView, CpuInvocation, KernelSpec, Launch } from '../backend/kernel.js';
import { withCommon } from './source.js';

/**
 * The largest C block of one workgroup and the K step. Each invocation computes `block` x `block`
 * outputs, so the workgroup is (n / 16) x (m / 16) invocations (overrides `wg_x`, `wg_y`;
 * `tile_k` is the K step), and its two tiles in workgroup memory take 4 * k * (m + n) bytes
 * (8 KiB; the WebGPU minimum limit is 16 KiB).
 */
export const MATMUL_TILE = { m: 64, n: 64, k: 16, block: 16 } as const;

/**
 * Invocations along one axis of C for a side of `size`: a full tile, or a narrower one when the
 * whole side fits in it (a 10-class layer computes a 16-wide tile, not a 64-wide one).
 */
function tileSpan(size: number, tile: number): number {
  let span = 1;
  while (span * MATMUL_TILE.block < Math.min(size, tile)) span *= 2;
  return span;
}

/**
 * C[M,N] = act(gatedOpA(A) · opB(B) + bias), optionally with bias_out[m] = sum_k gatedOpA(A)[m,k];
 * see `shaders/matmul.wgsl` for the full contract. Launch it through `matmulLaunch`.
 *
 * Overrides (u32): `trans_a`, `trans_b` (1: operand stored transposed), `gate_a` (1: multiply A
 * by act_grad(act_gate, gate) on load), `act_gate`, `act` (codes of ACTIVATIONS), `has_bias`,
 * `ones_col` (1: write bias_out), and the tile shape `wg_x`, `wg_y`, `tile_k` (see MATMUL_TILE).
 */
export const matmul: KernelSpec = {
  name: 'matmul',
  wgsl: withCommon(`${activations}\n${source}`),
  entry: 'matmul',
  params: [
    { name: 'm', type: 'u32' },
    { name: 'n', type: 'u32' },
    { name: 'k', type: 'u32' },
    { name: 'alpha', type: 'f32' },
    { name: 'batch_a', type: 'u32' },
    { name: 'batch_b', type: 'u32' },
    { name: 'batch_c', type: 'u32' },
  ],
  bindings: [
    { name: 'a', type: 'f32', access: 'read' },
    { name: 'b', type: 'f32', access: 'read' },
    { name: 'gate', type: 'f32', access: 'read' },
    { name: 'bias', type: 'f32', access: 'read' },
    { name: 'c', type: 'f32', access: 'read_write' },
    { name: 'bias_out', type: 'f32', access: 'read_write' },
  ],
  overrides: {
    trans_a: 0,
    trans_b: 0,
    gate_a: 0,
    act_gate: 0,
    act: 0,
    has_bias: 0,
    ones_col: 0,
    wg_x: MATMUL_TILE.n / MATMUL_TILE.block,
    wg_y: MATMUL_TILE.m / MATMUL_TILE.block,
    tile_k: MATMUL_TILE.k,
  },
  cpu: matmulTwin,
};

export interface MatmulOptions {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A is stored [K, M] instead of [M, K]. */
  readonly transA?: boolean;
  /** B is stored [N, K] instead of [K, N]. */
  readonly transB?: boolean;
  /** Epilogue activation, applied after the bias. Default identity. */
  readonly act?: Activation;
  /** leaky_relu slope, for both `act` and `gate`. Default 0.01 (torch's). */
  readonly alpha?: number;
  /** Multiply A on load by the derivative of this activation, read from the `gate` buffer. */
  readonly gate?: Activation | null;
  /** Add `bias` (length N) before the activation. */
  readonly hasBias?: boolean;
  /** Also write `biasOut` (length M) = the row sums of the gated opA(A). */
  readonly onesCol?: boolean;
  /** Matrices in the batch (default 1), and the element strides between them (0 broadcasts). */
  readonly batch?: number;
  readonly batchStrideA?: number;
  readonly batchStrideB?: number;
  readonly batchStrideC?: number;
}

export interface MatmulBindings {
  readonly a: BufferView;
  readonly b: BufferView;
  readonly c: BufferView;
  readonly gate?: BufferView;
  readonly bias?: BufferView;
  readonly biasOut?: BufferView;
}

/**
 * The launch of one matmul: overrides, params and workgroup grid from the shapes. A buffer the
 * options need but that is missing is an error. Buffers the options leave unused are still bound
 * (to the buffer given, if any, else where WebGPU allows it): an absent `gate` or `bias` aliases
 * `a` (read-only bindings may share a buffer), and an absent `biasOut` gets `dummy`, any small
 * buffer that no other binding of this dispatch uses (a writable binding may share its buffer
 * with no other binding).
 */
export function matmulLaunch(opts: MatmulOptions, bindings: MatmulBindings, dummy: BufferView, label?: string): Launch {
  const { m, n, k } = opts;
  for (const [name, v] of [['m', m], ['n', n], ['k', k]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`matmulLaunch: ${name} must be a positive integer, got ${v}`);
  }
  const gate = opts.gate ?? null;
  const need = (name: string, v: BufferView | undefined, used: boolean, absent: BufferView): BufferView => {
    if (!used) return v ?? absent;
    if (!v) throw new Error(`matmulLaunch${label ? ` (${label})` : ''}: options need a '${name}' buffer`);
    return v;
  };
  const wgX = tileSpan(n, MATMUL_TILE.n);
  const wgY = tileSpan(m, MATMUL_TILE.m);
  const batch = opts.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`matmulLaunch: batch must be a positive integer, got ${batch}`);
  if (batch > 1 && (opts.hasBias || opts.onesCol)) throw new Error('matmulLaunch: a bias or row sums need a batch of 1');
  const workgroups: [number, number, number] = [Math.ceil(n / (wgX * MATMUL_TILE.block)), Math.ceil(m / (wgY * MATMUL_TILE.block)), batch];
  if (workgroups[0] > 65535 || workgroups[1] > 65535 || batch > 65535) throw new Error(`matmulLaunch: ${batch} x ${m}x${n} needs too many workgroups`);
  const strideA = opts.batchStrideA ?? m * k;
  const strideB = opts.batchStrideB ?? k * n;
  const strideC = opts.batchStrideC ?? m * n;
  const span = (stride: number, size: number) => (batch - 1) * stride + size;
  for (const [name, v, need] of [['a', bindings.a, span(strideA, m * k)], ['b', bindings.b, span(strideB, k * n)], ['c', bindings.c, span(strideC, m * n)]] as const) {
    if (v.length < need) throw new Error(`matmulLaunch${label ? ` (${label})` : ''}: '${name}' holds ${v.length} elements, needs ${need}`);
  }
  return {
    kernel: matmul,
    bindings: {
      a: bindings.a,
      b: bindings.b,
      gate: need('gate', bindings.gate, gate !== null, bindings.a),
      bias: need('bias', bindings.bias, opts.hasBias === true, bindings.a),
      c: bindings.c,
      bias_out: need('biasOut', bindings.biasOut, opts.onesCol === true, dummy),
    },
    params: { m, n, k, alpha: opts.alpha ?? 0.01, batch_a: batch > 1 ? strideA : 0, batch_b: batch > 1 ? strideB : 0, batch_c: batch > 1 ? strideC : 0 },
    overrides: {
      trans_a: opts.transA ? 1 : 0,
      trans_b: opts.transB ? 1 : 0,
      gate_a: gate !== null ? 1 : 0,
      act_gate: gate !== null ? ACTIVATIONS[gate] : 0,
      act: ACTIVATIONS[opts.act ?? 'identity'],
      has_bias: opts.hasBias ? 1 : 0,
      ones_col: opts.onesCol ? 1 : 0,
      wg_x: wgX,
      wg_y: wgY,
    },
    workgroups,
    ...(label !== undefined ? { label } : {}),
  };
}

/**
 * Twin of shaders/matmul.wgsl: C = act(gatedOpA(A) · opB(B) + bias) for each matrix of the batch,
 * and with `ones_col` the row sums of gatedOpA(A) into bias_out. The gated A is rounded to f32
 * element by element as the GPU does; sums are accumulated in f64 and rounded once, which stays
 * within the GPU's f32 error.
 */
function matmulTwin({ buffers, params, overrides, workgroups }: CpuInvocation): void {
  const m = params.m!;
  const n = params.n!;
  const k = params.k!;
  const alpha = params.alpha!;
  const transA = overrides.trans_a === 1;
  const gateKind = overrides.gate_a === 1 ? (overrides.act_gate ?? 0) : -1;
  const act = overrides.act ?? 0;
  const aEff = new Float32Array(m * k);
  const bRows = new Float32Array(k * n);
  const row = new Float64Array(n);
  for (let z = 0; z < workgroups[2]; z++) {
    const a0 = z * (params.batch_a ?? 0);
    const b0 = z * (params.batch_b ?? 0);
    const c0 = z * (params.batch_c ?? 0);
    const a = buffers.a!;
    const b = buffers.b!;
    const c = buffers.c!;
    // opA(A) gated, row-major [M, K], and opB(B) row-major [K, N], so that the product below
    // walks both operands contiguously whatever their stored layouts.
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const s = a0 + (transA ? p * m + i : i * k + p);
        aEff[i * k + p] = gateKind >= 0 ? a[s]! * actGrad(gateKind, buffers.gate![s]!, alpha) : a[s]!;
      }
    }
    for (let p = 0; p < k; p++) {
      for (let j = 0; j < n; j++) bRows[p * n + j] = b[b0 + (overrides.trans_b === 1 ? j * k + p : p * n + j)]!;
    }
    for (let i = 0; i < m; i++) {
      row.fill(0);
      let rowSum = 0;
      for (let p = 0; p < k; p++) {
        const av = aEff[i * k + p]!;
        rowSum += av;
        const base = p * n;
        for (let j = 0; j < n; j++) row[j] += av * bRows[base + j]!;
      }
      for (let j = 0; j < n; j++) {
        const v = overrides.has_bias === 1 ? Math.fround(row[j]!) + buffers.bias![j]! : row[j]!;
        c[c0 + i * n + j] = actForward(act, Math.fround(v), alpha);
      }
      if (overrides.ones_col === 1) buffers.bias_out![i] = rowSum;
    }
  }
}
