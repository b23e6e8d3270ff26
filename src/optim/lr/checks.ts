/**
 * Option checks shared by the schedules. Each throws an Error naming the schedule, the option
 * and the offending value, e.g. "StepLR: stepSize must be an integer >= 1, got 0".
 */

/** Renders a value for an error message: numbers as JS prints them (NaN, Infinity), others as JSON. */
export function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
    if (proto !== null && proto !== Object.prototype) return `a ${proto.constructor?.name || 'object'}`;
  }
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function fail(schedule: string, option: string, expected: string, value: unknown): never {
  throw new Error(`${schedule}: ${option} must be ${expected}, got ${show(value)}`);
}

/** Rejects a non-object options argument and unknown keys (a misspelt option would be silently ignored). */
export function checkKeys(schedule: string, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    fail(schedule, 'options', 'an object', options);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new Error(`${schedule}: unknown option '${key}' (known: ${allowed.join(', ')})`);
    }
  }
  return options as Record<string, unknown>;
}

export function integer(schedule: string, option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(schedule, option, `an integer >= ${min}`, value);
  }
  return value;
}

/** Bounds of a real option; `le: Infinity` is the only way to admit an infinite value. */
export interface Bounds {
  gt?: number;
  ge?: number;
  lt?: number;
  le?: number;
}

export function real(schedule: string, option: string, value: unknown, bounds: Bounds = {}): number {
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (Number.isFinite(value) || (value === Infinity && bounds.le === Infinity)) &&
    (bounds.gt === undefined || value > bounds.gt) &&
    (bounds.ge === undefined || value >= bounds.ge) &&
    (bounds.lt === undefined || value < bounds.lt) &&
    (bounds.le === undefined || value <= bounds.le);
  if (!ok) fail(schedule, option, describe(bounds), value);
  return value as number;
}

function describe(bounds: Bounds): string {
  const parts: string[] = [];
  if (bounds.gt !== undefined) parts.push(`> ${bounds.gt}`);
  if (bounds.ge !== undefined) parts.push(`>= ${bounds.ge}`);
  if (bounds.lt !== undefined) parts.push(`< ${bounds.lt}`);
  if (bounds.le !== undefined && bounds.le !== Infinity) parts.push(`<= ${bounds.le}`);
  const finite = bounds.le === Infinity ? 'a number' : 'a finite number';
  return parts.length ? `${finite} ${parts.join(' and ')}` : finite;
}

/** A scalar for every group, or one value per group. */
export function perGroup(
  schedule: string,
  option: string,
  value: unknown,
  groups: number,
  bounds: Bounds = {},
): number[] {
  if (!Array.isArray(value)) return new Array<number>(groups).fill(real(schedule, option, value, bounds));
  if (value.length !== groups) {
    fail(schedule, option, `a number or an array of ${groups} numbers (one per parameter group)`, value);
  }
  return value.map((v, i) => real(schedule, `${option}[${i}]`, v, bounds));
}

export function oneOf<T extends string>(schedule: string, option: string, value: unknown, choices: readonly T[]): T {
  if (!choices.includes(value as T)) fail(schedule, option, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  return value as T;
}

export function boolean(schedule: string, option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail(schedule, option, 'true or false', value);
  return value;
}
