import { mulberry32, type Random } from '../data/random.js';

/**
 * Parameter initialisation (torch.nn.init). Every draw comes from one module generator:
 * `manualSeed` makes model construction reproducible, as torch.manual_seed does; otherwise each
 * process starts from a random seed. The `..._` initialisers fill a parameter in place through
 * `write`, so a parameter already held by a trainer changes on the device too, and return it.
 */
let generator: Random = mulberry32((Math.random() * 2 ** 32) >>> 0);

export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new Error(`manualSeed: seed must be an integer, got ${seed}`);
  generator = mulberry32(seed >>> 0);
}

/** Uniform in [0, 1). */
export function random(): number {
  return generator();
}

/** n values uniform in [−bound, bound). */
export function uniform(n: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * bound;
  return out;
}

/** n standard normal values, by the Box–Muller transform of pairs of uniform draws. */
export function normal(n: number, mean = 0, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // 1 − u lies in (0, 1], so the logarithm stays finite.
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    out[i] = mean + std * radius * Math.cos(angle);
    if (i + 1 < n) out[i + 1] = mean + std * radius * Math.sin(angle);
  }
  return out;
}

/** What the initialisers need of a parameter: its shape and a way to replace its values. */
export interface Initialisable {
  readonly shape: readonly number[];
  readonly name?: string;
  write(values: Float32Array): void;
}

function describe(fn: string, p: Initialisable): string {
  return `nn.init.${fn}(${p.name ? `'${p.name}' ` : ''}[${p.shape.join(', ')}])`;
}

function count(p: Initialisable): number {
  return p.shape.reduce((a, b) => a * b, 1);
}

function finite(fn: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`nn.init.${fn}: ${what} must be a finite number, got ${v}`);
  return v;
}

export type Nonlinearity =
  | 'linear'
  | 'conv1d'
  | 'conv2d'
  | 'conv3d'
  | 'conv_transpose1d'
  | 'conv_transpose2d'
  | 'conv_transpose3d'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'leaky_relu'
  | 'selu';

/**
 * The recommended gain for a nonlinearity (torch.nn.init.calculate_gain): 1 for linear,
 * convolutions and sigmoid; 5/3 for tanh; √2 for relu; √(2 / (1 + slope²)) for leaky_relu (slope
 * `param`, default 0.01); 3/4 for selu.
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'conv_transpose1d':
    case 'conv_transpose2d':
    case 'conv_transpose3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope)) throw new Error(`nn.init.calculateGain: negative slope ${param} is not a valid number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`nn.init.calculateGain: unsupported nonlinearity ${JSON.stringify(nonlinearity)}`);
  }
}

/**
 * torch.nn.init._calculate_fan_in_and_fan_out: for a weight [out, in, k1, k2, ...] (Linear
 * [out, in], Conv2d [out, in / groups, kh, kw]) fanIn = in · k1 · k2 · ... and fanOut =
 * out · k1 · k2 · ....
 */
export function calculateFanInAndFanOut(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new Error(`nn.init: fan in and fan out cannot be computed for a tensor of fewer than 2 dimensions, got [${shape.join(', ')}]`);
  }
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

export type FanMode = 'fanIn' | 'fanOut';

/** Fills p with values uniform in [a, b). */
export function uniform_<P extends Initialisable>(p: P, a = 0, b = 1): P {
  finite('uniform_', 'a', a);
  finite('uniform_', 'b', b);
  if (a > b) throw new Error(`${describe('uniform_', p)}: needs a <= b, got a = ${a}, b = ${b}`);
  const out = new Float32Array(count(p));
  for (let i = 0; i < out.length; i++) out[i] = a + (b - a) * random();
  p.write(out);
  return p;
}

/** Fills p with values drawn from N(mean, std²). */
export function normal_<P extends Initialisable>(p: P, mean = 0, std = 1): P {
  finite('normal_', 'mean', mean);
  finite('normal_', 'std', std);
  if (std < 0) throw new Error(`${describe('normal_', p)}: needs std >= 0, got ${std}`);
  p.write(normal(count(p), mean, std));
  return p;
}

/** Fills p with `value`. */
export function constant_<P extends Initialisable>(p: P, value: number): P {
  if (typeof value !== 'number') throw new Error(`${describe('constant_', p)}: value must be a number, got ${value}`);
  p.write(new Float32Array(count(p)).fill(value));
  return p;
}

export function zeros_<P extends Initialisable>(p: P): P {
  return constant_(p, 0);
}

export function ones_<P extends Initialisable>(p: P): P {
  return constant_(p, 1);
}

/** Glorot & Bengio (2010): U(−a, a) with a = gain · √(6 / (fanIn + fanOut)). */
export function xavierUniform_<P extends Initialisable>(p: P, gain = 1): P {
  finite('xavierUniform_', 'gain', gain);
  const { fanIn, fanOut } = calculateFanInAndFanOut(p.shape);
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  const a = Math.sqrt(3) * std;
  return uniform_(p, -a, a);
}

/** Glorot & Bengio (2010): N(0, std²) with std = gain · √(2 / (fanIn + fanOut)). */
export function xavierNormal_<P extends Initialisable>(p: P, gain = 1): P {
  finite('xavierNormal_', 'gain', gain);
  const { fanIn, fanOut } = calculateFanInAndFanOut(p.shape);
  return normal_(p, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

export interface KaimingOptions {
  /** The negative slope of the leaky_relu that follows (used only with 'leaky_relu'). Default 0. */
  readonly a?: number;
  /** 'fanIn' keeps the forward pass's variance, 'fanOut' the backward pass's. Default 'fanIn'. */
  readonly mode?: FanMode;
  /** Default 'leaky_relu' (with a = 0, relu's gain √2), as torch. */
  readonly nonlinearity?: Nonlinearity;
}

function kaimingStd(fn: string, p: Initialisable, { a = 0, mode = 'fanIn', nonlinearity = 'leaky_relu' }: KaimingOptions): number {
  finite(fn, 'a', a);
  if (mode !== 'fanIn' && mode !== 'fanOut') throw new Error(`nn.init.${fn}: mode must be 'fanIn' or 'fanOut', got ${JSON.stringify(mode)}`);
  const { fanIn, fanOut } = calculateFanInAndFanOut(p.shape);
  const gain = calculateGain(nonlinearity, a);
  // A tensor with no element has a zero fan; torch leaves it as it is, and so does writing nothing.
  return count(p) === 0 ? 0 : gain / Math.sqrt(mode === 'fanIn' ? fanIn : fanOut);
}

/** He et al. (2015): U(−bound, bound) with bound = gain · √(3 / fan). */
export function kaimingUniform_<P extends Initialisable>(p: P, options: KaimingOptions = {}): P {
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform_', p, options);
  return uniform_(p, -bound, bound);
}

/** He et al. (2015): N(0, std²) with std = gain / √fan. */
export function kaimingNormal_<P extends Initialisable>(p: P, options: KaimingOptions = {}): P {
  return normal_(p, 0, kaimingStd('kaimingNormal_', p, options));
}
