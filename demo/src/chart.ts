/** A small line chart on a canvas: axes with a few ticks, several series, an optional log scale. */

export interface Series {
  readonly label: string;
  /** y values at x = 0, 1, 2, … (or at `x` when given); non-finite values leave a gap. */
  readonly values: ArrayLike<number>;
  readonly x?: ArrayLike<number>;
  readonly color: string;
  readonly width?: number;
  readonly dash?: number[];
  /** Draw a dot at each point (for short series such as one value per epoch). */
  readonly dots?: boolean;
}

export interface ChartOptions {
  /** The x axis runs from 0 to xMax, so a planned run is drawn at its full length from the start. */
  readonly xMax: number;
  readonly xLabel: string;
  readonly log?: boolean;
  /** Fixed y range; otherwise it fits the data. */
  readonly yMin?: number;
  readonly yMax?: number;
  /** Format of the tick labels on the y axis. */
  readonly format?: (v: number) => string;
}

const MARGIN = { left: 56, right: 12, top: 22, bottom: 28 };
const AXIS = '#8a8f98';
const GRID = '#e6e8eb';

export function formatNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** The canvas's backing store at the device pixel ratio, so lines stay sharp; returns CSS size. */
function prepare(canvas: HTMLCanvasElement): { ctx: CanvasRenderingContext2D; width: number; height: number } {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

/** Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi], about four of them. */
export function niceTicks(lo: number, hi: number, count = 4): number[] {
  const raw = (hi - lo) / count;
  if (!(raw > 0)) return [lo];
  const power = 10 ** Math.floor(Math.log10(raw));
  const steps = [1, 2, 5, 10].map((m) => m * power);
  const step = steps.reduce((best, s) => (Math.abs(Math.log(s / raw)) < Math.abs(Math.log(best / raw)) ? s : best));
  const [first, last] = [Math.ceil(lo / step - 1e-9), Math.floor(hi / step + 1e-9)];
  // A range far narrower than its values (equal up to rounding) has no round ticks inside.
  if (!(last - first >= 0 && last - first <= 4 * count)) return [lo, hi];
  return Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toPrecision(12)));
}

/**
 * Powers of ten inside [lo, hi], with the 2× and 5× multiples when the range spans few decades;
 * within about one decade, plain round values.
 */
function logTicks(lo: number, hi: number): number[] {
  const first = Math.floor(Math.log10(lo));
  const last = Math.ceil(Math.log10(hi));
  if (hi / lo < 12) return niceTicks(lo, hi);
  const multiples = last - first <= 2 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = first; e <= last; e++) {
    for (const m of multiples) {
      const v = m * 10 ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(Number(v.toPrecision(6)));
    }
  }
  return ticks.length >= 2 ? ticks : [lo, hi];
}

function yRange(series: readonly Series[], options: ChartOptions): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i]!;
      if (!Number.isFinite(v) || (options.log && v <= 0)) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  lo = options.yMin ?? lo;
  hi = options.yMax ?? hi;
  if (!(lo <= hi)) return options.log ? [0.1, 10] : [0, 1];
  // Equal up to rounding (a smoothed curve's first point and the raw one, say): widen around it.
  if (hi - lo <= 1e-9 * Math.max(Math.abs(lo), Math.abs(hi))) hi = lo;
  if (lo === hi) return options.log ? [lo / 2, hi * 2] : [lo - 0.5 * Math.abs(lo || 1), hi + 0.5 * Math.abs(hi || 1)];
  // A little room above and below the data, so that lines do not run along the frame.
  if (options.log) {
    const pad = (hi / lo) ** 0.05;
    return [options.yMin ?? lo / pad, options.yMax ?? hi * pad];
  }
  const pad = 0.05 * (hi - lo);
  return [options.yMin ?? lo - pad, options.yMax ?? hi + pad];
}

export function drawChart(canvas: HTMLCanvasElement, series: readonly Series[], options: ChartOptions): void {
  const { ctx, width, height } = prepare(canvas);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const [lo, hi] = yRange(series, options);
  const t = options.log ? Math.log10 : (v: number) => v;
  const [tLo, tHi] = [t(lo), t(hi)];
  const xMax = options.xMax > 0 ? options.xMax : 1;
  const px = (x: number) => MARGIN.left + (x / xMax) * plotW;
  const py = (y: number) => MARGIN.top + (1 - (t(y) - tLo) / (tHi - tLo)) * plotH;
  const format = options.format ?? formatNumber;

  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  ctx.textBaseline = 'middle';
  for (const y of options.log ? logTicks(lo, hi) : niceTicks(lo, hi)) {
    const yy = py(y);
    ctx.strokeStyle = GRID;
    ctx.beginPath();
    ctx.moveTo(MARGIN.left, yy);
    ctx.lineTo(MARGIN.left + plotW, yy);
    ctx.stroke();
    ctx.fillStyle = AXIS;
    ctx.textAlign = 'right';
    ctx.fillText(format(y), MARGIN.left - 6, yy);
  }
  ctx.textBaseline = 'top';
  ctx.textAlign = 'center';
  for (const x of niceTicks(0, xMax)) ctx.fillText(formatNumber(x), px(x), MARGIN.top + plotH + 6);
  ctx.textAlign = 'right';
  ctx.fillText(options.xLabel, MARGIN.left + plotW, MARGIN.top + plotH + 16);
  ctx.strokeStyle = AXIS;
  ctx.strokeRect(MARGIN.left, MARGIN.top, plotW, plotH);

  ctx.save();
  ctx.beginPath();
  ctx.rect(MARGIN.left, MARGIN.top, plotW, plotH);
  ctx.clip();
  for (const s of series) drawSeries(ctx, s, px, py, options.log ?? false);
  ctx.restore();
  drawLegend(ctx, series, MARGIN.left + plotW);
}

function drawSeries(
  ctx: CanvasRenderingContext2D, s: Series, px: (x: number) => number, py: (y: number) => number, log: boolean,
): void {
  ctx.strokeStyle = s.color;
  ctx.fillStyle = s.color;
  ctx.lineWidth = s.width ?? 1.5;
  ctx.setLineDash(s.dash ?? []);
  ctx.beginPath();
  let open = false;
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i]!;
    if (!Number.isFinite(v) || (log && v <= 0)) {
      open = false;
      continue;
    }
    const [x, y] = [px(s.x ? s.x[i]! : i), py(v)];
    if (open) ctx.lineTo(x, y);
    else ctx.moveTo(x, y);
    open = true;
  }
  ctx.stroke();
  ctx.setLineDash([]);
  if (!s.dots) return;
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i]!;
    if (!Number.isFinite(v)) continue;
    ctx.beginPath();
    ctx.arc(px(s.x ? s.x[i]! : i), py(v), 3, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function drawLegend(ctx: CanvasRenderingContext2D, series: readonly Series[], right: number): void {
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  let x = right;
  for (const s of [...series].reverse()) {
    ctx.fillStyle = '#3b3f45';
    ctx.fillText(s.label, x, 10);
    x -= ctx.measureText(s.label).width + 6;
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.setLineDash(s.dash ?? []);
    ctx.beginPath();
    ctx.moveTo(x - 16, 10);
    ctx.lineTo(x, 10);
    ctx.stroke();
    ctx.setLineDash([]);
    x -= 28;
  }
}
